/**
 * Volume actions that run as tasks besides copies: promote a snapshot onto its base (action 4,
 * stop with action 5) and tune (action 6: move user/snapshot space to another CPG, convert
 * thin↔full, optionally keeping the original as `keepVV`). While a tune runs, grow, delete,
 * copy and another tune are refused with INV_OPERATION_VV_TUNE_IN_PROGRESS.
 */
import { F, read, validate, type Schema } from '../validate.js';
import { COPY, PROV, TASK_STATUS, TASK_TYPE, type TaskRec, type VolumeRec } from './types.js';
import type { Caller, Reply, Sim } from './context.js';

function taskLinks(t: TaskRec): Reply {
  return { status: 200, body: { taskid: t.id, links: [{ href: `/api/v1/tasks/${t.id}`, rel: 'self' }] } };
}

const PROMOTE_SCHEMA: Schema = {
  action: { type: { t: 'action' }, required: true },
  online: F.bool(),
  priority: F.enumOf([1, 2, 3]),
};

export async function promoteSnapshot(sim: Sim, snap: VolumeRec, body: unknown, caller: Caller): Promise<Reply> {
  const e = sim.errors;
  const b = validate(e, body, PROMOTE_SCHEMA);
  if (snap.copyType !== COPY.VIRTUAL_COPY) throw e.err('INV_OPERATION_UNSUPPORTED_VV_TYPE');
  const base = sim.array.volumeById(snap.baseId);
  if (!base) throw e.err('NON_EXISTENT_VOL');
  const running = sim.array.activeTaskOf(base.id);
  if (running?.kind === 'promote') throw e.err('INV_OPERATION_VV_PROMOTE_IN_PROGRESS');
  if (running) throw e.err('INV_OPERATION_VV_IS_BUSY');
  if (read.bool(b, 'online') !== true && sim.array.isExported(base.id))
    throw e.err('INV_OPERATION_PROMOTE_BASE_EXPORTED');
  await sim.data?.copy(snap.wwn, base.wwn, base.sizeMiB);
  const task = sim.tasks.start({
    kind: 'promote',
    type: TASK_TYPE.PROMOTE_SV,
    name: base.name,
    user: caller.user,
    totalMiB: base.provisioningType === PROV.FULL ? base.sizeMiB : sim.array.usedMiB(base),
    priority: read.num(b, 'priority') ?? 2,
    sourceId: snap.id,
    destId: base.id,
  });
  sim.array.touch();
  return taskLinks(task);
}

export function stopPromote(sim: Sim, snap: VolumeRec): Reply {
  const t = sim.array.tasks.find(
    (x) => x.kind === 'promote' && x.status === TASK_STATUS.ACTIVE && x.sourceId === snap.id,
  );
  if (!t) throw sim.errors.err('INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS');
  sim.tasks.end(t, TASK_STATUS.CANCELLED);
  return { status: 200 };
}

function tuneSchema(sim: Sim): Schema {
  return {
    action: { type: { t: 'action' }, required: true },
    tuneOperation: F.enumOf([1, 2], true),
    userCPG: F.name31(),
    snapCPG: F.name31(),
    conversionOperation: F.enumOf(sim.opts.profile.tdvv ? [1, 2, 3] : [1, 2]),
    keepVV: F.name31(),
    // WSAPI 1.6: compression on or off while the space moves.
    ...(sim.opts.profile.reduce ? { compression: F.bool() } : {}),
  };
}

export function tuneVolume(sim: Sim, v: VolumeRec, body: unknown, caller: Caller): Reply {
  const e = sim.errors;
  const b = validate(e, body, tuneSchema(sim));
  const op = read.num(b, 'tuneOperation')!;
  const userCPG = read.str(b, 'userCPG');
  const snapCPG = read.str(b, 'snapCPG');
  const conversion = read.num(b, 'conversionOperation');
  if (v.copyType === COPY.VIRTUAL_COPY) throw e.err('INV_OPERATION_VV_CPG_ON_SNAPSHOT');
  if (op === 1) {
    if (userCPG === undefined) throw e.err('INV_INPUT_MISSING_REQUIRED', 'userCPG');
    if (snapCPG !== undefined) throw e.err('INV_INPUT_PARAM_CONFLICT', 'snapCPG');
  } else {
    if (snapCPG === undefined) throw e.err('INV_INPUT_MISSING_REQUIRED', 'snapCPG');
    if (userCPG !== undefined || conversion !== undefined)
      throw e.err('INV_INPUT_PARAM_CONFLICT', userCPG !== undefined ? 'userCPG' : 'conversionOperation');
  }
  for (const [k, c] of [
    ['userCPG', userCPG],
    ['snapCPG', snapCPG],
  ] as const) {
    if (c !== undefined && !sim.array.cpg(c)) throw e.err('NON_EXISTENT_CPG', k);
  }
  const thin = v.provisioningType === PROV.TPVV || v.provisioningType === PROV.TDVV;
  if (conversion === 1 && v.provisioningType === PROV.TPVV) throw e.err('INV_INPUT_VV_IS_TPVV');
  if (conversion === 2 && !thin) throw e.err('INV_INPUT_VV_IS_FPVV');
  if (conversion === 3 && v.provisioningType === PROV.TDVV) throw e.err('INV_INPUT_VV_IS_TPVV');
  const running = sim.array.activeTaskOf(v.id);
  if (running?.kind === 'tune') throw e.err('INV_OPERATION_VV_TUNE_IN_PROGRESS');
  if (running) throw e.err('INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS');
  if (v.copyType === COPY.PHYSICAL_COPY) throw e.err('INV_OPERATION_VV_IS_PCOPY');
  const keepVV = read.str(b, 'keepVV');
  if (keepVV !== undefined && sim.array.volume(keepVV)) throw e.err('EXISTENT_VOL', 'keepVV');
  // A conversion of a volume with snapshots needs keepVV (cinder retries with it on code 40
  // naming keepVV [S CIN hpe_3par_common.py _convert_to_base_volume / tune]).
  const hasSnapshots = sim.array.childrenOf(v.id).some((c) => c.copyType === COPY.VIRTUAL_COPY);
  if (conversion !== undefined && hasSnapshots && keepVV === undefined)
    throw e.err('INV_INPUT_MISSING_REQUIRED', 'keepVV');
  if (op === 2 && hasSnapshots) throw e.err('INV_OPERATION_VV_SNAPCPG_WITH_SNAPSHOTS', 'snapCPG');
  const targetCpg = userCPG ?? v.userCPG;
  const willBeFull = conversion === 2 || (!thin && conversion === undefined);
  const need = willBeFull ? v.sizeMiB : sim.array.usedMiB(v);
  if (
    op === 1 &&
    targetCpg !== undefined &&
    (targetCpg !== v.userCPG || conversion !== undefined) &&
    need > sim.array.cpgFreeMiB(targetCpg)
  )
    throw e.err('NO_SPACE');
  const tune: NonNullable<TaskRec['tune']> = {};
  if (userCPG !== undefined) tune.userCPG = userCPG;
  if (snapCPG !== undefined) tune.snapCPG = snapCPG;
  if (conversion !== undefined) tune.conversion = conversion;
  if (keepVV !== undefined) tune.keepVV = keepVV;
  const compression = read.bool(b, 'compression');
  if (compression !== undefined) {
    if (op !== 1) throw e.err('INV_INPUT_PARAM_CONFLICT', 'compression');
    if (compression && (conversion === 2 || (!thin && conversion === undefined)))
      throw e.err('INV_INPUT', 'compression', 'compression needs a thin volume');
    tune.compression = compression;
  }
  const task = sim.tasks.start({
    kind: 'tune',
    type: conversion !== undefined ? TASK_TYPE.CONVERT_VV : TASK_TYPE.MOVE_REGIONS,
    name: v.name,
    user: caller.user,
    totalMiB: thin ? sim.array.usedMiB(v) : v.sizeMiB,
    sourceId: v.id,
    tune,
  });
  sim.array.touch();
  return taskLinks(task);
}
