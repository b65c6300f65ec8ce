import { busy, failedPrecondition } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';
import { isTombstoneName } from './names.js';
import { conditionOf } from './errors.js';
import { isCopyTarget, isSnapshot, ownHelperMarker, ownMarker, type OpContext, type Owner } from './ops.js';

/**
 * What depends on a volume the driver deletes (DESIGN "Copies", issue 16 item 8). On 3PAR a
 * volume with children cannot be deleted. Only this cluster's own snapshots make the driver
 * soft-delete it (rename to a tombstone that the last DeleteSnapshot removes). An online copy's
 * helper snapshots (python-3parclient's stopOnlinePhysicalCopy: the destination's `copyOf`, and
 * that one's `copyOf` [S]) still read by a running copy mean: wait for it. Anything else is someone
 * else's, including an unmarked read-only snapshot with a read-write child and nothing below: a
 * stopped copy's helpers have that shape, but so has an admin's `createsv -ro` with a writable
 * snapshot of it, and nothing on the array tells them apart. Like python-3parclient, the driver
 * removes helpers by following the `copyOf` of a destination it stopped (copies.ts), after marking
 * them as this cluster's (the helper mark, HelperMarker, claimCopyHelpers): marked helpers with nothing below but
 * marked helpers are the leftovers of a stop a restart cut short, and the driver deletes them.
 */
export interface Children {
  /** This cluster's snapshots: a soft delete keeps them readable. */
  own: VolumeSummary[];
  /** Destinations of copies still reading from the volume (through helpers or directly). */
  copying: string[];
  /** Children the driver neither owns nor recognises (an admin's snapshot, a foreign copy). */
  foreign: string[];
  /**
   * Helper snapshots of copies this cluster stopped (the helper mark) that nothing reads any more, in
   * delete order (read-write before its read-only parent): the driver's to delete.
   */
  stale: string[];
}

/** A snapshot without a comment (what the array makes for an online copy), or one this cluster marked as such. */
function isHelper(v: VolumeSummary, owner: Owner): boolean {
  return isSnapshot(v) && ((v.comment ?? '') === '' || ownHelperMarker(v, owner) !== undefined);
}

/** The children of `name` in one volume listing, judged as above. */
export function childrenOf(all: readonly VolumeSummary[], name: string, owner: Owner): Children {
  const byParent = new Map<string, VolumeSummary[]>();
  for (const v of all) if (v.copyOf !== undefined) byParent.set(v.copyOf, [...(byParent.get(v.copyOf) ?? []), v]);
  const out: Children = { own: [], copying: [], foreign: [], stale: [] };
  for (const child of byParent.get(name) ?? []) {
    if (isSnapshot(child) && ownMarker(child, owner)) out.own.push(child);
    else if (!isSnapshot(child) && isCopyTarget(child)) out.copying.push(child.name);
    else if (isHelper(child, owner) && child.readOnly === true) judgeHelper(child, byParent, owner, out);
    else out.foreign.push(child.name);
  }
  return out;
}

/**
 * A read-only helper whose read-write helper children are read by copies: copying. Marked by this
 * cluster, with only marked children and nothing below them: stale. Otherwise foreign.
 */
function judgeHelper(ro: VolumeSummary, byParent: Map<string, VolumeSummary[]>, owner: Owner, out: Children): void {
  const rws = byParent.get(ro.name) ?? [];
  const dests = rws.flatMap((rw) => byParent.get(rw.name) ?? []);
  const marked = (x: VolumeSummary) => ownHelperMarker(x, owner) !== undefined;
  if (marked(ro) && dests.length === 0 && rws.every(marked)) {
    out.stale.push(...rws.map((rw) => rw.name), ro.name);
    return;
  }
  if (
    rws.length === 0 ||
    rws.some((rw) => !isHelper(rw, owner) || rw.readOnly === true) ||
    dests.length === 0 ||
    !dests.every(isCopyTarget)
  ) {
    // Not a running copy's helpers: a lone read-only snapshot, or a read-only one with a writable
    // child (a stopped copy's leftovers or an admin's pair: the driver cannot tell, so it keeps both).
    out.foreign.push(ro.name);
    return;
  }
  for (const d of dests) out.copying.push(d.name);
}

/**
 * Clears the way for deleting `v`, whose delete the array refused because it has children (one
 * volume listing): a running copy from it → ABORTED (retry after it ends); a child the driver
 * does not own → FAILED_PRECONDITION naming it (the driver deletes none of them). Returns
 * true when a soft delete is due (own snapshots remain), false when the delete can be retried.
 * Tombstones without children found in the same listing are swept on the way.
 */
export async function clearChildren(c: ArrayClient, v: Volume, ctx: OpContext): Promise<boolean> {
  const all = await c.listVolumes(ctx.signal);
  const kids = childrenOf(all, v.name, ctx.owner);
  if (kids.copying.length > 0)
    throw busy(
      `volume ${v.name} is the source of a copy that has not ended (into ${kids.copying.join(', ')}); retry after it ends`,
    );
  if (kids.foreign.length > 0)
    throw failedPrecondition(
      `volume ${v.name} has snapshots or copies this cluster does not own (${kids.foreign.join(', ')}); the driver deletes neither them nor the volume (an unmarked read-only snapshot with a writable child may be a stopped copy's helpers: remove them if they are)`,
    );
  await removeStaleHelpers(c, kids.stale, ctx);
  await sweepTombstones(c, all, ctx, v.name);
  return kids.own.length > 0;
}

/**
 * Deletes the stale helper snapshots childrenOf found (in its order). Gone already → fine; given
 * a child meanwhile (has children) → the rest are left, and the caller's retry reports what holds
 * them. Returns how many went.
 */
export async function removeStaleHelpers(c: ArrayClient, names: readonly string[], ctx: OpContext): Promise<number> {
  let removed = 0;
  for (const name of names) {
    try {
      await c.deleteVolume(name);
      removed++;
      ctx.log.info(
        { snapshot: name },
        'helper snapshot of a copy this cluster stopped removed (left by a cut-short cleanup)',
      );
    } catch (err) {
      const cond = conditionOf(err);
      if (cond === 'has-children' || cond === 'in-use') break;
      if (cond !== 'no-volume') throw err;
    }
  }
  return removed;
}

/**
 * Deletes this cluster's tombstones that nothing depends on any more (their last snapshot went
 * without the driver: an admin, or a crash between a DeleteSnapshot and the tombstone's delete).
 * Only tombstones with no child in the listing but this cluster's stale copy helpers (childrenOf),
 * which go first (a soft delete that raced their removal, or a driver of the first helper-mark
 * form, can leave them under one); the array refuses the rest anyway. `skip` is a volume the
 * caller is deleting itself. Failures are logged, never thrown: a sweep is a bonus.
 */
export async function sweepTombstones(
  c: ArrayClient,
  all: readonly VolumeSummary[],
  ctx: OpContext,
  skip?: string,
): Promise<number> {
  let removed = 0;
  for (const t of all) {
    if (!isTombstoneName(t.name) || t.name === skip || !ownMarker(t, ctx.owner)) continue;
    const kids = childrenOf(all, t.name, ctx.owner);
    if (kids.own.length + kids.copying.length + kids.foreign.length > 0) continue;
    try {
      if ((await removeStaleHelpers(c, kids.stale, ctx)) < kids.stale.length) continue;
      await c.deleteVolume(t.name);
      removed++;
      ctx.log.info({ volume: t.name }, 'soft-deleted volume with no snapshots left removed (tombstone sweep)');
    } catch (err) {
      ctx.log.warn({ volume: t.name, err }, 'tombstone sweep: could not remove it; the next sweep retries');
    }
  }
  return removed;
}

/** Backends whose tombstones this process swept already (once each, at its first DeleteVolume). */
const swept = new WeakSet<Backend>();

/**
 * The sweep at a backend's first DeleteVolume in this process (one volume listing, once): it needs
 * no timer, so tests trigger it with a delete, and a restart sweeps what the last run left.
 */
export async function sweepOnce(backend: Backend, c: ArrayClient, ctx: OpContext): Promise<void> {
  if (swept.has(backend)) return;
  swept.add(backend);
  try {
    await sweepTombstones(c, await c.listVolumes(ctx.signal), ctx);
  } catch (err) {
    swept.delete(backend);
    ctx.log.warn(
      { backend: backend.id, err },
      'tombstone sweep: the volume listing failed; the next DeleteVolume retries',
    );
  }
}
