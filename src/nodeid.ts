import { invalidArgument } from './errors.js';

/**
 * The node_id, the contract between the node plugin (which encodes it in NodeGetInfo) and the
 * array layer (which finds or creates the node's array host from it): neither layer owns it, so it
 * lives here, beside the shared error vocabulary.
 *
 * The node_id: the node's host name and its initiators, so the controller can find or create the
 * array host without another lookup. Format (compact, ≤ 192 bytes as the CSI spec allows for
 * the driver's own limit here):
 *
 *   <hostName>[;i=<iqn>][;w=<wwpn>,<wwpn>...]
 *
 * A node with no initiators (the simulator's loop protocol) is just `<hostName>`.
 */
export interface NodeIdentity {
  /** Kubernetes node name (DNS subdomain). */
  hostName: string;
  /** iSCSI initiator names (at most one is read from the node; a list for completeness). */
  iqns: string[];
  /** FC HBA port WWNs, 16 lower-case hex digits each. */
  wwpns: string[];
}

export const NODE_ID_MAX_BYTES = 192;

const HOST_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i;
const IQN_RE = /^(iqn\.\d{4}-\d{2}\.[^\s;,]+|eui\.[0-9a-fA-F]{16}|naa\.[0-9a-fA-F]{16,32})$/;
const WWPN_RE = /^[0-9a-f]{16}$/;

export function encodeNodeId(n: NodeIdentity): string {
  let id = n.hostName;
  if (n.iqns.length > 0) id += `;i=${n.iqns.join(',')}`;
  if (n.wwpns.length > 0) id += `;w=${n.wwpns.join(',')}`;
  if (Buffer.byteLength(id) > NODE_ID_MAX_BYTES)
    throw invalidArgument(
      `node_id would be ${Buffer.byteLength(id)} bytes, over ${NODE_ID_MAX_BYTES}: shorten the node name or remove initiators`,
    );
  return id;
}

/** Parses and validates a node_id from a request; INVALID_ARGUMENT on anything malformed. */
export function decodeNodeId(id: string): NodeIdentity {
  if (Buffer.byteLength(id) > NODE_ID_MAX_BYTES)
    throw invalidArgument(`node_id is longer than ${NODE_ID_MAX_BYTES} bytes`);
  const [hostName, ...parts] = id.split(';');
  if (!hostName || !HOST_RE.test(hostName))
    throw invalidArgument(`node_id "${id}" does not start with a valid host name`);
  const out: NodeIdentity = { hostName, iqns: [], wwpns: [] };
  for (const part of parts) {
    const m = /^([iw])=(.+)$/.exec(part);
    if (!m) throw invalidArgument(`node_id "${id}" has a malformed part "${part}"`);
    const values = m[2]!.split(',');
    if (m[1] === 'i') {
      if (out.iqns.length > 0 || !values.every((v) => IQN_RE.test(v)))
        throw invalidArgument(`node_id "${id}" has invalid iSCSI names`);
      out.iqns = values;
    } else {
      const w = values.map((v) => v.toLowerCase().replace(/:/g, ''));
      if (out.wwpns.length > 0 || !w.every((v) => WWPN_RE.test(v)))
        throw invalidArgument(`node_id "${id}" has invalid FC WWPNs`);
      out.wwpns = w;
    }
  }
  return out;
}
