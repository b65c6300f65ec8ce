import { alreadyExists, busy, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { ArrayClient } from './client.js';
import { conditionOf } from './errors.js';
import { formatVolumeMarker, type VolumeMarker } from './marker.js';
import { formatId, hashedName, isTombstoneName } from './names.js';
import { toArraySnapshot, type ArrayGroup, type ArraySnapshot } from './domain.js';
import { originalName } from './listing.js';
import { isSnapshot, ownMarker, requireOwnedSource, type OpContext } from './ops.js';
import { clearEndedCopies, removeTombstone } from './snapshots.js';
import { sourcesDomain } from './domains.js';

/**
 * Group snapshots (DESIGN "Groups"): the sources go into a temporary VV set, the set is
 * snapshotted once with the name pattern `<group>-@count@` (one point in time for every member),
 * the set is deleted, and each member's marker records the group, its index and the member
 * count. Members are `<group>-0 … -<count−1>`, so a group is found from its name alone: member 0
 * exists exactly while the group does (members are always removed highest index first).
 */

/** A group snapshot as the array holds it. */
export interface GroupSnapshot {
  /** The group's array name (the stem of its members' names). */
  name: string;
  /** Members by index; `undefined` where one is already gone (a delete interrupted midway). */
  members: (Volume | undefined)[];
}

export interface NewGroup {
  /** The group's array name (deterministic from the CSI name). */
  name: string;
  /** Source volumes' array names, in request order. */
  sources: string[];
  /** The marker every member carries (g, i, k are added here). */
  marker: VolumeMarker;
  readOnly: boolean;
  expirationHours?: number;
}

/** Name of member `index` of group `group`. */
export function memberName(group: string, index: number): string {
  return `${group}-${index}`;
}

/** The temporary VV set of a group: `cvs-` + 20 hash characters (24 ≤ 27). */
export function groupSetName(clusterId: string, group: string): string {
  return hashedName('volumeSet', clusterId, group);
}

async function getOrUndefined(c: ArrayClient, name: string, signal?: AbortSignal): Promise<Volume | undefined> {
  try {
    return await c.getVolume(name, signal);
  } catch (err) {
    if (conditionOf(err) === 'no-volume') return undefined;
    throw err;
  }
}

/**
 * Reads a group: undefined when member 0 is gone (the group does not exist). FAILED_PRECONDITION
 * when the name is taken by something this cluster does not own. k requests for k members.
 */
export async function readGroup(c: ArrayClient, name: string, ctx: OpContext): Promise<GroupSnapshot | undefined> {
  const first = await getOrUndefined(c, memberName(name, 0), ctx.signal);
  if (!first) return undefined;
  const m = ownMarker(first, ctx.owner);
  if (!isSnapshot(first) || !m || m.g !== name || m.k === undefined)
    throw failedPrecondition(
      `${memberName(name, 0)} exists on the array and is not a member of this cluster's group snapshot ${name}`,
    );
  const members: (Volume | undefined)[] = [first];
  for (let i = 1; i < m.k; i++) members.push(await getOrUndefined(c, memberName(name, i), ctx.signal));
  return { name, members };
}

/**
 * Creates the group snapshot, or finds the one an earlier attempt made (same name and request →
 * it; other sources or parameters → ALREADY_EXISTS). A missing source → NOT_FOUND. A failure
 * part-way removes what was made, so nothing is left behind. Returns the members by index.
 */
export async function ensureGroupSnapshot(c: ArrayClient, spec: NewGroup, ctx: OpContext): Promise<Volume[]> {
  const set = groupSetName(ctx.owner.clusterId, spec.name);
  const existing = await readGroup(c, spec.name, ctx);
  if (existing) {
    // CreateVolumeGroupSnapshot is idempotent: the same name and request return the same group.
    const marker = ownMarker(existing.members[0]!, ctx.owner)!;
    if (marker.r !== spec.marker.r || existing.members.length !== spec.sources.length)
      throw alreadyExists(`group snapshot ${spec.name} exists with other source volumes or parameters`);
    if (existing.members.some((m) => m === undefined))
      throw busy(`group snapshot ${spec.name} is being deleted; retry`);
    const members = existing.members as Volume[];
    if (members.every((m) => ownMarker(m, ctx.owner)?.i !== undefined)) return members;
    // An earlier attempt stopped before every member was marked: finish it.
    await deleteSetQuietly(c, set);
    return markMembers(c, spec, ctx);
  }
  const read: Volume[] = [];
  for (const source of spec.sources) {
    const v = await getOrUndefined(c, source, ctx.signal);
    if (!v || isSnapshot(v) || isTombstoneName(source)) throw notFound(`source volume ${source} does not exist`);
    // Only this cluster's (or imported) volumes, never a failed one (issue 14 finding 6).
    requireOwnedSource(v, ctx.owner);
    read.push(v);
  }
  // The temporary set is made in the sources' virtual domain (a set holds one domain's volumes).
  await createSet(c, set, spec.sources, sourcesDomain(spec.name, read));
  try {
    const shared: VolumeMarker = { ...spec.marker, g: spec.name, k: spec.sources.length };
    await c.snapshotVolumeSet(set, {
      name: `${spec.name}-@count@`,
      readOnly: spec.readOnly,
      comment: formatVolumeMarker(shared),
      ...(spec.expirationHours !== undefined && { expirationHours: spec.expirationHours }),
    });
    ctx.log.info({ group: spec.name, set, members: spec.sources.length }, 'VV set snapshotted');
    await c.deleteVolumeSet(set);
    return await markMembers(c, spec, ctx);
  } catch (err) {
    ctx.log.warn(
      { group: spec.name, err: (err as Error).message },
      'group snapshot failed part-way; removing what was made',
    );
    await removeGroupQuietly(c, spec.name, spec.sources.length, ctx);
    await deleteSetQuietly(c, set);
    if (conditionOf(err) === 'no-volume')
      throw notFound(`a source volume of group snapshot ${spec.name} does not exist`);
    if (conditionOf(err) === 'volume-exists')
      throw busy(
        `a member name of group snapshot ${spec.name} is taken by a leftover of an earlier attempt, now removed; retry`,
      );
    throw err;
  }
}

/** Creates the temporary set (in `domain`, the members'); one left by an interrupted attempt is replaced. */
async function createSet(c: ArrayClient, set: string, members: string[], domain: string | undefined): Promise<void> {
  try {
    await c.createVolumeSet(set, members, domain);
  } catch (err) {
    if (conditionOf(err) !== 'set-exists') throw err;
    await c.deleteVolumeSet(set);
    await c.createVolumeSet(set, members, domain);
  }
}

async function deleteSetQuietly(c: ArrayClient, set: string): Promise<void> {
  try {
    await c.deleteVolumeSet(set);
  } catch (err) {
    if (conditionOf(err) !== 'no-set') throw err;
  }
}

/** Reads every member, maps it to its source by `copyOf`, and writes its own index into its marker. */
async function markMembers(c: ArrayClient, spec: NewGroup, ctx: OpContext): Promise<Volume[]> {
  const members: Volume[] = [];
  for (let i = 0; i < spec.sources.length; i++) {
    const v = await c.getVolume(memberName(spec.name, i), ctx.signal);
    if (!isSnapshot(v) || v.copyOf === undefined || !spec.sources.includes(v.copyOf))
      throw failedPrecondition(
        `member ${v.name} of group snapshot ${spec.name} is not a snapshot of one of its sources`,
      );
    const m = ownMarker(v, ctx.owner);
    if (m?.i === undefined) {
      const comment = formatVolumeMarker({ ...spec.marker, g: spec.name, i, k: spec.sources.length });
      await c.modifyVolume(v.name, { comment });
      v.comment = comment;
    }
    members.push(v);
  }
  ctx.log.info(
    { group: spec.name, members: members.map((m) => `${m.name}←${m.copyOf ?? '?'}`) },
    'group snapshot members marked',
  );
  return members;
}

/** Best-effort removal of a failed attempt's members (only those of this group and cluster). */
async function removeGroupQuietly(c: ArrayClient, group: string, count: number, ctx: OpContext): Promise<void> {
  for (let i = count - 1; i >= 0; i--) {
    try {
      const v = await c.getVolume(memberName(group, i));
      if (ownMarker(v, ctx.owner)?.g === group) await c.deleteVolume(v.name);
    } catch (err) {
      if (conditionOf(err) !== 'no-volume')
        ctx.log.warn(
          { group, member: i, err: (err as Error).message },
          'could not remove a member of a failed group snapshot',
        );
    }
  }
}

/**
 * Deletes every member, highest index first (member 0 last, so a retry still finds the group).
 * A member in use (the source of a running copy) → FAILED_PRECONDITION. A member whose source was
 * soft-deleted takes the tombstone with it once no snapshot is left.
 */
export async function deleteGroupSnapshot(c: ArrayClient, group: GroupSnapshot, ctx: OpContext): Promise<void> {
  for (let i = group.members.length - 1; i >= 0; i--) {
    const v = group.members[i];
    if (!v) continue;
    await deleteMember(c, group.name, v.name, ctx);
    if (v.copyOf && isTombstoneName(v.copyOf)) await removeTombstone(c, v.copyOf, ctx);
  }
  ctx.log.info({ group: group.name, members: group.members.length }, 'group snapshot deleted');
}

/**
 * Deletes one member; gone already is fine. With children, what ended copies from it left goes
 * first (clearEndedCopies, once); still in use → FAILED_PRECONDITION.
 */
async function deleteMember(c: ArrayClient, group: string, name: string, ctx: OpContext): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await c.deleteVolume(name);
      return;
    } catch (err) {
      const cond = conditionOf(err);
      if (cond === 'has-children' && attempt === 1 && (await clearEndedCopies(c, name, ctx)) > 0) continue;
      if (cond === 'has-children' || cond === 'in-use' || cond === 'copy-busy')
        throw failedPrecondition(
          `member ${name} of group snapshot ${group} is in use (exported or the source of a copy); retry later`,
        );
      // A member gone meanwhile (a racing delete) is the outcome the caller wants.
      if (cond !== 'no-volume') throw err;
      return;
    }
  }
}

/**
 * INVALID_ARGUMENT unless `ids` are exactly the group's members (the spec asks the plugin to
 * report a mismatch it can detect). An empty list is not checked: the driver does not need it.
 */
export function checkMemberIds(backendId: string, group: GroupSnapshot, ids: readonly string[]): void {
  if (ids.length === 0) return;
  const expected = group.members.map((_, i) => formatId(backendId, memberName(group.name, i))).sort();
  const given = [...new Set(ids)].sort();
  if (given.length !== expected.length || given.some((id, i) => id !== expected[i])) {
    throw invalidArgument(
      `snapshot_ids do not match the ${expected.length} members of group snapshot ${formatId(backendId, group.name)}`,
    );
  }
}

/** The group's members as snapshots; a member of a soft-deleted volume keeps naming the volume the CO deleted. */
export async function groupOf(
  c: ArrayClient,
  backendId: string,
  name: string,
  members: readonly Volume[],
  ctx: OpContext,
): Promise<ArrayGroup> {
  const snapshots: ArraySnapshot[] = [];
  for (const m of members) {
    const source =
      m.copyOf && isTombstoneName(m.copyOf)
        ? originalName(await c.getVolume(m.copyOf, ctx.signal), ctx.owner)
        : undefined;
    snapshots.push(toArraySnapshot(backendId, m, ownMarker(m, ctx.owner), source ?? m.copyOf));
  }
  return { id: formatId(backendId, name), snapshots };
}
