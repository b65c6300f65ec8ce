/**
 * Copy operations on volumes (REFERENCE.md §6): createSnapshot, createPhysicalCopy (online: the
 * array creates the destination, usable at once; offline: into an existing volume, which stays
 * linked), stop/resync of a physical copy, and what happens to the volumes when a copy task
 * ends. Data is copied when the operation starts (the content at that moment, as the array's
 * internal snapshot gives); the task then only models the time the array takes.
 */
import { F, read, validate, type Schema } from '../validate.js';
import { TASK_STATUS, TASK_TYPE, COPY, PROV, VSTATE, type TaskRec, type VolumeRec } from './types.js';
import {
  applyOptionalFields,
  checkPoliciesAndLimits,
  checkSpace,
  isOnlineCopyTarget,
  newVolumeRecord,
  removeVolumeNow,
} from './volumes.js';
import type { Caller, Reply, Sim } from './context.js';

export const SNAPSHOT_PARAMS: Schema = {
  name: F.name31(true),
  id: F.igint32(),
  comment: F.text(511),
  readOnly: F.bool(),
  expirationHours: F.igint32(false, true),
  retentionHours: F.igint32(false, true),
};

/** Snapshot checks shared with VV-set snapshots (which create one per member). */
export function checkSnapshotSource(sim: Sim, src: VolumeRec, readOnly: boolean): void {
  const e = sim.errors;
  if (src.snapCPG === undefined) throw e.err('NO_SNAP_CPG');
  if (src.readOnly && src.copyType === COPY.VIRTUAL_COPY && readOnly)
    throw e.err('INV_OPERATION_VV_READONLY_TO_READONLY_SNAP');
  if (isOnlineCopyTarget(sim, src)) throw e.err('INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS');
}

/** Makes the snapshot record (caller checked the name) and copies the data. */
export async function makeSnapshot(
  sim: Sim,
  src: VolumeRec,
  name: string,
  p: Record<string, unknown>,
): Promise<VolumeRec> {
  const snap = newVolumeRecord(sim, {
    ...(typeof p['id'] === 'number' ? { id: p['id'] } : {}),
    baseId: src.baseId,
    name,
    provisioningType: PROV.SNP,
    copyType: COPY.VIRTUAL_COPY,
    parentId: src.id,
    readOnly: p['readOnly'] === true,
    sizeMiB: src.sizeMiB,
    policies: { ...src.policies },
    ...(src.snapCPG === undefined ? {} : { snapCPG: src.snapCPG }),
  });
  applyOptionalFields(snap, p);
  sim.array.addVolume(snap);
  await sim.data?.copy(src.wwn, snap.wwn, snap.sizeMiB);
  return snap;
}

export async function createSnapshot(sim: Sim, src: VolumeRec, params: unknown): Promise<Reply> {
  const e = sim.errors;
  const p = validate(e, params, SNAPSHOT_PARAMS, 'parameters.');
  checkPoliciesAndLimits(sim, p, true);
  const name = read.str(p, 'name')!;
  if (sim.array.volume(name)) throw e.err('EXISTENT_VOL', 'name');
  const id = read.num(p, 'id');
  if (id !== undefined && sim.array.volumeById(id)) throw e.err('EXISTENT_ID', 'id');
  checkSnapshotSource(sim, src, read.bool(p, 'readOnly') === true);
  await makeSnapshot(sim, src, name, p);
  sim.array.touch();
  return { status: sim.opts.snapshotCreateStatus, location: `/api/v1/volumes/${name}` };
}

function copySchema(sim: Sim): Schema {
  const s: Schema = {
    destVolume: F.name31(true),
    online: F.bool(),
    destCPG: F.name31(),
    tpvv: F.bool(),
    snapCPG: F.name31(),
    saveSnapshot: F.bool(),
    priority: F.enumOf([1, 2, 3]),
  };
  if (sim.opts.profile.tdvv) s['tdvv'] = F.bool();
  if (sim.opts.profile.reduce) {
    s['reduce'] = F.bool();
    s['compression'] = F.bool();
  }
  return s;
}

const ONLINE_ONLY = ['destCPG', 'tpvv', 'snapCPG', 'tdvv', 'reduce', 'compression'];
const OFFLINE_ONLY = ['saveSnapshot', 'priority'];

/** MiB a copy of `v` moves: only used space for thin volumes. */
async function copyAmountMiB(sim: Sim, v: VolumeRec): Promise<number> {
  if (v.provisioningType === PROV.FULL) return v.sizeMiB;
  if (sim.data) return sim.data.allocatedMiB(v.wwn);
  return sim.array.usedMiB(v.provisioningType === PROV.SNP ? (sim.array.volumeById(v.baseId) ?? v) : v);
}

function taskReply(task: TaskRec, location?: string): Reply {
  return { status: 200, body: { taskid: task.id }, ...(location ? { location } : {}) };
}

export async function createPhysicalCopy(sim: Sim, src: VolumeRec, params: unknown, caller: Caller): Promise<Reply> {
  const e = sim.errors;
  const p = validate(e, params, copySchema(sim), 'parameters.');
  const online = read.bool(p, 'online') === true;
  const conflict = (online ? OFFLINE_ONLY : ONLINE_ONLY).find((k) => p[k] !== undefined);
  if (conflict) throw e.err('INV_INPUT_PARAM_CONFLICT', conflict);
  const destName = read.str(p, 'destVolume')!;
  if (sim.array.activeTaskOf(src.id, ['tune'])) throw e.err('INV_OPERATION_VV_TUNE_IN_PROGRESS');
  if (isOnlineCopyTarget(sim, src)) throw e.err('INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS');
  if (src.copyType === COPY.VIRTUAL_COPY && src.readOnly && sim.opts.copyFromReadOnlySnapshot === 'refuse')
    throw e.err('INV_OPERATION_VV_READONLY_SNAPSHOT');
  if (online) return onlineCopy(sim, src, destName, p, caller);
  const dest = sim.array.volume(destName);
  if (!dest) throw e.err('NON_EXISTENT_VOL', 'destVolume');
  if (dest === src) throw e.err('INV_INPUT_PARAM_CONFLICT', 'destVolume');
  if (dest.copyType === COPY.VIRTUAL_COPY) throw e.err('INV_OPERATION_UNSUPPORTED_VV_TYPE', 'destVolume');
  if (dest.copyType === COPY.PHYSICAL_COPY && dest.parentId !== src.id)
    throw e.err('INV_OPERATION_VV_IS_PCOPY', 'destVolume');
  if (sim.array.activeTaskOf(dest.id)) throw e.err('INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS', 'destVolume');
  if (sim.array.isExported(dest.id)) throw e.err('INV_OPERATION_VLUN_PCOPY_TARGET_VV', 'destVolume');
  if (sim.array.childrenOf(dest.id).length > 0) throw e.err('HAS_CHILD', 'destVolume');
  if (src.sizeMiB > dest.sizeMiB) throw e.err('INV_OPERATION_VV_COPY_PARENT_TOO_BIG');
  dest.copyType = COPY.PHYSICAL_COPY;
  dest.parentId = src.id;
  dest.failedStates = [];
  sim.array.reindex();
  await sim.data?.copy(src.wwn, dest.wwn, dest.sizeMiB);
  const task = sim.tasks.start({
    kind: 'offline-copy',
    type: TASK_TYPE.VV_COPY,
    name: dest.name,
    user: caller.user,
    totalMiB: await copyAmountMiB(sim, src),
    priority: read.num(p, 'priority') ?? 2,
    sourceId: src.id,
    destId: dest.id,
    saveSnapshot: read.bool(p, 'saveSnapshot') === true,
  });
  sim.array.touch();
  return taskReply(task, `/api/v1/volumes/${dest.name}`);
}

async function onlineCopy(
  sim: Sim,
  src: VolumeRec,
  destName: string,
  p: Record<string, unknown>,
  caller: Caller,
): Promise<Reply> {
  const e = sim.errors;
  const destCPG = read.str(p, 'destCPG');
  if (destCPG === undefined) throw e.err('INV_INPUT_MISSING_REQUIRED', 'destCPG');
  if (sim.array.volume(destName)) throw e.err('EXISTENT_VOL', 'destVolume');
  if (!sim.array.cpg(destCPG)) throw e.err('NON_EXISTENT_CPG', 'destCPG');
  const snapCPG = read.str(p, 'snapCPG');
  if (snapCPG !== undefined && !sim.array.cpg(snapCPG)) throw e.err('NON_EXISTENT_CPG', 'snapCPG');
  if (p['tpvv'] === true && p['tdvv'] === true) throw e.err('INV_INPUT_PARAM_CONFLICT', 'tpvv,tdvv');
  const thin = p['tpvv'] === true || p['tdvv'] === true;
  const amount = await copyAmountMiB(sim, src);
  checkSpace(sim, destCPG, src.sizeMiB, thin, amount);
  const dest = newVolumeRecord(sim, {
    name: destName,
    provisioningType: p['tdvv'] === true ? PROV.TDVV : thin ? PROV.TPVV : PROV.FULL,
    copyType: COPY.PHYSICAL_COPY,
    parentId: src.id,
    readOnly: false,
    sizeMiB: src.sizeMiB,
    policies: { staleSS: true, oneHost: false, zeroDetect: false },
    userCPG: destCPG,
    ...(snapCPG === undefined ? {} : { snapCPG }),
    ...(thin ? { usedMiB: amount } : {}),
  });
  if (p['compression'] === true || p['reduce'] === true) dest.compression = true;
  const helpers = sim.opts.onlineCopySnapshots === 'chain' ? makeCopyHelpers(sim, src) : undefined;
  if (helpers) dest.parentId = helpers[0].id;
  sim.array.addVolume(dest);
  await sim.data?.copy(src.wwn, dest.wwn, dest.sizeMiB);
  const task = sim.tasks.start({
    kind: 'online-copy',
    type: TASK_TYPE.ONLINE_COPY,
    name: destName,
    user: caller.user,
    totalMiB: amount,
    sourceId: src.id,
    destId: dest.id,
  });
  if (helpers) task.helperIds = helpers.map((h) => h.id);
  sim.array.touch();
  return taskReply(task, `/api/v1/volumes/${destName}`);
}

/**
 * The array's helper snapshots of an online copy's source: a read-only snapshot of the source
 * and a read-write snapshot of that one, which the destination is a copy of. python-3parclient's
 * stopOnlinePhysicalCopy finds exactly this chain after a cancel (the destination's `copyOf`, and
 * that one's `copyOf`) and deletes all three [S]. Returned read-write first. They hold no data of
 * their own here (the copy's data is taken when it starts). Their names follow createsv's
 * automatic `<parent>.ro` / `.rw` pattern [G CLI reference createsv]; what the array names them
 * is [U], and so is anything a longer name gets (here `vvcp<id>.ro` / `.rw`).
 */
function makeCopyHelpers(sim: Sim, src: VolumeRec): [VolumeRec, VolumeRec] {
  const snapOf = (parent: VolumeRec, readOnly: boolean): VolumeRec => {
    const snap = newVolumeRecord(sim, {
      baseId: parent.baseId,
      name: helperName(sim, parent, readOnly ? 'ro' : 'rw'),
      provisioningType: PROV.SNP,
      copyType: COPY.VIRTUAL_COPY,
      parentId: parent.id,
      readOnly,
      sizeMiB: parent.sizeMiB,
      policies: { ...parent.policies },
      ...(src.snapCPG === undefined ? {} : { snapCPG: src.snapCPG }),
      copyHelper: true,
    });
    sim.array.addVolume(snap);
    return snap;
  };
  const ro = snapOf(src, true);
  return [snapOf(ro, false), ro];
}

function helperName(sim: Sim, parent: VolumeRec, type: 'ro' | 'rw'): string {
  for (const suffix of ['', ...Array.from({ length: 10 }, (_, i) => String(i))]) {
    const name = `${parent.name}.${type}${suffix}`;
    if (name.length <= 31 && !sim.array.volume(name)) return name;
  }
  return `vvcp${sim.array.state.nextVolumeId}.${type}`;
}

/** The array removes a finished online copy's helper snapshots (read-write one first). */
function removeCopyHelpers(sim: Sim, t: TaskRec): void {
  for (const id of t.helperIds ?? []) {
    const h = sim.array.volumeById(id);
    if (h && sim.array.childrenOf(h.id).length === 0) removeVolumeNow(sim, h);
  }
}

/** PUT action 1: unlink a physical copy from its parent (stopping a running offline copy). */
export function stopPhysicalCopy(sim: Sim, dest: VolumeRec): Reply {
  const e = sim.errors;
  if (dest.copyType !== COPY.PHYSICAL_COPY) throw e.err('INV_OPERATION_VV_NOT_A_PCOPY');
  const task = sim.array.activeTaskOf(dest.id);
  if (task?.kind === 'online-copy') throw e.err('INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS');
  if (task) sim.tasks.end(task, TASK_STATUS.CANCELLED);
  dest.copyType = COPY.BASE;
  sim.array.unlinkParent(dest);
  sim.array.touch();
  return { status: 200 };
}

/** PUT action 2: copy the parent's current content into a linked physical copy again. */
export async function resyncPhysicalCopy(sim: Sim, dest: VolumeRec, caller: Caller): Promise<Reply> {
  const e = sim.errors;
  const parent = dest.parentId === undefined ? undefined : sim.array.volumeById(dest.parentId);
  if (dest.copyType !== COPY.PHYSICAL_COPY || !parent) throw e.err('INV_OPERATION_VV_NOT_A_PCOPY');
  if (sim.array.activeTaskOf(dest.id)) throw e.err('INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS');
  if (sim.array.isExported(dest.id)) throw e.err('INV_OPERATION_VLUN_PCOPY_TARGET_VV');
  dest.failedStates = [];
  await sim.data?.copy(parent.wwn, dest.wwn, dest.sizeMiB);
  const task = sim.tasks.start({
    kind: 'resync',
    type: TASK_TYPE.PHYS_COPY_RESYNC,
    name: dest.name,
    user: caller.user,
    totalMiB: await copyAmountMiB(sim, parent),
    sourceId: parent.id,
    destId: dest.id,
  });
  sim.array.touch();
  return taskReply(task);
}

/** The array's semantics when a copy task ends (the engine already cleared the busy marks). */
export function onTaskEnd(sim: Sim, t: TaskRec, status: number): void {
  if (t.kind === 'tune') {
    const v = t.sourceId === undefined ? undefined : sim.array.volumeById(t.sourceId);
    if (v && status === TASK_STATUS.DONE && t.tune) finishTune(sim, v, t.tune);
    return;
  }
  const dest = t.destId === undefined ? undefined : sim.array.volumeById(t.destId);
  if (!dest) return;
  if (t.kind === 'online-copy') {
    // A cancelled or failed copy leaves the destination partially copied, for the caller to
    // delete; with helper snapshots it stays their copy (`copyOf`), as python-3parclient finds it
    // after a stop, and the snapshots stay until the caller deletes them [S]. A finished copy is an
    // independent base volume and the array removes the helpers.
    if (status === TASK_STATUS.FAILED) dest.failedStates = [VSTATE.COPY_FAILED];
    if (t.helperIds !== undefined && status !== TASK_STATUS.DONE) return;
    dest.copyType = COPY.BASE;
    sim.array.unlinkParent(dest);
    if (status === TASK_STATUS.DONE) removeCopyHelpers(sim, t);
  } else if ((t.kind === 'offline-copy' || t.kind === 'resync') && status === TASK_STATUS.FAILED) {
    dest.failedStates = [VSTATE.COPY_FAILED];
  }
}

function finishTune(sim: Sim, v: VolumeRec, tune: NonNullable<TaskRec['tune']>): void {
  if (tune.keepVV !== undefined && !sim.array.volume(tune.keepVV)) {
    // The original layout survives as a new volume named keepVV (a rollback copy).
    const {
      id: _id,
      uuid: _uuid,
      wwn: _wwn,
      baseId: _base,
      creationTimeSec: _ct,
      parentId: _parent,
      comment: _comment,
      busyTaskIds: _busy,
      failedStates: _failed,
      ...layout
    } = v;
    const kept = newVolumeRecord(sim, { ...layout, name: tune.keepVV });
    sim.array.addVolume(kept);
    void sim.data?.copy(v.wwn, kept.wwn, kept.sizeMiB).catch(() => undefined);
  }
  if (tune.userCPG !== undefined) v.userCPG = tune.userCPG;
  if (tune.snapCPG !== undefined) v.snapCPG = tune.snapCPG;
  if (tune.conversion === 1) v.provisioningType = PROV.TPVV;
  if (tune.conversion === 2) {
    v.provisioningType = PROV.FULL;
    delete v.usedMiB;
  }
  if (tune.conversion === 3) v.provisioningType = PROV.TDVV;
  if (tune.compression !== undefined) v.compression = tune.compression;
  if (v.provisioningType === PROV.FULL) delete v.compression;
  sim.array.spaceChanged();
}
