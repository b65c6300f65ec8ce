import { failedPrecondition } from '../errors.js';
import type { NodeIdentity } from '../csi/nodeid.js';
import { HostPersona } from '../wsapi/enums.js';
import type { Host } from '../wsapi/types.js';
import type { Backend, KnownHost } from './backend.js';
import type { ArrayClient } from './client.js';
import { conditionOf } from './errors.js';
import { formatHostMarker, hostOwnerTag, parseHostMarker } from './marker.js';
import { hostNameFor } from './names.js';
import type { OpContext } from './ops.js';

/** A node as publish sees it: the raw node_id (recorded in the host marker) and its parts. */
export interface NodeRef {
  nodeId: string;
  node: NodeIdentity;
}

function initiatorsOf(h: Host): { iqns: string[]; wwns: string[] } {
  return {
    iqns: (h.iSCSIPaths ?? []).map((p) => p.name),
    wwns: (h.FCPaths ?? []).map((p) => (p.wwn ?? p.WWN ?? '').toLowerCase().replace(/:/g, '')),
  };
}

/**
 * Decides whether `h` may serve `ref` (DESIGN "Hosts and publish"): a host marked for this
 * cluster and this node → owned; marked for another node or cluster → FAILED_PRECONDITION; an
 * unmarked host → usable (never modified) only when it owns exactly the node's initiators.
 */
export function judgeHost(h: Host, ref: NodeRef, ownerTag: string): KnownHost {
  const marker = parseHostMarker(h.descriptors?.comment);
  if (marker) {
    if (marker.o !== ownerTag) throw failedPrecondition(`array host ${h.name} belongs to another cluster or driver; it cannot serve node ${ref.node.hostName}`);
    // The node_id starts with the node's host name (nodeid.ts); initiators may change over time.
    const markedHost = marker.n.split(';')[0] ?? '';
    if (markedHost !== ref.node.hostName) throw failedPrecondition(`array host ${h.name} is marked for node ${markedHost}, not ${ref.node.hostName}; two nodes share initiators (cloned machines?)`);
    return { name: h.name, owned: true };
  }
  const have = initiatorsOf(h);
  const want = ref.node;
  const same = (a: string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));
  // Per family the host has paths in (iSCSI, FC), exactly the node's initiators of that family.
  const exact = (have.iqns.length > 0 || have.wwns.length > 0) && (have.iqns.length === 0 || same(have.iqns, want.iqns)) && (have.wwns.length === 0 || same(have.wwns, want.wwpns));
  if (!exact) {
    throw failedPrecondition(`array host ${h.name} (not created by the driver) owns some but not exactly the initiators of node ${ref.node.hostName}; fix the host on the array`);
  }
  return { name: h.name, owned: false };
}

/**
 * The array host of a node: from the cache, else found by initiators (or by its deterministic
 * name for a node without initiators), else created with the marker and, for iSCSI, CHAP.
 */
export async function resolveHost(backend: Backend, c: ArrayClient, ref: NodeRef, protocol: string, ctx: OpContext): Promise<KnownHost> {
  const cached = backend.hosts.get(ref.node.hostName);
  if (cached) return cached;
  return backend.hostLocks.run(ref.node.hostName, async () => {
    const again = backend.hosts.get(ref.node.hostName);
    if (again) return again;
    const found = await lookupHost(c, ref, ctx) ?? (await createHost(backend, c, ref, protocol, ctx));
    backend.hosts.set(ref.node.hostName, found);
    return found;
  });
}

/** Finds the node's host on the array without creating one; undefined when none exists. */
export async function lookupHost(c: ArrayClient, ref: NodeRef, ctx: OpContext): Promise<KnownHost | undefined> {
  const tag = hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId);
  const { iqns, wwpns } = ref.node;
  if (iqns.length > 0 || wwpns.length > 0) {
    const hosts = await c.findHostsByInitiators(iqns, wwpns, ctx.signal);
    if (hosts.length > 1) throw failedPrecondition(`the initiators of node ${ref.node.hostName} are split over array hosts ${hosts.map((h) => h.name).join(', ')}; fix the hosts on the array`);
    return hosts[0] ? judgeHost(hosts[0], ref, tag) : undefined;
  }
  // A node without initiators (loop protocol) is known by its deterministic host name and marker.
  try {
    const h = await c.getHost(hostNameFor(ctx.owner.driverName, ctx.owner.clusterId, ref.node.hostName), ctx.signal);
    return judgeHost(h, ref, tag);
  } catch (err) {
    if (conditionOf(err) === 'no-host') return undefined;
    throw err;
  }
}

async function createHost(backend: Backend, c: ArrayClient, ref: NodeRef, protocol: string, ctx: OpContext): Promise<KnownHost> {
  const name = hostNameFor(ctx.owner.driverName, ctx.owner.clusterId, ref.node.hostName);
  const comment = formatHostMarker(hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId), ref.nodeId);
  // FC and iSCSI paths cannot be given together: the volume's protocol picks (iSCSI first).
  const useFc = ref.node.wwpns.length > 0 && (protocol === 'fc' || ref.node.iqns.length === 0);
  const paths = useFc ? { FCWWNs: ref.node.wwpns.map((w) => w.toUpperCase()) } : ref.node.iqns.length > 0 ? { iSCSINames: ref.node.iqns } : {};
  try {
    await c.createHost({ name, ...paths, persona: HostPersona.GENERIC_ALUA, descriptors: { comment } });
    ctx.log.info({ host: name, node: ref.node.hostName }, 'array host created');
  } catch (err) {
    const cond = conditionOf(err);
    if (cond !== 'host-exists' && cond !== 'path-exists') throw err;
    // Another driver process created it first: look again and judge what is there.
    const found = cond === 'host-exists' ? judgeHost(await c.getHost(name, ctx.signal), ref, hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId)) : await lookupHost(c, ref, ctx);
    if (!found) throw err;
    return found;
  }
  const chap = backend.config.chap;
  if (chap && !useFc && ref.node.iqns.length > 0) {
    await c.setHostChap(name, chap.user, chap.secret);
    ctx.log.info({ host: name }, 'initiator CHAP set on the array host');
  }
  return { name, owned: true };
}
