import { alreadyExists, busy, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { Backend, OwnedVolume } from './backend.js';
import type { ArrayClient, CreateVolumeBody } from './client.js';
import { cancelCopy, removeCopyHelpers, removeCopySource } from './copies.js';
import { conditionOf, isConflict } from './errors.js';
import { formatVolumeMarker, parseVolumeMarker, type VolumeMarker } from './marker.js';
import { Role, tombstoneNameFor } from './names.js';
import { isCopyTarget, isSnapshot, ownMarker, refuseFailed, requireOwnedSource, type OpContext, type Owner } from './ops.js';
import { clearChildren, sweepOnce } from './tombstones.js';

/** How many times DeleteVolume retries after clearing an obstacle (set membership, copy). */
const DELETE_ATTEMPTS = 3;

export interface NewVolume {
  body: CreateVolumeBody;
  /** Request identity (`r` of the marker) to compare on a repeat. */
  identity: string;
  /** VV set to join (the class's qosName). */
  qosName?: string;
}

/** Reads a volume; NOT_FOUND when absent. */
export async function getVolume(c: ArrayClient, name: string, signal?: AbortSignal): Promise<Volume> {
  try {
    return await c.getVolume(name, signal);
  } catch (err) {
    if (conditionOf(err) === 'no-volume') throw notFound(`volume ${name} does not exist`);
    throw err;
  }
}

/**
 * Creates the volume, or finds the one an earlier attempt created (CreateVolume is idempotent:
 * same name and a compatible request → the existing volume; incompatible → ALREADY_EXISTS).
 * One request when new (the marker goes in with the create), two on a repeat.
 */
export async function ensureVolume(c: ArrayClient, spec: NewVolume, ctx: OpContext): Promise<Volume> {
  const name = spec.body.name;
  try {
    await c.createVolume(spec.body);
    ctx.log.info({ volume: name, sizeMiB: spec.body.sizeMiB, cpg: spec.body.cpg }, 'volume created');
    if (spec.qosName) {
      try {
        await joinSet(c, spec.qosName, name, false);
      } catch (err) {
        // A class naming a missing VV set must not leave volumes behind on every retry.
        await c.deleteVolume(name).catch(() => undefined);
        throw err;
      }
    }
    return { name, sizeMiB: spec.body.sizeMiB, comment: spec.body.comment };
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-cpg') throw invalidArgument(`CPG ${spec.body.cpg} or ${spec.body.snapCPG ?? ''} does not exist on the array`);
    if (cond !== 'volume-exists') throw err;
  }
  // A repeated CreateVolume (or a retry after a lost response) finds the earlier volume.
  const v = await c.getVolume(name, ctx.signal);
  const m = ownMarker(v, ctx.owner);
  if (!m || m.r !== spec.identity) throw alreadyExists(`volume ${name} exists with different parameters`);
  if ((v.sizeMiB ?? 0) < spec.body.sizeMiB) throw alreadyExists(`volume ${name} exists with a smaller size (${v.sizeMiB} MiB)`);
  if (spec.qosName) await joinSet(c, spec.qosName, name, true);
  return v;
}

/** Adds a volume to a VV set; on a repeat an "already a member" refusal is fine. */
async function joinSet(c: ArrayClient, set: string, name: string, repeat: boolean): Promise<void> {
  try {
    await c.addToVolumeSet(set, [name]);
  } catch (err) {
    if (conditionOf(err) === 'no-set') throw invalidArgument(`parameter "qosName": VV set ${set} does not exist on the array`);
    if (!(repeat && isConflict(err))) throw err;
  }
}

/**
 * Deletes a volume this cluster owns (DESIGN "Copies"): an unknown volume is success; a foreign
 * one FAILED_PRECONDITION (unless it is the unmarked destination of a copy in progress, which is
 * cancelled first, and the array's helper snapshots of that copy go with it); exported →
 * FAILED_PRECONDITION; with children, see clearChildren: only this cluster's snapshots make a
 * soft delete. The backend's first delete in this process sweeps its childless tombstones.
 */
export async function deleteVolume(backend: Backend, c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  let v: Volume;
  try {
    v = await c.getVolume(name, ctx.signal);
  } catch (err) {
    // DeleteVolume of an unknown volume succeeds.
    if (conditionOf(err) === 'no-volume') return;
    throw err;
  }
  if (isSnapshot(v)) throw invalidArgument(`${name} is a snapshot; use DeleteSnapshot`);
  const marker = ownMarker(v, ctx.owner);
  const ourCopy = !marker && (v.comment ?? '') === '' && v.name.startsWith(`${Role.volume}-`) && isCopyTarget(v);
  if (!marker && !ourCopy) throw failedPrecondition(`volume ${name} does not carry this cluster's marker; the driver never deletes it`);
  await sweepOnce(backend, c, ctx);
  for (let attempt = 1; ; attempt++) {
    try {
      await c.deleteVolume(name);
      backend.copyTasks.delete(name);
      ctx.log.info({ volume: name }, 'volume deleted');
      // A copy the driver made that never completed (cancelled above, or failed) leaves the
      // array's helper snapshots; an imported volume's parent is never the driver's to delete.
      if (v.copyOf !== undefined && !marker?.im) await removeCopyHelpers(c, v.copyOf, ctx);
      // A copy of a read-only snapshot leaves its temporary source at the latest here.
      if (marker?.s) await removeCopySource(c, name, ctx);
      return;
    } catch (err) {
      const cond = conditionOf(err);
      // Gone meanwhile (a racing delete): the outcome the caller wants.
      if (cond === 'no-volume') return;
      if (attempt >= DELETE_ATTEMPTS) throw err;
      if (cond === 'copy-busy') await cancelCopy(backend, c, name, ctx);
      else if (cond === 'in-use') await clearInUse(c, name, marker, ctx);
      else if (cond === 'has-children') {
        // Own snapshots remain → soft delete; helpers of stopped copies were removed → retry.
        if (await clearChildren(c, v, ctx)) return softDelete(c, v, marker!, ctx);
      }
      else throw err;
    }
  }
}

async function assertNotExported(c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  const vluns = (await c.listVluns(ctx.signal)).filter((l) => l.volumeName === name);
  if (vluns.length > 0) throw failedPrecondition(`volume ${name} is still exported to ${[...new Set(vluns.map((l) => l.hostname ?? '?'))].join(', ')}; unpublish it first`);
}

/** IN_USE: exported → FAILED_PRECONDITION; in driver-managed VV sets → leave them. */
async function clearInUse(c: ArrayClient, name: string, marker: VolumeMarker | undefined, ctx: OpContext): Promise<void> {
  await assertNotExported(c, name, ctx);
  const sets = (await c.listVolumeSets(ctx.signal)).filter((s) => (s.setmembers ?? []).includes(name));
  for (const s of sets) {
    const managed = s.name === marker?.q || s.name.startsWith(`${Role.volumeSet}-`);
    if (!managed) throw failedPrecondition(`volume ${name} is in VV set ${s.name}, which the driver does not manage; remove it from the set first`);
    await c.removeFromVolumeSet(s.name, [name]);
    ctx.log.info({ volume: name, set: s.name }, 'volume left its VV set before delete');
  }
  if (sets.length === 0) throw busy(`volume ${name} is in use on the array; retry later`);
}

/**
 * A volume with snapshots cannot be deleted on 3PAR (they depend on it): rename it to a
 * tombstone and hide it; the last DeleteSnapshot removes it. The CSI name is free again.
 */
async function softDelete(c: ArrayClient, v: Volume, marker: VolumeMarker, ctx: OpContext): Promise<void> {
  await assertNotExported(c, v.name, ctx);
  const tomb = tombstoneNameFor(v.wwn ?? `${v.name}-${v.id ?? 0}`);
  await c.modifyVolume(v.name, { newName: tomb, comment: formatVolumeMarker({ ...marker, t: 1 }) });
  if (marker.s) await removeCopySource(c, v.name, ctx);
  ctx.log.info({ volume: v.name, tombstone: tomb }, 'volume has snapshots: soft-deleted (renamed to a tombstone)');
}

/**
 * Grows a volume this cluster owns to at least `wantMiB`. Already large enough → no change.
 * Returns the size afterwards. A copy or tune in progress → ABORTED (retry later).
 */
export async function expandVolume(c: ArrayClient, name: string, wantMiB: number, ctx: OpContext): Promise<number> {
  const v = await getVolume(c, name, ctx.signal);
  if (isSnapshot(v)) throw invalidArgument(`${name} is a snapshot`);
  if (!ownMarker(v, ctx.owner)) throw failedPrecondition(`volume ${name} does not carry this cluster's marker; the driver never changes it`);
  const current = v.sizeMiB ?? 0;
  // ControllerExpandVolume of a volume already at least that large succeeds without a change.
  if (current >= wantMiB) return current;
  try {
    await c.growVolume(name, wantMiB - current);
  } catch (err) {
    if (conditionOf(err) === 'copy-busy' || (isConflict(err) && conditionOf(err) === 'other')) throw busy(`volume ${name} is busy in a copy or tune on the array; retry later`);
    throw err;
  }
  ctx.log.info({ volume: name, fromMiB: current, toMiB: wantMiB }, 'volume grown');
  return wantMiB;
}

export interface ImportSpec {
  /** A single-node access mode: the volume gets `policies.oneHost`. */
  oneHost: boolean;
  /** The static PV's protocol, recorded in the marker. */
  protocol?: string;
}

/**
 * Marks an unmarked volume of a static PV as this cluster's (explicit import, at first publish).
 * A volume without a snapshot CPG gets its user CPG as one: the array refuses snapshots of a
 * volume without (409 NO_SNAP_CPG), and cinder sets one on every volume it creates [S CIN].
 * Returns the marker written.
 */
export async function importVolume(c: ArrayClient, v: Volume, spec: ImportSpec, ctx: OpContext): Promise<VolumeMarker> {
  if (parseVolumeMarker(v.comment) !== undefined) throw failedPrecondition(`volume ${v.name} carries another driver's or cluster's marker`);
  const marker: VolumeMarker = { v: 1, d: ctx.owner.driverName, c: ctx.owner.clusterId, im: 1, ...(spec.oneHost && { one: 1 as const }), ...(spec.protocol !== undefined && { p: spec.protocol }) };
  // The admin's own comment is kept inside the marker's bounded description.
  if (v.comment) marker.desc = v.comment.slice(0, 120);
  const snapCPG = v.snapCPG === undefined && v.userCPG !== undefined ? v.userCPG : undefined;
  await c.modifyVolume(v.name, { comment: formatVolumeMarker(marker), ...(spec.oneHost && { policies: { oneHost: true } }), ...(snapCPG !== undefined && { snapCPG }) });
  ctx.log.info({ volume: v.name, snapCPG }, 'static volume imported: marked for this cluster');
  return marker;
}

/**
 * The volume a ControllerPublish exports, as far as publish needs it: from the cache of owned
 * volumes, or read (NOT_FOUND when absent or a snapshot; a failed volume → FAILED_PRECONDITION;
 * an unmarked one is imported when the static PV says so, else FAILED_PRECONDITION). A copy
 * destination is read again on each publish until its copy has ended well.
 */
export async function publishableVolume(backend: Backend, c: ArrayClient, name: string, importSpec: ImportSpec | undefined, ctx: OpContext): Promise<OwnedVolume> {
  const cached = backend.owned.get(name);
  if (cached && !cached.copying) return cached;
  const v = await getVolume(c, name, ctx.signal);
  if (isSnapshot(v)) throw notFound(`volume ${name} does not exist`);
  refuseFailed(v);
  let marker = ownMarker(v, ctx.owner);
  if (!marker) {
    // Import is explicit: only a static PV that says import: "true" gets the marker.
    if (!importSpec) throw failedPrecondition(`volume ${name} does not carry this cluster's marker; set volumeAttributes import: "true" on the static PV to import it`);
    marker = await importVolume(c, v, importSpec, ctx);
  }
  const known: OwnedVolume = { ...cached, ...(v.wwn && { wwn: v.wwn }), ro: marker.ro === 1, ...(marker.p !== undefined && { protocol: marker.p }) };
  await settleCopy(c, v, marker, known, ctx);
  backend.owned.set(name, known);
  return known;
}

/** Records whether `v` is still a copy target; once its copy ended, its temporary source goes. */
async function settleCopy(c: ArrayClient, v: Volume, marker: VolumeMarker, known: OwnedVolume, ctx: OpContext): Promise<void> {
  if (isCopyTarget(v)) {
    known.copying = true;
    return;
  }
  if (known.copying && marker.s) await removeCopySource(c, v.name, ctx);
  delete known.copying;
}

/**
 * The source of CreateSnapshot: owned (or imported), not failed, with a snapshot CPG (an
 * imported volume from before imports set one gets its user CPG). Skipped for a volume this
 * process knows carries the marker and is no unfinished copy (no extra request on that path).
 */
export async function checkSnapshotSource(backend: Backend, c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  const cached = backend.owned.get(name);
  if (cached && !cached.copying) return;
  let v: Volume;
  try {
    v = await c.getVolume(name, ctx.signal);
  } catch (err) {
    if (conditionOf(err) === 'no-volume') throw notFound(`source volume ${name} does not exist`);
    throw err;
  }
  const marker = requireOwnedSource(v, ctx.owner);
  if (isSnapshot(v)) return;
  if (v.snapCPG === undefined && v.userCPG !== undefined) {
    await c.modifyVolume(name, { snapCPG: v.userCPG });
    ctx.log.info({ volume: name, snapCPG: v.userCPG }, 'volume had no snapshot CPG: its user CPG was set');
  }
  const known: OwnedVolume = { ...cached, ...(v.wwn && { wwn: v.wwn }), ro: marker.ro === 1, ...(marker.p !== undefined && { protocol: marker.p }) };
  await settleCopy(c, v, marker, known, ctx);
  backend.owned.set(name, known);
}

/**
 * Records in the volume's marker whether its exports are read-only (one GET, one PUT); called
 * only when the first export is made with the flag the marker does not say already.
 */
export async function setReadOnlyExports(c: ArrayClient, name: string, readonly: boolean, owner: Owner, signal?: AbortSignal): Promise<void> {
  const v = await getVolume(c, name, signal);
  const marker = ownMarker(v, owner);
  if (!marker) throw failedPrecondition(`volume ${name} does not carry this cluster's marker`);
  const next: VolumeMarker = { ...marker };
  if (readonly) next.ro = 1;
  else delete next.ro;
  await c.modifyVolume(name, { comment: formatVolumeMarker(next) });
}
