import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wwnForHost } from '../util/wwn.js';

/** The node's initiators, as NodeGetInfo puts them into the node_id. */
export interface Initiators {
  iqns: string[];
  wwpns: string[];
}

/**
 * Reads the node's iSCSI initiator name (/etc/iscsi/initiatorname.iscsi, "InitiatorName=<iqn>")
 * and FC HBA port names (/sys/class/fc_host/host*\/port_name, "0x<16 hex>") under `hostRoot`.
 * Missing files mean no initiator of that kind (a node without open-iscsi or HBAs).
 */
export async function readInitiators(hostRoot: string): Promise<Initiators> {
  const iqns: string[] = [];
  const text = await readOptional(join(hostRoot, 'etc/iscsi/initiatorname.iscsi'));
  for (const line of (text ?? '').split('\n')) {
    const m = /^\s*InitiatorName\s*=\s*(\S+)\s*$/.exec(line);
    if (m) {
      iqns.push(m[1]!);
      break;
    }
  }
  const wwpns: string[] = [];
  const fcDir = join(hostRoot, 'sys/class/fc_host');
  let hosts: string[] = [];
  try {
    hosts = (await readdir(fcDir)).sort();
  } catch {
    hosts = [];
  }
  for (const h of hosts) {
    const read = await readOptional(join(fcDir, h, 'port_name'));
    const raw = read === undefined ? undefined : wwnForHost(read);
    if (raw && /^[0-9a-f]{16}$/.test(raw) && !wwpns.includes(raw)) wwpns.push(raw);
  }
  return { iqns, wwpns };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
