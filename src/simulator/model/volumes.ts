/**
 * Volume create, modify, grow and delete (REFERENCE.md §5.5–5.8) with the array's rules: size
 * rounding to 256 MiB, CPG space, policies, allocation alerts, retention/expiration, the
 * copy/tune guards, and the delete guards (exported or in a set, children, online-copy target).
 */
import { randomUUID } from 'node:crypto';
import { F, read, validate, type Body, type Schema } from '../validate.js';
import { nowSec, roundUp, type Reply, type Sim } from './context.js';
import { COPY, PROV, type Policies, type VolumeRec } from './types.js';
import { checkCpgDomains } from './domains.js';

const MAX_HOURS = 43800;

const POLICIES: Schema = {
  staleSS: F.bool(),
  oneHost: F.bool(),
  zeroDetect: F.bool(),
  system: F.bool(),
  caching: F.bool(),
};

function createSchema(sim: Sim): Schema {
  const s: Schema = {
    name: F.name31(true),
    cpg: F.name31(true),
    sizeMiB: F.uint32(true),
    id: F.igint32(),
    comment: F.text(511),
    policies: F.object(POLICIES),
    snapCPG: F.name31(),
    ssSpcAllocWarningPct: F.igint32(),
    ssSpcAllocLimitPct: F.igint32(),
    tpvv: F.bool(),
    usrSpcAllocWarningPct: F.igint32(),
    usrSpcAllocLimitPct: F.igint32(),
    expirationHours: F.igint32(false, true),
    retentionHours: F.igint32(false, true),
  };
  if (sim.opts.profile.tdvv) s['tdvv'] = F.bool();
  if (sim.opts.profile.reduce) {
    s['reduce'] = F.bool();
    s['compression'] = F.bool();
  }
  return s;
}

/** Shared checks of policies, alerts and times for create and modify. */
export function checkPoliciesAndLimits(sim: Sim, b: Body, thin: boolean): void {
  const e = sim.errors;
  const pol = read.obj(b, 'policies');
  if (pol && (pol['system'] === true || pol['caching'] === true)) throw e.err('INV_INPUT_VV_POLICY', 'policies');
  if (pol && pol['zeroDetect'] === true && !thin)
    throw e.err('INV_OPERATION_VV_ZERO_DETECT_TPVV', 'policies.zeroDetect');
  for (const k of ['ssSpcAllocWarningPct', 'ssSpcAllocLimitPct', 'usrSpcAllocWarningPct', 'usrSpcAllocLimitPct']) {
    const v = read.num(b, k);
    if (v !== undefined && v > 100) throw e.err('INV_INPUT_EXCEEDS_RANGE', k);
  }
  if (
    !thin &&
    (read.num(b, 'usrSpcAllocWarningPct') !== undefined || read.num(b, 'usrSpcAllocLimitPct') !== undefined)
  ) {
    throw e.err('INV_INPUT_USR_ALRT_NON_TPVV', 'usrSpcAllocWarningPct');
  }
  const pairs: [string, string][] = [
    ['ssSpcAllocWarningPct', 'ssSpcAllocLimitPct'],
    ['usrSpcAllocWarningPct', 'usrSpcAllocLimitPct'],
  ];
  for (const [w, l] of pairs) {
    const wv = read.num(b, w);
    const lv = read.num(b, l);
    if (wv !== undefined && lv !== undefined && lv > 0 && wv > lv) throw e.err('INV_INPUT_WARN_GT_LIMIT', w);
  }
  const exp = read.num(b, 'expirationHours');
  const ret = read.num(b, 'retentionHours');
  if (exp !== undefined && exp > MAX_HOURS) throw e.err('INV_INPUT_TIME', 'expirationHours');
  if (ret !== undefined && ret > MAX_HOURS) throw e.err('INV_INPUT_TIME', 'retentionHours');
  if (exp !== undefined && ret !== undefined && ret > exp) throw e.err('INV_INPUT_RETAIN_GT_EXPIRE', 'retentionHours');
}

function policiesFrom(
  b: Body | undefined,
  base: Policies = { staleSS: true, oneHost: false, zeroDetect: false },
): Policies {
  if (!b) return { ...base };
  return {
    staleSS: read.bool(b, 'staleSS') ?? base.staleSS,
    oneHost: read.bool(b, 'oneHost') ?? base.oneHost,
    zeroDetect: read.bool(b, 'zeroDetect') ?? base.zeroDetect,
  };
}

/** Checks a new volume's size (already rounded) against the limit and its CPG's free space. */
export function checkSpace(sim: Sim, cpg: string, sizeMiB: number, thin: boolean, usedMiB?: number): void {
  if (sizeMiB > sim.opts.maxVolumeSizeMiB) throw sim.errors.err('TOO_LARGE', 'sizeMiB');
  const need = thin ? (usedMiB ?? Math.ceil((sizeMiB * sim.opts.thinUsedPct) / 100)) : sizeMiB;
  if (need > sim.array.cpgFreeMiB(cpg))
    throw sim.errors.err('NO_SPACE', undefined, `CPG ${cpg} has ${sim.array.cpgFreeMiB(cpg)} MiB free`);
}

/** Builds a volume record with a fresh id and WWN (the caller adds it). */
export function newVolumeRecord(
  sim: Sim,
  fields: Omit<VolumeRec, 'id' | 'uuid' | 'wwn' | 'baseId' | 'creationTimeSec' | 'busyTaskIds' | 'failedStates'> & {
    id?: number;
    baseId?: number;
  },
): VolumeRec {
  const ident = sim.array.nextVolumeIdentity(fields.id);
  const id = ident.id;
  return {
    ...fields,
    id,
    uuid: randomUUID(),
    wwn: ident.wwn,
    baseId: fields.baseId ?? id,
    creationTimeSec: nowSec(),
    busyTaskIds: [],
    failedStates: [],
  };
}

export async function createVolume(sim: Sim, body: unknown): Promise<Reply> {
  const e = sim.errors;
  const b = validate(e, body, createSchema(sim));
  const name = read.str(b, 'name')!;
  const thin = read.bool(b, 'tpvv') === true || read.bool(b, 'tdvv') === true;
  if (read.bool(b, 'tpvv') === true && read.bool(b, 'tdvv') === true)
    throw e.err('INV_INPUT_PARAM_CONFLICT', 'tpvv,tdvv');
  checkPoliciesAndLimits(sim, b, thin);
  if (sim.array.volume(name)) throw e.err('EXISTENT_VOL', 'name');
  const cpg = read.str(b, 'cpg')!;
  if (!sim.array.cpg(cpg)) throw e.err('NON_EXISTENT_CPG', 'cpg');
  const snapCPG = read.str(b, 'snapCPG');
  if (snapCPG !== undefined && !sim.array.cpg(snapCPG)) throw e.err('NON_EXISTENT_CPG', 'snapCPG');
  checkCpgDomains(sim, cpg, snapCPG);
  const requested = read.num(b, 'sizeMiB')!;
  if (requested === 0) throw e.err('INV_INPUT_EXCEEDS_RANGE', 'sizeMiB');
  const sizeMiB = roundUp(requested, 256);
  const id = read.num(b, 'id');
  if (id !== undefined && sim.array.volumeById(id)) throw e.err('EXISTENT_ID', 'id');
  checkSpace(sim, cpg, sizeMiB, thin, sim.data ? 0 : undefined);
  const now = nowSec();
  const v = newVolumeRecord(sim, {
    ...(id === undefined ? {} : { id }),
    name,
    provisioningType: read.bool(b, 'tdvv') ? PROV.TDVV : thin ? PROV.TPVV : PROV.FULL,
    copyType: COPY.BASE,
    readOnly: false,
    sizeMiB,
    policies: policiesFrom(read.obj(b, 'policies')),
    userCPG: cpg,
    ...(sim.data && thin ? { usedMiB: 0 } : {}),
  });
  applyOptionalFields(v, b, now);
  if (snapCPG !== undefined) v.snapCPG = snapCPG;
  if (read.bool(b, 'compression') === true || read.bool(b, 'reduce') === true) v.compression = true;
  sim.array.addVolume(v);
  await sim.data?.create(v.wwn, v.sizeMiB);
  sim.array.touch();
  return { status: 201, location: `/api/v1/volumes/${name}` };
}

/** Comment, alerts and times, shared by create, snapshot and modify. */
export function applyOptionalFields(v: VolumeRec, b: Body, now = nowSec()): void {
  const comment = read.str(b, 'comment');
  if (comment !== undefined) {
    if (comment === '') delete v.comment;
    else v.comment = comment;
  }
  for (const k of [
    'ssSpcAllocWarningPct',
    'ssSpcAllocLimitPct',
    'usrSpcAllocWarningPct',
    'usrSpcAllocLimitPct',
  ] as const) {
    const n = read.num(b, k);
    if (n !== undefined) v[k] = n;
  }
  const exp = read.num(b, 'expirationHours');
  if (exp !== undefined) v.expirationTimeSec = now + exp * 3600;
  const ret = read.num(b, 'retentionHours');
  if (ret !== undefined) v.retentionTimeSec = now + ret * 3600;
}

const MODIFY_SCHEMA: Schema = {
  newName: F.name31(),
  comment: F.text(511),
  expirationHours: F.igint32(false, true),
  retentionHours: F.igint32(false, true),
  policies: F.object(POLICIES),
  snapCPG: F.name31(),
  userCPG: F.name31(),
  ssSpcAllocWarningPct: F.igint32(),
  ssSpcAllocLimitPct: F.igint32(),
  usrSpcAllocWarningPct: F.igint32(),
  usrSpcAllocLimitPct: F.igint32(),
  rmSsSpcAllocWarning: F.bool(),
  rmUsrSpcAllocWarning: F.bool(),
  rmExpTime: F.bool(),
  rmSsSpcAllocLimit: F.bool(),
  rmUsrSpcAllocLimit: F.bool(),
};

/** True while `v` is the destination of a running online copy. */
export function isOnlineCopyTarget(sim: Sim, v: VolumeRec): boolean {
  const t = sim.array.activeTaskOf(v.id, ['online-copy']);
  return t !== undefined && t.destId === v.id;
}

export function modifyVolume(sim: Sim, v: VolumeRec, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, MODIFY_SCHEMA);
  if (sim.opts.refuseModifyDuringCopy && isOnlineCopyTarget(sim, v))
    throw e.err('INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS');
  // [U] whether an array takes a comment on its online copy's helper snapshots (the driver marks them).
  if (v.copyHelper && b['comment'] !== undefined && sim.opts.helperSnapshotComment === 'refuse')
    throw e.err('INV_OPERATION_VV_SYS_VOLUME', 'comment');
  const thin = v.provisioningType === PROV.TPVV || v.provisioningType === PROV.TDVV;
  checkPoliciesAndLimits(sim, b, thin || v.provisioningType === PROV.SNP);
  const isSnap = v.copyType === COPY.VIRTUAL_COPY;
  if (isSnap && (b['userCPG'] !== undefined || b['snapCPG'] !== undefined))
    throw e.err('INV_OPERATION_VV_CPG_ON_SNAPSHOT', b['userCPG'] !== undefined ? 'userCPG' : 'snapCPG');
  const userCPG = read.str(b, 'userCPG');
  if (userCPG !== undefined && thin) throw e.err('INV_OPERATION_VV_MODIFY_USR_CPG_TPVV', 'userCPG');
  for (const k of ['userCPG', 'snapCPG']) {
    const c = read.str(b, k);
    if (c !== undefined && !sim.array.cpg(c)) throw e.err('NON_EXISTENT_CPG', k);
  }
  const newSnapCpg = read.str(b, 'snapCPG');
  // Another snapshot CPG while snapshots live in the current one (issue 16 item 12; code [U]).
  if (
    newSnapCpg !== undefined &&
    v.snapCPG !== undefined &&
    newSnapCpg !== v.snapCPG &&
    sim.array.childrenOf(v.id).some((c) => c.copyType === COPY.VIRTUAL_COPY)
  )
    throw e.err('INV_OPERATION_VV_SNAPCPG_WITH_SNAPSHOTS', 'snapCPG');
  const newName = read.str(b, 'newName');
  if (newName !== undefined && newName !== v.name && sim.array.volume(newName)) throw e.err('EXISTENT_VOL', 'newName');
  const now = nowSec();
  const ret = read.num(b, 'retentionHours');
  if (ret !== undefined && v.retentionTimeSec !== undefined && now + ret * 3600 < v.retentionTimeSec)
    throw e.err('INV_INPUT_TIME', 'retentionHours');
  if (b['rmExpTime'] === true && b['expirationHours'] !== undefined)
    throw e.err('INV_INPUT_PARAM_CONFLICT', 'rmExpTime');
  // All checks passed: apply.
  if (newName !== undefined && newName !== v.name) sim.array.renameVolume(v, newName);
  applyOptionalFields(v, b, now);
  const pol = read.obj(b, 'policies');
  if (pol) v.policies = policiesFrom(pol, v.policies);
  if (userCPG !== undefined) {
    v.userCPG = userCPG;
    sim.array.spaceChanged();
  }
  const snapCPG = read.str(b, 'snapCPG');
  if (snapCPG !== undefined) v.snapCPG = snapCPG;
  if (b['rmExpTime'] === true) delete v.expirationTimeSec;
  if (b['rmSsSpcAllocWarning'] === true) delete v.ssSpcAllocWarningPct;
  if (b['rmSsSpcAllocLimit'] === true) delete v.ssSpcAllocLimitPct;
  if (b['rmUsrSpcAllocWarning'] === true) delete v.usrSpcAllocWarningPct;
  if (b['rmUsrSpcAllocLimit'] === true) delete v.usrSpcAllocLimitPct;
  sim.array.touch();
  return { status: 200, location: `/api/v1/volumes/${v.name}` };
}

const GROW_SCHEMA: Schema = { action: { type: { t: 'action' }, required: true }, sizeMiB: F.uint32(true) };

/** Grow (action 3): `sizeMiB` is the delta, rounded up to the grow chunk. */
export async function growVolume(sim: Sim, v: VolumeRec, body: unknown): Promise<Reply> {
  const e = sim.errors;
  const b = validate(e, body, GROW_SCHEMA);
  const delta = read.num(b, 'sizeMiB')!;
  if (delta <= 0) throw e.err('INV_INPUT_VV_GROW_SIZE', 'sizeMiB');
  if (v.copyType !== COPY.BASE) throw e.err('INV_OPERATION_UNSUPPORTED_VV_TYPE');
  if (sim.array.activeTaskOf(v.id, ['tune'])) throw e.err('INV_OPERATION_VV_TUNE_IN_PROGRESS');
  if (sim.array.activeTaskOf(v.id, ['promote'])) throw e.err('INV_OPERATION_VV_PROMOTE_IN_PROGRESS');
  if (sim.array.activeTaskOf(v.id)) throw e.err('INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS');
  if (sim.array.childrenOf(v.id).some((c) => c.copyType === COPY.PHYSICAL_COPY))
    throw e.err('INV_OPERATION_VV_PARENT_OF_PCOPY');
  const add = roundUp(delta, sim.opts.growChunkMiB);
  const newSize = v.sizeMiB + add;
  if (newSize > sim.opts.maxVolumeSizeMiB) throw e.err('VV_NEW_SIZE_EXCEEDS_LIMITS', 'sizeMiB');
  if (v.provisioningType === PROV.FULL && v.userCPG !== undefined && add > sim.array.cpgFreeMiB(v.userCPG))
    throw e.err('NO_SPACE');
  v.sizeMiB = newSize;
  sim.array.spaceChanged();
  await sim.data?.resize(v.wwn, newSize);
  sim.array.touch();
  return { status: 200, location: `/api/v1/volumes/${v.name}` };
}

/** Delete with the array's guards; snapshots are deleted the same way. */
export async function deleteVolume(sim: Sim, v: VolumeRec): Promise<Reply> {
  const e = sim.errors;
  if (v.retentionTimeSec !== undefined && v.retentionTimeSec > nowSec()) throw e.err('RETAINED');
  if (isOnlineCopyTarget(sim, v))
    throw e.err(sim.opts.copyTargetDeleteError === 'code151' ? 'VV_BUSY_ONLINE_COPY' : 'ONLINE_COPY_TARGET_DELETE');
  const task = sim.array.activeTaskOf(v.id);
  if (task?.kind === 'tune') throw e.err('INV_OPERATION_VV_TUNE_IN_PROGRESS');
  if (task?.kind === 'promote') throw e.err('INV_OPERATION_VV_PROMOTE_IN_PROGRESS');
  if (task && task.destId === v.id) throw e.err('INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS');
  if (sim.array.isExported(v.id) || sim.array.setsOfVolume(v.id).length > 0) throw e.err('IN_USE');
  // The source of a running copy holds an internal snapshot: it has a child, as on the array.
  if (task || sim.array.childrenOf(v.id).some((c) => c.copyType === COPY.VIRTUAL_COPY)) throw e.err('HAS_CHILD');
  if (sim.array.childrenOf(v.id).length > 0) throw e.err('INV_OPERATION_VV_PARENT_OF_PCOPY');
  removeVolumeNow(sim, v);
  await sim.data?.remove(v.wwn);
  return { status: 200 };
}

/** Removes the record (no guards): expiry sweeps and the guarded delete above. */
export function removeVolumeNow(sim: Sim, v: VolumeRec): void {
  sim.array.removeVolume(v);
  sim.array.touch();
}

/** Expired volumes vanish, as on the array, unless something still depends on them. True when any did. */
export async function sweepExpired(sim: Sim): Promise<boolean> {
  const now = nowSec();
  let removed = false;
  for (const v of sim.array.volumes.filter((x) => x.expirationTimeSec !== undefined && x.expirationTimeSec <= now)) {
    if (sim.array.childrenOf(v.id).length > 0 || sim.array.isExported(v.id) || v.busyTaskIds.length > 0) continue;
    if (sim.array.setsOfVolume(v.id).length > 0) continue;
    removeVolumeNow(sim, v);
    await sim.data?.remove(v.wwn);
    removed = true;
  }
  // Tasks are listed for 24 hours; older finished ones are forgotten.
  const before = Date.now() / 1000 - 24 * 3600;
  const tasks = sim.array.state.tasks;
  if (tasks.some((t) => t.finishTimeSec !== undefined && t.finishTimeSec < before)) {
    sim.array.state.tasks = tasks.filter((t) => t.finishTimeSec === undefined || t.finishTimeSec >= before);
    removed = true;
  }
  return removed;
}
