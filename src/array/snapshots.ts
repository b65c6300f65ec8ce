import { alreadyExists, busy, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import type { ArrayClient, SnapshotParams } from './client.js';
import { conditionOf, isConflict } from './errors.js';
import { isCopySourceName, isTombstoneName } from './names.js';
import { isSnapshot, ownMarker, type OpContext } from './ops.js';
import { removeCopyHelpers } from './copies.js';
import { childrenOf, removeStaleHelpers } from './tombstones.js';

/**
 * Creates the read-only virtual copy, or finds the one an earlier attempt made (same name and
 * source → it; another source → ALREADY_EXISTS). Two requests: create, then read it back for
 * its creation time and size.
 */
export async function ensureSnapshot(
  c: ArrayClient,
  source: string,
  params: SnapshotParams,
  ctx: OpContext,
): Promise<Volume> {
  try {
    await c.createSnapshot(source, params);
    ctx.log.info({ snapshot: params.name, source }, 'snapshot created');
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-volume') throw notFound(`source volume ${source} does not exist`);
    if (cond === 'no-snap-cpg')
      throw failedPrecondition(
        `volume ${source} has no snapshot CPG on the array; set one (PUT snapCPG) before taking snapshots`,
        { cause: err },
      );
    // The array refuses a snapshot of a volume a copy is still filling (its code is unknown on
    // 1.3.x, hence any other 409): retry later.
    if (cond !== 'volume-exists' && isConflict(err))
      throw busy(`volume ${source} is busy in a copy on the array; retry the snapshot later`);
    // CreateSnapshot is idempotent: an existing snapshot of the same source is the answer.
    if (cond !== 'volume-exists') throw err;
  }
  const snap = await c.getVolume(params.name, ctx.signal);
  if (!isSnapshot(snap) || !ownMarker(snap, ctx.owner))
    throw alreadyExists(`${params.name} exists on the array and is not this cluster's snapshot`);
  if (snap.copyOf !== source)
    throw alreadyExists(`snapshot ${params.name} exists for another source volume (${snap.copyOf ?? '?'})`);
  return snap;
}

/**
 * Deletes a snapshot this cluster owns; unknown → success. The last snapshot of a soft-deleted
 * volume takes the tombstone with it. A member of a group snapshot is deleted with its group.
 */
export async function deleteSnapshot(c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  let snap: Volume;
  try {
    snap = await c.getVolume(name, ctx.signal);
  } catch (err) {
    // DeleteSnapshot of an unknown snapshot succeeds.
    if (conditionOf(err) === 'no-volume') return;
    throw err;
  }
  const marker = ownMarker(snap, ctx.owner);
  if (!isSnapshot(snap) || !marker)
    throw failedPrecondition(`${name} is not a snapshot of this cluster; the driver never deletes it`);
  if (marker.g !== undefined)
    throw invalidArgument(`snapshot ${name} is a member of group snapshot ${marker.g}; delete the group snapshot`);
  for (let attempt = 1; ; attempt++) {
    try {
      await c.deleteVolume(name);
      break;
    } catch (err) {
      const cond = conditionOf(err);
      if (cond === 'no-volume') break;
      // What copies that have ended left goes first (one listing, on this path only).
      if (cond === 'has-children' && attempt === 1 && (await clearEndedCopies(c, name, ctx)) > 0) continue;
      if (cond === 'has-children' || cond === 'in-use')
        throw failedPrecondition(
          `snapshot ${name} is in use on the array (exported or the source of a copy); retry later`,
        );
      throw err;
    }
  }
  ctx.log.info({ snapshot: name }, 'snapshot deleted');
  if (snap.copyOf && isTombstoneName(snap.copyOf)) await removeTombstone(c, snap.copyOf, ctx);
}

/**
 * The read-write helper of a stopped copy from `source`: the array's read-only snapshot of it,
 * that one's read-write child, and nothing under that (no destination reads it any more).
 */
function stoppedHelper(all: readonly VolumeSummary[], source: string): string | undefined {
  const ro = all.find((x) => x.copyOf === source && x.readOnly === true);
  const rw = ro && all.find((x) => x.copyOf === ro.name);
  return rw && !all.some((x) => x.copyOf === rw.name) ? rw.name : undefined;
}

/**
 * Deletes what copies from `snapshot` that have ended left under it (one listing): helper snapshots
 * this cluster marked before it deleted their destination (a copy straight from a read-write
 * snapshot, a group member), and the driver's temporary copy sources that no running copy reads.
 * Returns how many objects went.
 */
export async function clearEndedCopies(c: ArrayClient, snapshot: string, ctx: OpContext): Promise<number> {
  const all = await c.listVolumes(ctx.signal);
  const stale = await removeStaleHelpers(c, childrenOf(all, snapshot, ctx.owner).stale, ctx);
  return stale + (await removeEndedCopySources(c, all, snapshot, ctx));
}

/** Deletes the driver's temporary copy sources made of `snapshot` that no running copy reads; returns how many. */
async function removeEndedCopySources(
  c: ArrayClient,
  all: readonly VolumeSummary[],
  snapshot: string,
  ctx: OpContext,
): Promise<number> {
  const parents = new Set(all.map((v) => v.copyOf).filter((n): n is string => n !== undefined));
  let removed = 0;
  for (const v of all) {
    if (v.copyOf !== snapshot || !isCopySourceName(v.name) || !ownMarker(v, ctx.owner)) continue;
    // A copy that stopped after its destination went (a restart cut its cleanup short) leaves the
    // array's helper snapshots under our temporary source, and nothing else copies from it.
    if (parents.has(v.name) && (await removeCopyHelpers(c, stoppedHelper(all, v.name), ctx)) === 0) continue;
    try {
      await c.deleteVolume(v.name);
      removed++;
      ctx.log.info({ copySource: v.name, snapshot }, 'temporary copy source removed before its snapshot');
    } catch (err) {
      if (conditionOf(err) !== 'no-volume' && conditionOf(err) !== 'has-children') throw err;
    }
  }
  return removed;
}

/** Removes a soft-deleted volume once its last snapshot is gone (another one keeps it). */
export async function removeTombstone(c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  try {
    const v = await c.getVolume(name, ctx.signal);
    if (!ownMarker(v, ctx.owner)) return;
    await c.deleteVolume(name);
    ctx.log.info({ volume: name }, 'soft-deleted volume removed with its last snapshot');
  } catch (err) {
    const cond = conditionOf(err);
    if (cond !== 'no-volume' && cond !== 'has-children') throw err;
  }
}
