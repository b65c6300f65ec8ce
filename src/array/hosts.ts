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
    const existing = await findHost(c, ref, ctx);
    let found: KnownHost;
    if (existing) {
      // A host enters the cache only with the backend's CHAP settings (issue 14 finding 5): a
      // host left without them by a failed CHAP PUT or by a racing process is fixed here.
      await reconcileChap(backend, c, existing.host, existing.known, ref, protocol, ctx);
      found = existing.known;
    } else {
      found = await createHost(backend, c, ref, protocol, ctx);
    }
    backend.hosts.set(ref.node.hostName, found);
    return found;
  });
}

/** Finds the node's host on the array without creating one; undefined when none exists. */
export async function lookupHost(c: ArrayClient, ref: NodeRef, ctx: OpContext): Promise<KnownHost | undefined> {
  return (await findHost(c, ref, ctx))?.known;
}

async function findHost(c: ArrayClient, ref: NodeRef, ctx: OpContext): Promise<{ host: Host; known: KnownHost } | undefined> {
  const tag = hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId);
  const { iqns, wwpns } = ref.node;
  if (iqns.length > 0 || wwpns.length > 0) {
    const hosts = await c.findHostsByInitiators(iqns, wwpns, ctx.signal);
    if (hosts.length > 1) throw failedPrecondition(`the initiators of node ${ref.node.hostName} are split over array hosts ${hosts.map((h) => h.name).join(', ')}; fix the hosts on the array`);
    return hosts[0] ? { host: hosts[0], known: judgeHost(hosts[0], ref, tag) } : undefined;
  }
  // A node without initiators (loop protocol) is known by its deterministic host name and marker.
  try {
    const h = await c.getHost(hostNameFor(ctx.owner.driverName, ctx.owner.clusterId, ref.node.hostName), ctx.signal);
    return { host: h, known: judgeHost(h, ref, tag) };
  } catch (err) {
    if (conditionOf(err) === 'no-host') return undefined;
    throw err;
  }
}

/**
 * CHAP on every host a publish is about to use for iSCSI (DESIGN "Hosts and publish"): a host
 * this cluster owns carries the backend's `chap` (set, or removed when the backend has none); a
 * foreign host with other settings → FAILED_PRECONDITION, since the node logs in with the
 * backend's. The array returns the secret encrypted only, so the name and the enabled flag are
 * what can be compared ([U] whether two secrets differ cannot be read back).
 */
async function reconcileChap(backend: Backend, c: ArrayClient, h: Host, known: KnownHost, ref: NodeRef, protocol: string, ctx: OpContext): Promise<void> {
  if (protocol !== 'iscsi' || ref.node.iqns.length === 0) return;
  const chap = backend.config.chap;
  const enabled = h.initiatorChapEnabled === true;
  const matches = chap ? enabled && h.initiatorChapName === chap.user : !enabled;
  if (matches) return;
  if (!known.owned) {
    throw failedPrecondition(`array host ${h.name} (not created by the driver) has initiator CHAP ${enabled ? `for user ${h.initiatorChapName ?? '?'}` : 'off'}, but backend ${backend.id} ${chap ? `logs in as ${chap.user}` : 'uses no CHAP'}; align the host's CHAP with the backend`);
  }
  if (chap) await c.setHostChap(h.name, chap.user, chap.secret);
  else await c.removeHostChap(h.name);
  ctx.log.info({ host: h.name, chap: chap !== undefined }, 'initiator CHAP of the array host reconciled with the backend');
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
    let found: { host: Host; known: KnownHost } | undefined;
    if (cond === 'host-exists') {
      const host = await c.getHost(name, ctx.signal);
      found = { host, known: judgeHost(host, ref, hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId)) };
    } else {
      found = await findHost(c, ref, ctx);
    }
    if (!found) throw err;
    await reconcileChap(backend, c, found.host, found.known, ref, protocol, ctx);
    return found.known;
  }
  const chap = backend.config.chap;
  if (chap && !useFc && ref.node.iqns.length > 0) {
    await c.setHostChap(name, chap.user, chap.secret);
    ctx.log.info({ host: name }, 'initiator CHAP set on the array host');
  }
  return { name, owned: true };
}
