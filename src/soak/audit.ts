/**
 * The soak's audit of the simulated array and the node: what should exist exists exactly once,
 * what was deleted is gone, and nothing else is left (VLUNs, hosts, VV sets, tombstones,
 * temporary snapshots, running tasks, mounts, loop devices, node state records).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseVolumeMarker } from '../array/marker.js';
import { isCopySourceName, isTombstoneName } from '../array/names.js';
import type { SimArray } from '../simulator/index.js';
import type { Ledger } from './lifecycle.js';
import { loopsUnder, mountsUnder } from './node-fs.js';

/** copyType of a virtual copy (a snapshot), REFERENCE §5.1. */
const VIRTUAL_COPY = 3;
/** Task status ACTIVE. */
const TASK_ACTIVE = 2;
const MiB = 1024 * 1024;

export interface AuditScope {
  array: SimArray;
  ledger: Ledger;
  /** Node plugin's kubelet directory, the simulator's data directory (node-side leftovers). */
  kubeletDir: string;
  dataDir: string;
  driverName: string;
}

export interface AuditResult {
  leaked: string[];
  lost: string[];
  anomalies: string[];
  /**
   * What issue 16 watches for (each also appears in `leaked`): snapshots without this driver's
   * marker or with its helper mark (HelperMarker) (the array's helper snapshots of an online copy, or a
   * foreign snapshot), soft-deleted
   * volumes still on the array, and hosts that export nothing.
   */
  counts: { helperSnapshots: number; tombstones: number; emptyHosts: number };
}

/** Audits now; call when nothing is published and no operation runs. */
export function audit(s: AuditScope): AuditResult {
  const out: AuditResult = {
    leaked: [],
    lost: [],
    anomalies: [],
    counts: { helperSnapshots: 0, tombstones: 0, emptyHosts: 0 },
  };
  const a = s.array;
  const byName = new Map<string, { name: string; snapshot: boolean; sizeMiB: number }[]>();
  for (const v of a.volumes) {
    const marker = parseVolumeMarker(v.comment);
    if (isTombstoneName(v.name)) {
      out.counts.tombstones++;
      out.leaked.push(`tombstone ${v.name} (soft-deleted volume ${marker?.n ?? '?'}) is still on the array`);
      continue;
    }
    if (!marker?.n) {
      // An online copy's helper: unmarked (the helper mark is no VolumeMarker), or its mark's first form (`h`).
      if (
        v.copyType === VIRTUAL_COPY &&
        (marker?.d !== s.driverName || marker.h !== undefined || isCopySourceName(v.name))
      )
        out.counts.helperSnapshots++;
      out.leaked.push(`volume ${v.name} carries no marker with a CSI name`);
      continue;
    }
    const list = byName.get(marker.n) ?? [];
    list.push({ name: v.name, snapshot: v.copyType === VIRTUAL_COPY, sizeMiB: v.sizeMiB });
    byName.set(marker.n, list);
  }
  const expect = (csiName: string, snapshot: boolean, minBytes: number): void => {
    const found = (byName.get(csiName) ?? []).filter((x) => x.snapshot === snapshot);
    const what = snapshot ? 'snapshot' : 'volume';
    if (found.length === 0) out.lost.push(`${what} ${csiName} should exist and is gone`);
    if (found.length > 1)
      out.leaked.push(`${what} ${csiName} exists ${found.length} times (${found.map((f) => f.name).join(', ')})`);
    for (const f of found)
      if (f.sizeMiB * MiB < minBytes)
        out.anomalies.push(`${what} ${csiName} is ${f.sizeMiB} MiB, expected at least ${minBytes / MiB} MiB`);
    byName.delete(csiName);
  };
  for (const [name, v] of s.ledger.volumes) expect(name, false, v.minBytes);
  for (const name of s.ledger.snapshots.keys()) expect(name, true, 0);
  for (const [name, list] of byName) {
    const how = s.ledger.deleted.has(name)
      ? 'was deleted but is still on the array'
      : 'is on the array but the soak never kept it';
    for (const v of list) out.leaked.push(`${v.snapshot ? 'snapshot' : 'volume'} ${name} (${v.name}) ${how}`);
  }
  for (const v of a.vluns) {
    const vol = a.volumes.find((x) => x.id === v.volumeId);
    const host = a.hosts.find((h) => h.id === v.hostId);
    out.leaked.push(
      `VLUN lun ${v.lun} of volume ${vol ? `${vol.name} (${parseVolumeMarker(vol.comment)?.n ?? 'no marker'})` : `set id ${v.volumeSetId}`} to host ${host?.name ?? '-'}`,
    );
  }
  for (const h of a.hosts) {
    const empty = !a.vluns.some((l) => l.hostId === h.id);
    if (empty) out.counts.emptyHosts++;
    out.leaked.push(`host ${h.name}${empty ? ' (exports nothing)' : ''}`);
  }
  for (const vs of a.volumeSets) out.leaked.push(`VV set ${vs.name}`);
  for (const t of a.tasks) if (t.status === TASK_ACTIVE) out.leaked.push(`running task ${t.id} (${t.kind} ${t.name})`);
  for (const m of mountsUnder(s.kubeletDir)) out.leaked.push(`mount ${m}`);
  for (const l of loopsUnder(s.dataDir)) out.leaked.push(`loop device /dev/${l}`);
  const stateDir = join(s.kubeletDir, 'plugins', s.driverName, 'state');
  if (existsSync(stateDir)) for (const f of readdirSync(stateDir)) out.leaked.push(`node state record ${f}`);
  const exports = join(s.dataDir, 'exports');
  if (existsSync(exports)) for (const f of readdirSync(exports)) out.leaked.push(`export link ${f}`);
  return out;
}

/** Waits (bounded) until the array runs no task, so the audit does not race a finishing copy. */
export async function tasksSettled(array: SimArray, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (array.tasks.some((t) => t.status === TASK_ACTIVE) && Date.now() < end)
    await new Promise((r) => setTimeout(r, 100));
}
