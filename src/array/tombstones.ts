import { busy, failedPrecondition } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';
import { conditionOf } from './errors.js';
import { isTombstoneName } from './names.js';
import { isCopyTarget, isSnapshot, ownMarker, type OpContext, type Owner } from './ops.js';

/**
 * What depends on a volume the driver deletes (DESIGN "Copies", issue 16 item 8). On 3PAR a
 * volume with children cannot be deleted. Only this cluster's own snapshots make the driver
 * soft-delete it (rename to a tombstone that the last DeleteSnapshot removes). An online copy's
 * helper snapshots (python-3parclient's stopOnlinePhysicalCopy: the destination's `copyOf`, and
 * that one's `copyOf` [S]) are either still read by a running copy — wait for it — or were left by
 * a copy stopped without its cleanup, and are removed. Anything else is someone else's.
 */
export interface Children {
  /** This cluster's snapshots: a soft delete keeps them readable. */
  own: Volume[];
  /** Helper snapshot chains of copies that ended, leaf first (delete in this order). */
  leftovers: Volume[];
  /** Destinations of copies still reading from the volume (through helpers or directly). */
  copying: string[];
  /** Children the driver neither owns nor recognises (an admin's snapshot, a foreign copy). */
  foreign: string[];
}

/** An unmarked snapshot without a comment: what the array makes for an online copy. */
function isHelper(v: Volume): boolean {
  return isSnapshot(v) && (v.comment ?? '') === '';
}

/** The children of `name` in one volume listing, judged as above. */
export function childrenOf(all: readonly Volume[], name: string, owner: Owner): Children {
  const byParent = new Map<string, Volume[]>();
  for (const v of all) if (v.copyOf !== undefined) byParent.set(v.copyOf, [...(byParent.get(v.copyOf) ?? []), v]);
  const out: Children = { own: [], leftovers: [], copying: [], foreign: [] };
  for (const child of byParent.get(name) ?? []) {
    if (isSnapshot(child) && ownMarker(child, owner)) out.own.push(child);
    else if (!isSnapshot(child) && isCopyTarget(child)) out.copying.push(child.name);
    else if (isHelper(child) && child.readOnly === true) judgeHelper(child, byParent, out);
    else out.foreign.push(child.name);
  }
  return out;
}

/** A read-only helper: its read-write helper children, and their copy destinations (if any). */
function judgeHelper(ro: Volume, byParent: Map<string, Volume[]>, out: Children): void {
  const rws = byParent.get(ro.name) ?? [];
  if (rws.length === 0 || rws.some((rw) => !isHelper(rw) || rw.readOnly === true)) {
    // Not the shape of a copy's helpers (a lone read-only snapshot may be an admin's).
    out.foreign.push(ro.name);
    return;
  }
  const dests = rws.flatMap((rw) => byParent.get(rw.name) ?? []);
  if (dests.length > 0) {
    for (const d of dests) out.copying.push(d.name);
    return;
  }
  out.leftovers.push(...rws, ro);
}

/**
 * Clears the way for deleting `v`, whose delete the array refused because it has children (one
 * volume listing): a running copy from it → ABORTED (retry after it ends); a child the driver
 * does not own → FAILED_PRECONDITION naming it; helpers left by stopped copies are removed. Returns
 * true when a soft delete is due (own snapshots remain), false when the delete can be retried.
 * Tombstones without children found in the same listing are swept on the way.
 */
export async function clearChildren(c: ArrayClient, v: Volume, ctx: OpContext): Promise<boolean> {
  const all = await c.listVolumes(ctx.signal);
  const kids = childrenOf(all, v.name, ctx.owner);
  if (kids.copying.length > 0) throw busy(`volume ${v.name} is the source of a copy that has not ended (into ${kids.copying.join(', ')}); retry after it ends`);
  if (kids.foreign.length > 0) throw failedPrecondition(`volume ${v.name} has snapshots or copies this cluster does not own (${kids.foreign.join(', ')}); the driver deletes neither them nor the volume`);
  await removeLeftovers(c, kids.leftovers, v.name, ctx);
  await sweepTombstones(c, all, ctx, v.name);
  return kids.own.length > 0;
}

async function removeLeftovers(c: ArrayClient, leftovers: readonly Volume[], parent: string, ctx: OpContext): Promise<void> {
  for (const h of leftovers) {
    try {
      await c.deleteVolume(h.name);
      ctx.log.info({ snapshot: h.name, volume: parent }, "removed the array's helper snapshot of a copy that was stopped without its cleanup");
    } catch (err) {
      if (conditionOf(err) !== 'no-volume') throw err;
    }
  }
}

/**
 * Deletes this cluster's tombstones that nothing depends on any more (their last snapshot went
 * without the driver: an admin, or a crash between a DeleteSnapshot and the tombstone's delete),
 * with helper chains stopped copies left under them (the leak of issue 16 item 8). `skip` is a
 * volume the caller is deleting itself. Failures are logged, never thrown: a sweep is a bonus.
 */
export async function sweepTombstones(c: ArrayClient, all: readonly Volume[], ctx: OpContext, skip?: string): Promise<number> {
  let removed = 0;
  for (const t of all) {
    if (!isTombstoneName(t.name) || t.name === skip || !ownMarker(t, ctx.owner)) continue;
    const kids = childrenOf(all, t.name, ctx.owner);
    if (kids.own.length + kids.copying.length + kids.foreign.length > 0) continue;
    try {
      await removeLeftovers(c, kids.leftovers, t.name, ctx);
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
    ctx.log.warn({ backend: backend.id, err }, 'tombstone sweep: the volume listing failed; the next DeleteVolume retries');
  }
}
