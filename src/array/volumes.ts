import { alreadyExists, busy, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { Backend, OwnedVolume } from './backend.js';
import type { ArrayClient, CreateVolumeBody } from './client.js';
import type { VolumeSpec } from './domain.js';
import { cancelCopy, claimCopyHelpers, deleteVolumeConfirmed, removeCopySource, removeHelpers } from './copies.js';
import { conditionOf, isConflict } from './errors.js';
import { formatVolumeMarker, ownerMarker, parseVolumeMarker, type VolumeMarker } from './marker.js';
import { Role, tombstoneNameFor } from './names.js';
import {
  isCopyTarget,
  isSnapshot,
  ownHelperMarker,
  ownMarker,
  refuseFailed,
  requireOwnedSource,
  type OpContext,
  type Owner,
} from './ops.js';
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

/** Reads a volume; NOT_FOUND (naming it as `what`) when absent. */
export async function getVolume(c: ArrayClient, name: string, signal?: AbortSignal, what = 'volume'): Promise<Volume> {
  try {
    return await c.getVolume(name, signal);
  } catch (err) {
    if (conditionOf(err) === 'no-volume') throw notFound(`${what} ${name} does not exist`);
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
    if (cond === 'no-cpg')
      throw invalidArgument(`CPG ${spec.body.cpg} or ${spec.body.snapCPG ?? ''} does not exist on the array`);
    if (cond !== 'volume-exists') throw err;
  }
  // A repeated CreateVolume (or a retry after a lost response) finds the earlier volume.
  const v = await c.getVolume(name, ctx.signal);
  const m = ownMarker(v, ctx.owner);
  if (!m || m.r !== spec.identity) throw alreadyExists(`volume ${name} exists with different parameters`);
  if ((v.sizeMiB ?? 0) < spec.body.sizeMiB)
    throw alreadyExists(`volume ${name} exists with a smaller size (${v.sizeMiB} MiB)`);
  if (spec.qosName) await joinSet(c, spec.qosName, name, true);
  return v;
}

/** Adds a volume to a VV set; on a repeat an "already a member" refusal is fine. */
async function joinSet(c: ArrayClient, set: string, name: string, repeat: boolean): Promise<void> {
  try {
    await c.addToVolumeSet(set, [name]);
  } catch (err) {
    if (conditionOf(err) === 'no-set')
      throw invalidArgument(`parameter "qosName": VV set ${set} does not exist on the array`);
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
  if (!marker && !ourCopy)
    throw failedPrecondition(`volume ${name} does not carry this cluster's marker; the driver never deletes it`);
  await sweepOnce(backend, c, ctx);
  // A copy the driver made that never completed (cancelled below, or failed) leaves the array's
  // helper snapshots, marked as this cluster's before each delete attempt until they carry the
  // mark (claimCopyHelpers). A volume created empty or imported was never a copy the driver made:
  // its parent (an admin's offline copy, a restore) is never the driver's to delete.
  const takesHelpers = v.copyOf !== undefined && !marker?.im && marker?.e !== 1;
  let helpers: Volume[] | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      if (takesHelpers && !helpers?.every((h) => ownHelperMarker(h, ctx.owner)))
        helpers = await claimCopyHelpers(c, v.copyOf, name, ctx);
      await deleteVolumeConfirmed(c, name, ctx.signal);
      backend.copyTasks.delete(name);
      ctx.log.info({ volume: name }, 'volume deleted');
      if (helpers) await removeHelpers(c, helpers, ctx);
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
      } else throw err;
    }
  }
}

async function assertNotExported(c: ArrayClient, name: string, ctx: OpContext): Promise<void> {
  const vluns = (await c.listVluns(ctx.signal)).filter((l) => l.volumeName === name);
  if (vluns.length > 0)
    throw failedPrecondition(
      `volume ${name} is still exported to ${[...new Set(vluns.map((l) => l.hostname ?? '?'))].join(', ')}; unpublish it first`,
    );
}

/** IN_USE: exported → FAILED_PRECONDITION; in driver-managed VV sets → leave them. */
async function clearInUse(
  c: ArrayClient,
  name: string,
  marker: VolumeMarker | undefined,
  ctx: OpContext,
): Promise<void> {
  await assertNotExported(c, name, ctx);
  const sets = (await c.listVolumeSets(ctx.signal)).filter((s) => (s.setmembers ?? []).includes(name));
  for (const s of sets) {
    const managed = s.name === marker?.q || s.name.startsWith(`${Role.volumeSet}-`);
    if (!managed)
      throw failedPrecondition(
        `volume ${name} is in VV set ${s.name}, which the driver does not manage; remove it from the set first`,
      );
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
  if (!ownMarker(v, ctx.owner))
    throw failedPrecondition(`volume ${name} does not carry this cluster's marker; the driver never changes it`);
  const current = v.sizeMiB ?? 0;
  // ControllerExpandVolume of a volume already at least that large succeeds without a change.
  if (current >= wantMiB) return current;
  try {
    await c.growVolume(name, wantMiB - current);
  } catch (err) {
    if (conditionOf(err) === 'copy-busy' || (isConflict(err) && conditionOf(err) === 'other'))
      throw busy(`volume ${name} is busy in a copy or tune on the array; retry later`);
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
  if (parseVolumeMarker(v.comment) !== undefined)
    throw failedPrecondition(`volume ${v.name} carries another driver's or cluster's marker`);
  const marker = ownerMarker(ctx.owner, {
    im: 1,
    ...(spec.oneHost && { one: 1 as const }),
    ...(spec.protocol !== undefined && { p: spec.protocol }),
  });
  // The admin's own comment is kept inside the marker's bounded description.
  if (v.comment) marker.desc = v.comment.slice(0, 120);
  const snapCPG = v.snapCPG === undefined && v.userCPG !== undefined ? v.userCPG : undefined;
  await c.modifyVolume(v.name, {
    comment: formatVolumeMarker(marker),
    ...(spec.oneHost && { policies: { oneHost: true } }),
    ...(snapCPG !== undefined && { snapCPG }),
  });
  ctx.log.info({ volume: v.name, snapCPG }, 'static volume imported: marked for this cluster');
  return marker;
}

/** What a volume is read for: a publish (which may import it), or the source of a snapshot. */
export type VolumeUse = { use: 'publish'; importSpec?: ImportSpec } | { use: 'snapshot-source' };

/**
 * A volume this cluster owns, as publish and CreateSnapshot need it: from the cache of owned
 * volumes (no request), else read and remembered. A copy destination is read again each time
 * until its copy has ended well. NOT_FOUND when absent; a failed volume → FAILED_PRECONDITION.
 * For a publish: a snapshot is NOT_FOUND, and an unmarked volume is imported when the static PV
 * says so, else FAILED_PRECONDITION. For a snapshot source: unmarked → FAILED_PRECONDITION; a
 * snapshot is a valid source and nothing is remembered of it (`{}`); a volume without a snapshot
 * CPG (imported before imports set one) gets its user CPG.
 */
export async function knownVolume(
  backend: Backend,
  c: ArrayClient,
  name: string,
  use: VolumeUse,
  ctx: OpContext,
): Promise<OwnedVolume> {
  const cached = backend.owned.get(name);
  if (cached && !cached.copying) return cached;
  let v: Volume;
  let marker: VolumeMarker;
  if (use.use === 'snapshot-source') {
    v = await getVolume(c, name, ctx.signal, 'source volume');
    marker = requireOwnedSource(v, ctx.owner);
    if (isSnapshot(v)) return {};
    await ensureSnapCpg(c, v, ctx);
  } else {
    v = await getVolume(c, name, ctx.signal);
    if (isSnapshot(v)) throw notFound(`volume ${name} does not exist`);
    refuseFailed(v);
    // Import is explicit: only a static PV that says import: "true" gets the marker.
    marker =
      ownMarker(v, ctx.owner) ??
      (use.importSpec ? await importVolume(c, v, use.importSpec, ctx) : refuseUnmarked(name));
  }
  const known: OwnedVolume = {
    ...cached,
    ...(v.wwn && { wwn: v.wwn }),
    ro: marker.ro === 1,
    ...(marker.p !== undefined && { protocol: marker.p }),
  };
  await settleCopy(c, v, marker, known, ctx);
  backend.owned.set(name, known);
  return known;
}

function refuseUnmarked(name: string): never {
  throw failedPrecondition(
    `volume ${name} does not carry this cluster's marker; set volumeAttributes import: "true" on the static PV to import it`,
  );
}

/** The array refuses snapshots of a volume without a snapshot CPG (409 NO_SNAP_CPG): its user CPG becomes one. */
async function ensureSnapCpg(c: ArrayClient, v: Volume, ctx: OpContext): Promise<void> {
  if (v.snapCPG !== undefined || v.userCPG === undefined) return;
  await c.modifyVolume(v.name, { snapCPG: v.userCPG });
  ctx.log.info({ volume: v.name, snapCPG: v.userCPG }, 'volume had no snapshot CPG: its user CPG was set');
}

/** Records whether `v` is still a copy target; once its copy ended, its temporary source goes. */
async function settleCopy(
  c: ArrayClient,
  v: Volume,
  marker: VolumeMarker,
  known: OwnedVolume,
  ctx: OpContext,
): Promise<void> {
  if (isCopyTarget(v)) {
    known.copying = true;
    return;
  }
  if (known.copying && marker.s) await removeCopySource(c, v.name, ctx);
  delete known.copying;
}

/**
 * The read-only rule of ControllerPublish (CSI: published with an incompatible readonly flag →
 * ALREADY_EXISTS). A VLUN cannot be read-only, so the flag of the volume's exports lives in its
 * marker: the first export (`exported` false: no VLUN to any host) records the request's flag;
 * a later one must match it. `known` is the remembered state, updated here.
 */
export async function checkReadonlyExports(
  c: ArrayClient,
  name: string,
  known: OwnedVolume,
  readonly: boolean,
  exported: boolean,
  ctx: OpContext,
  id = name,
): Promise<void> {
  if ((known.ro ?? false) === readonly) return;
  if (!exported) {
    await setReadOnlyExports(c, name, readonly, ctx.owner, ctx.signal);
    known.ro = readonly;
    return;
  }
  // The remembered flag may be stale (another driver process): the marker decides.
  known.ro = ownMarker(await getVolume(c, name, ctx.signal), ctx.owner)?.ro === 1;
  if (known.ro !== readonly)
    throw alreadyExists(
      `volume ${id} is published ${known.ro ? 'read-only' : 'read-write'}; unpublish it everywhere before publishing it ${readonly ? 'read-only' : 'read-write'}`,
    );
}

/**
 * Records in the volume's marker whether its exports are read-only (one GET, one PUT); called
 * only when the first export is made with the flag the marker does not say already.
 */
export async function setReadOnlyExports(
  c: ArrayClient,
  name: string,
  readonly: boolean,
  owner: Owner,
  signal?: AbortSignal,
): Promise<void> {
  const v = await getVolume(c, name, signal);
  const marker = ownMarker(v, owner);
  if (!marker) throw failedPrecondition(`volume ${name} does not carry this cluster's marker`);
  const next: VolumeMarker = { ...marker };
  if (readonly) next.ro = 1;
  else delete next.ro;
  await c.modifyVolume(name, { comment: formatVolumeMarker(next) });
}

/**
 * INVALID_ARGUMENT when the backend's firmware is too old for a provisioning type or for turning
 * compression on or off (the feature table, wsapi/features.ts): for a create and for a tune alike.
 */
export function requireFirmwareFor(backend: Backend, provisioningType: string | undefined, compression: boolean): void {
  const f = backend.features;
  if (provisioningType === 'dedup' && !f.tdvv)
    throw invalidArgument(
      `parameter "provisioningType": dedup needs 3PAR OS 3.2.1 MU1 (build 30201120) or later; backend ${backend.id} runs an older release`,
    );
  if (provisioningType === 'reduce' && !f.reduce)
    throw invalidArgument(
      `parameter "provisioningType": reduce needs WSAPI 1.6 or later; backend ${backend.id} has an older release`,
    );
  if (compression && !f.compression)
    throw invalidArgument(
      `parameter "compression": needs 3PAR OS 3.3.1 (build 30301215) or later; backend ${backend.id} runs an older release`,
    );
}

/** Volume fields of the create request that only the array's firmware decides (INVALID_ARGUMENT when it is too old). */
export function provisioning(
  spec: Pick<VolumeSpec, 'provisioning' | 'compression'>,
  backend: Backend,
): Pick<CreateVolumeBody, 'tpvv' | 'tdvv' | 'reduce' | 'compression'> {
  requireFirmwareFor(backend, spec.provisioning, spec.compression === true);
  const out: Pick<CreateVolumeBody, 'tpvv' | 'tdvv' | 'reduce' | 'compression'> = {};
  if (spec.provisioning === 'tpvv') out.tpvv = true;
  if (spec.provisioning === 'dedup') out.tdvv = true;
  if (spec.provisioning === 'reduce') out.reduce = true;
  if (spec.compression) out.compression = true;
  return out;
}
