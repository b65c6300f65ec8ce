import { busy, failedPrecondition, internal, invalidArgument, notFound } from '../errors.js';
import {
  ProvisioningType as Prov,
  TaskStatus,
  TaskType,
  TuneOperation,
  ConversionOperation,
  VolumeDetailedState,
} from '../wsapi/enums.js';
import type { Task, Volume } from '../wsapi/types.js';
import type { Backend } from './backend.js';
import type { ArrayClient, TuneVolumeBody } from './client.js';
import { COPY_POLL_MS, findNamedTask } from './copies.js';
import { conditionOf, isConflict } from './errors.js';
import { formatVolumeMarker, type VolumeMarker } from './marker.js';
import { isCopyTarget, isSnapshot, ownMarker, type OpContext } from './ops.js';
import { requireFirmwareFor } from './volumes.js';
import { followTask, taskPercent } from './task-wait.js';

/**
 * Changing a volume's mutable settings (ControllerModifyVolume, VolumeAttributesClass). Quick
 * changes (snapshot CPG, VV-set membership, description) are applied at once; moving user space
 * to another CPG and converting thin/full/dedup/compression is the array's tune, a task tracked
 * like copies: the call waits for it within its deadline, answers ABORTED after that, and the
 * retry (in this process or after a restart) finds the task again by the volume's name.
 * Everything is checked before anything changes, so an infeasible request changes nothing.
 */

/** Provisioning types (the StorageClass's words). */
export type Provisioning = 'tpvv' | 'full' | 'dedup' | 'reduce';

/** The requested settings; absent keys are left as they are. */
export interface VolumeChange {
  provisioningType?: Provisioning;
  cpg?: string;
  snapCpg?: string;
  compression?: boolean;
  /** "" = in no VV set. */
  qosName?: string;
  description?: string;
}

/** Task types a tune runs as: a move (MOVE_REGIONS) or a conversion (CONVERT_VV). */
const TUNE_TASK_TYPES = [TaskType.MOVE_REGIONS, TaskType.CONVERT_VV];
/** WSAPI 1.6 `compressionState`: 1 = compressed. */
const COMPRESSED = 1;

const PROVISIONING_OF: Record<Provisioning, number> = {
  tpvv: Prov.TPVV,
  full: Prov.FULL,
  dedup: Prov.TDVV,
  reduce: Prov.TDVV,
};
const CONVERSION_TO: Partial<Record<number, number>> = {
  [Prov.TPVV]: ConversionOperation.TPVV,
  [Prov.FULL]: ConversionOperation.FPVV,
  [Prov.TDVV]: ConversionOperation.TDVV,
};

/** What differs between the volume and the request. */
interface Plan {
  tune?: TuneVolumeBody;
  snapCpg?: string;
  /** [leave, join] VV sets ("" = none). */
  qos?: [string, string];
  marker?: VolumeMarker;
}

function tuneRunning(v: Volume): boolean {
  const states = v.additionalStates ?? [];
  return states.includes(VolumeDetailedState.TUNING) || states.includes(VolumeDetailedState.CONVERTING);
}

/** The changes `want` asks of `v` (empty when everything already matches). INVALID_ARGUMENT when infeasible. */
function plan(backend: Backend, v: Volume, marker: VolumeMarker, want: VolumeChange): Plan {
  const out: Plan = {};
  const prov = v.provisioningType ?? Prov.TPVV;
  const compressed = v.compressionState === COMPRESSED;
  const targetProv = want.provisioningType ? PROVISIONING_OF[want.provisioningType] : prov;
  const targetCompressed =
    want.compression ??
    (want.provisioningType === 'reduce'
      ? true
      : want.provisioningType !== undefined && targetProv === Prov.FULL
        ? false
        : compressed);
  requireFirmwareFor(backend, want.provisioningType, want.compression !== undefined && want.compression !== compressed);
  if (targetCompressed && targetProv === Prov.FULL)
    throw invalidArgument('parameter "compression" needs a thin volume; convert it (provisioningType) as well');
  const move = want.cpg !== undefined && want.cpg !== v.userCPG;
  const convert = targetProv !== prov;
  if (move || convert || targetCompressed !== compressed) {
    if (!v.userCPG) throw invalidArgument(`volume ${v.name} reports no user CPG; it cannot be tuned`);
    out.tune = { tuneOperation: TuneOperation.USR_CPG, userCPG: want.cpg ?? v.userCPG };
    if (convert) out.tune.conversionOperation = CONVERSION_TO[targetProv]!;
    if (targetCompressed !== compressed) out.tune.compression = targetCompressed;
  }
  if (want.snapCpg !== undefined && want.snapCpg !== v.snapCPG) out.snapCpg = want.snapCpg;
  const next: VolumeMarker = { ...marker };
  if (want.qosName !== undefined && want.qosName !== (marker.q ?? '')) {
    out.qos = [marker.q ?? '', want.qosName];
    if (want.qosName === '') delete next.q;
    else next.q = want.qosName;
  }
  if (want.description !== undefined && want.description !== (marker.desc ?? '')) {
    if (want.description === '') delete next.desc;
    else next.desc = want.description;
  }
  if (out.qos || next.desc !== marker.desc) out.marker = next;
  return out;
}

/** CPGs and the VV set the plan names must exist: checked before anything changes. */
async function checkNames(
  backend: Backend,
  c: ArrayClient,
  want: VolumeChange,
  p: Plan,
  ctx: OpContext,
): Promise<void> {
  for (const [key, cpg] of [
    ['cpg', p.tune ? want.cpg : undefined],
    ['snapCpg', p.snapCpg],
  ] as const) {
    if (cpg !== undefined && !(await backend.hasCpg(cpg, ctx.signal)))
      throw invalidArgument(`parameter "${key}": CPG ${cpg} does not exist on backend ${backend.id}`);
  }
  const join = p.qos?.[1];
  if (join && !(await c.listVolumeSets(ctx.signal)).some((s) => s.name === join))
    throw invalidArgument(`parameter "qosName": VV set ${join} does not exist on backend ${backend.id}`);
}

/**
 * Brings volume `name` to the requested settings. A repeat of an applied change costs one GET.
 * A tune still running (started by this call, an earlier one, or before a restart) → waited for
 * within the deadline, then ABORTED.
 */
export async function modifyVolume(
  backend: Backend,
  c: ArrayClient,
  name: string,
  want: VolumeChange,
  ctx: OpContext,
  pollMs = COPY_POLL_MS,
): Promise<void> {
  let v = await read(c, name, ctx);
  if (tuneRunning(v)) {
    await waitForTune(backend, c, name, ctx, pollMs);
    v = await read(c, name, ctx);
  }
  const marker = ownMarker(v, ctx.owner);
  if (!marker)
    throw failedPrecondition(`volume ${name} does not carry this cluster's marker; the driver never changes it`);
  const p = plan(backend, v, marker, want);
  // ControllerModifyVolume of settings the volume already has succeeds without a change.
  if (!p.tune && !p.snapCpg && !p.marker) return;
  await checkNames(backend, c, want, p, ctx);
  // The array refuses a conversion of a volume with snapshots (400/40 naming keepVV) and another
  // snapshot CPG while snapshots live in the old one: answered before anything changes.
  const hasSnapshots = v.roChildId !== undefined || v.rwChildId !== undefined;
  if (hasSnapshots && (p.tune?.conversionOperation !== undefined || p.snapCpg)) {
    throw failedPrecondition(
      `volume ${name} has snapshots: ${p.snapCpg ? 'its snapshot CPG' : 'its provisioning type'} cannot change while they exist; delete its snapshots first`,
    );
  }
  if (p.tune) {
    if (isCopyTarget(v)) throw busy(`volume ${name} is still being copied; retry the change once the copy ends`);
    await startTune(backend, c, name, p.tune, ctx);
  }
  if (p.qos) await moveSet(c, name, p.qos[0], p.qos[1], ctx);
  if (p.marker || p.snapCpg) {
    await c.modifyVolume(name, {
      ...(p.marker && { comment: formatVolumeMarker(p.marker) }),
      ...(p.snapCpg && { snapCPG: p.snapCpg }),
    });
    ctx.log.info(
      { volume: name, snapCpg: p.snapCpg, qosName: p.marker?.q, description: p.marker?.desc },
      'volume settings changed',
    );
  }
  // A tune just started is still running: the first poll comes one interval later.
  if (p.tune) await waitForTune(backend, c, name, ctx, pollMs, true);
}

async function read(c: ArrayClient, name: string, ctx: OpContext): Promise<Volume> {
  try {
    const v = await c.getVolume(name, ctx.signal);
    if (isSnapshot(v)) throw notFound(`volume ${name} does not exist (it is a snapshot)`);
    return v;
  } catch (err) {
    if (conditionOf(err) === 'no-volume') throw notFound(`volume ${name} does not exist`);
    throw err;
  }
}

async function startTune(
  backend: Backend,
  c: ArrayClient,
  name: string,
  body: TuneVolumeBody,
  ctx: OpContext,
): Promise<void> {
  try {
    const id = await c.tuneVolume(name, body);
    backend.tuneTasks.set(name, id);
    ctx.log.info(
      {
        volume: name,
        task: id,
        userCpg: body.userCPG,
        conversion: body.conversionOperation,
        compression: body.compression,
      },
      'volume tune started',
    );
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'copy-busy' || (cond === 'other' && isConflict(err)))
      throw busy(`volume ${name} is busy on the array (a copy, promote or tune runs); retry the change later`);
    if (cond === 'no-cpg')
      throw invalidArgument(`parameter "cpg": CPG ${body.userCPG} does not exist on backend ${backend.id}`);
    // A conversion the array wants keepVV for: snapshots appeared since the pre-check.
    if (cond === 'needs-keep-vv')
      throw failedPrecondition(
        `volume ${name} has snapshots: the array converts it only keeping the original (keepVV); delete its snapshots first`,
        { cause: err },
      );
    throw err;
  }
}

/** Joins `join` (unless ""), then leaves `leave` (unless ""); repeats tolerate either already done. */
async function moveSet(c: ArrayClient, name: string, leave: string, join: string, ctx: OpContext): Promise<void> {
  if (join !== '') {
    try {
      await c.addToVolumeSet(join, [name]);
    } catch (err) {
      if (conditionOf(err) === 'no-set')
        throw invalidArgument(`parameter "qosName": VV set ${join} does not exist on the array`);
      if (!isConflict(err)) throw err;
    }
  }
  if (leave !== '') {
    try {
      await c.removeFromVolumeSet(leave, [name]);
    } catch (err) {
      // Not a member any more, or the set is gone: the volume has left it.
      if (!(err instanceof Error) || (conditionOf(err) !== 'no-set' && !isNotFound(err))) throw err;
    }
  }
  ctx.log.info({ volume: name, from: leave || undefined, to: join || undefined }, 'volume moved between VV sets');
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 404;
}

/**
 * Waits for the tune of `name` to end (the one task poller, followTask): DONE resolves;
 * FAILED/CANCELLED → INTERNAL (the array leaves the volume as it was; a retry starts the tune
 * again); the deadline first → ABORTED (the tune runs on; the retry resumes waiting). A tune
 * `justStarted` is not read at once: the first poll comes one interval later.
 */
export async function waitForTune(
  backend: Backend,
  c: ArrayClient,
  name: string,
  ctx: OpContext,
  pollMs = COPY_POLL_MS,
  justStarted = false,
): Promise<void> {
  const id = backend.tuneTasks.get(name);
  const found =
    justStarted && id !== undefined
      ? { id, status: TaskStatus.ACTIVE }
      : await findNamedTask(c, backend.tuneTasks, name, TUNE_TASK_TYPES, ctx.signal);
  if (found && !justStarted) backend.tasks.observe('tune', name, found, ctx.log);
  const stillRunning = (t: Task): Error => {
    const pct = taskPercent(t);
    return busy(
      `the array is still applying the change to ${name} (tune task ${t.id}${pct === undefined ? '' : `, ${pct}%`}); the retried call resumes waiting`,
    );
  };
  const task =
    found?.status === TaskStatus.ACTIVE
      ? await followTask(backend, c, found, { type: 'tune', subject: name, pollMs, stillRunning }, ctx)
      : found;
  backend.tuneTasks.delete(name);
  if (!task || task.status === TaskStatus.DONE) return;
  throw internal(
    `the array's tune of ${name} (task ${task.id}) ${task.status === TaskStatus.CANCELLED ? 'was cancelled' : 'failed'}; the volume keeps its previous settings, retry to tune again`,
  );
}
