import { alreadyExists, busy, internal, notFound, outOfRange } from '../errors.js';
import { TaskStatus, TaskType } from '../wsapi/enums.js';
import type { Task, Volume } from '../wsapi/types.js';
import type { Backend } from './backend.js';
import type { ArrayClient, PhysicalCopyParams } from './client.js';
import { conditionOf, isConflict } from './errors.js';
import { formatHelperMarker, formatVolumeMarker, ownerMarker, parseVolumeMarker } from './marker.js';
import { copySourceNameFor } from './names.js';
import { isCopyTarget, isSnapshot, ownHelperMarker, ownMarker, type OpContext } from './ops.js';
import { awaitStop, followTask, taskPercent } from './task-wait.js';

/**
 * Online physical copies (DESIGN "Copies"): a volume from a snapshot or a clone of a volume is
 * always an online copy the array runs as a task. The destination is usable at once; the task
 * is found again after a restart (by the destination's name in /tasks), never started twice,
 * and waited for only when the request needs it (a larger size, or marking refused mid-copy).
 */

/**
 * Hours until the array removes a temporary copy source by itself (if the driver never gets to):
 * cinder gives its temporary snapshots of a copy source one hour [S CIN create_group_from_src].
 */
export const COPY_SOURCE_EXPIRATION_HOURS = 1;

/** Default interval between task polls. */
export const COPY_POLL_MS = 1000;
/** Longest wait for a cancelled task to stop before the cleanup gives up (and the retry resumes). */
export const CANCEL_WAIT_MS = 30_000;

export interface CopySpec {
  /** Destination array name (deterministic from the CSI name). */
  name: string;
  /** Source volume or snapshot array name. */
  source: string;
  /** Requested size, MiB; larger than the source means grow after the copy. */
  sizeMiB: number;
  params: Omit<PhysicalCopyParams, 'destVolume' | 'online'>;
  /** The marker to write (never written by createPhysicalCopy, which takes no comment). */
  comment: string;
  /** Request identity recorded in the marker (`r`), to compare on a repeat. */
  identity: string;
  oneHost: boolean;
}

/** The copy task of `dest`: the one this process started, or the newest online copy named so. */
export async function findCopyTask(
  backend: Backend,
  c: ArrayClient,
  dest: string,
  signal?: AbortSignal,
): Promise<Task | undefined> {
  return findNamedTask(c, backend.copyTasks, dest, [TaskType.ONLINE_COPY], signal);
}

/**
 * The task of one of `types` named `name` (copies and tunes name their volume): the one recorded
 * in `known`, else the newest such task in /tasks (after a restart), which is then recorded.
 */
export async function findNamedTask(
  c: ArrayClient,
  known: Map<string, number>,
  name: string,
  types: readonly number[],
  signal?: AbortSignal,
): Promise<Task | undefined> {
  const id = known.get(name);
  if (id !== undefined) {
    try {
      return await c.getTask(id, signal);
    } catch (err) {
      if (conditionOf(err) !== 'no-task') throw err;
    }
  }
  const tasks = (await c.listTasks(signal)).filter(
    (t) => t.type !== undefined && types.includes(t.type) && t.name === name,
  );
  const newest = tasks.sort((a, b) => b.id - a.id)[0];
  if (newest) known.set(name, newest.id);
  return newest;
}

/**
 * Waits for the copy into `dest` to end (the one task poller, followTask). DONE resolves;
 * FAILED/CANCELLED removes the partial destination and its helper snapshots and rejects; the
 * caller's deadline first → ABORTED (the task runs on, the retry resumes waiting).
 */
export async function waitForCopy(
  backend: Backend,
  c: ArrayClient,
  dest: string,
  ctx: OpContext,
  pollMs = COPY_POLL_MS,
): Promise<void> {
  const found = await findCopyTask(backend, c, dest, ctx.signal);
  if (!found) return;
  backend.tasks.observe('copy', dest, found, ctx.log);
  const stillRunning = (t: Task): Error => {
    const pct = taskPercent(t);
    return busy(
      `the copy into ${dest} (task ${t.id}${pct === undefined ? '' : `, ${pct}%`}) is still running; the retried call resumes waiting`,
    );
  };
  const task =
    found.status === TaskStatus.ACTIVE
      ? await followTask(backend, c, found, { type: 'copy', subject: dest, pollMs, stillRunning }, ctx)
      : found;
  if (task.status === TaskStatus.DONE) return;
  ctx.log.warn(
    { volume: dest, task: task.id, status: task.status },
    'copy task ended without success; removing the partial destination',
  );
  await removeFailedCopy(backend, c, dest, ctx);
  throw internal(
    `the array's copy into ${dest} (task ${task.id}) ${task.status === TaskStatus.CANCELLED ? 'was cancelled' : 'failed'}; the partial volume was removed, retry to copy again`,
  );
}

/** Cancels the copy into `dest` (if one runs) and waits for it to stop. */
export async function cancelCopy(
  backend: Backend,
  c: ArrayClient,
  dest: string,
  ctx: OpContext,
  pollMs = COPY_POLL_MS,
): Promise<void> {
  const task = await findCopyTask(backend, c, dest, ctx.signal);
  if (!task || task.status !== TaskStatus.ACTIVE) return;
  ctx.log.info({ volume: dest, task: task.id }, 'cancelling the copy task before delete');
  try {
    await c.cancelTask(task.id);
  } catch (err) {
    // A task that ended meanwhile cannot be cancelled; anything else is a real problem.
    if (!(err instanceof Error) || conditionOf(err) === 'unavailable') throw err;
  }
  await awaitStop(
    backend,
    c,
    task.id,
    pollMs,
    CANCEL_WAIT_MS,
    `the copy into ${dest} is being cancelled (it did not stop within this call or ${CANCEL_WAIT_MS / 1000} s); retry`,
    ctx,
  );
}

/**
 * What the copy into `dest` reads from: the source itself, or — for a read-only snapshot, which
 * real arrays refuse as the parent of a physical copy (403 INV_OPERATION_VV_READONLY_SNAPSHOT,
 * python-3parclient's copyVolume) — a read-write child of it with an expiration, as cinder copies
 * only from read-write sources. One more request (the child's create) for such a copy.
 */
async function copySource(c: ArrayClient, source: Volume, dest: string, ctx: OpContext): Promise<string> {
  if (!isSnapshot(source) || source.readOnly !== true) return source.name;
  const name = copySourceNameFor(dest);
  const comment = formatVolumeMarker(
    ownerMarker(ctx.owner, { desc: `temporary read-write source of the copy into ${dest}` }),
  );
  try {
    await c.createSnapshot(source.name, {
      name,
      readOnly: false,
      expirationHours: COPY_SOURCE_EXPIRATION_HOURS,
      comment,
    });
    ctx.log.info(
      { snapshot: source.name, copySource: name, volume: dest },
      'read-write copy source made of a read-only snapshot',
    );
  } catch (err) {
    // A retried CreateVolume made it already.
    if (conditionOf(err) !== 'volume-exists') throw err;
  }
  return name;
}

/**
 * Removes the temporary copy source of `dest` once its copy no longer needs it; absent, or
 * still the parent of a running copy (the array refuses: it has a child), → nothing to do.
 */
export async function removeCopySource(c: ArrayClient, dest: string, ctx: OpContext): Promise<void> {
  const name = copySourceNameFor(dest);
  try {
    await c.deleteVolume(name);
    ctx.log.info({ copySource: name, volume: dest }, 'temporary copy source removed');
  } catch (err) {
    const cond = conditionOf(err);
    if (cond !== 'no-volume' && cond !== 'has-children' && cond !== 'in-use' && cond !== 'copy-busy') throw err;
  }
}

/**
 * Deletes a volume; gone already is fine. When the answer is lost (a connection dropped after the
 * array may have acted), the volume is read back: gone → deleted. For a copy's destination this
 * matters: its helpers are found only through its `copyOf`, which the caller read before, and a
 * retried call would find no destination to follow (the helpers stayed for ever under the source).
 * Still there, or the read fails too → the delete's error.
 */
export async function deleteVolumeConfirmed(c: ArrayClient, name: string, signal: AbortSignal): Promise<void> {
  try {
    await c.deleteVolume(name);
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-volume') return;
    if (cond !== 'unavailable') throw err;
    const gone = await readQuietly(c, name, signal).then(
      (v) => v === undefined,
      () => false,
    );
    if (!gone) throw err;
  }
}

/**
 * An array-internal snapshot: a virtual copy that carries no comment at all (no marker, no admin's
 * note), or one this cluster marked as a stopped copy's helper (claimCopyHelpers).
 */
function isHelperSnapshot(v: Volume, ctx: OpContext): boolean {
  return isSnapshot(v) && ((v.comment ?? '') === '' || ownHelperMarker(v, ctx.owner) !== undefined);
}

/**
 * Removes a copy that ended without success (cancelled or failed), as python-3parclient's
 * stopOnlinePhysicalCopy does: the destination, then the helper snapshots of the source its
 * `copyOf` chain names (the array removes them only when a copy completes), then the driver's
 * temporary read-write source if it made one. The helpers are marked as this cluster's first
 * (claimCopyHelpers): a restart between the destination's delete and theirs must not leave them
 * unprovable. `dest` is the destination as read, or its name.
 */
export async function removeFailedCopy(
  backend: Backend,
  c: ArrayClient,
  dest: Volume | string,
  ctx: OpContext,
): Promise<void> {
  const name = typeof dest === 'string' ? dest : dest.name;
  let v: Volume | undefined = typeof dest === 'string' ? undefined : dest;
  if (!v) {
    try {
      v = await c.getVolume(name, ctx.signal);
    } catch (err) {
      if (conditionOf(err) !== 'no-volume') throw err;
    }
  }
  const helpers = await claimCopyHelpers(c, v?.copyOf, name, ctx);
  await deleteVolumeConfirmed(c, name, ctx.signal);
  await removeHelpers(c, helpers, ctx);
  await removeCopySource(c, name, ctx);
  backend.copyTasks.delete(name);
}

/** Reads a volume; undefined when it is gone. */
async function readQuietly(c: ArrayClient, name: string, signal: AbortSignal): Promise<Volume | undefined> {
  try {
    return await c.getVolume(name, signal);
  } catch (err) {
    if (conditionOf(err) === 'no-volume') return undefined;
    throw err;
  }
}

/**
 * The helper snapshots of an online copy, `first` being its destination's `copyOf`, read-write
 * first: only when the chain has the helpers' shape [S python-3parclient stopOnlinePhysicalCopy:
 * snapshot 1 and its parent, snapshot 2; the simulator's `<src>.ro.rw` and `<src>.ro`] — an
 * unmarked (or this cluster's helper-marked) read-write snapshot whose parent is such a read-only
 * one. Anything else (an admin's snapshot a destination was an offline copy of, the source
 * itself) → none. Two GETs.
 */
async function helpersOf(c: ArrayClient, first: string | undefined, ctx: OpContext): Promise<Volume[]> {
  if (first === undefined) return [];
  const rw = await readQuietly(c, first, ctx.signal);
  if (!rw || !isHelperSnapshot(rw, ctx) || rw.readOnly === true || rw.copyOf === undefined) return [];
  const ro = await readQuietly(c, rw.copyOf, ctx.signal);
  if (!ro || !isHelperSnapshot(ro, ctx) || ro.readOnly !== true) return [];
  return [rw, ro];
}

/**
 * Marks the helper snapshots of the copy into `dest` (`first` its `copyOf`) as this cluster's
 * (HelperMarker, naming `dest`), before `dest` is deleted: while `dest` exists, its `copyOf` proves they are
 * its helpers; once it is gone nothing else would (an admin's read-only snapshot with a writable
 * child has the same shape), and a restart in between left them for ever under the source (quick
 * soak seed 967243634). Helpers already marked cost no request. A refused comment (what an array
 * does with a comment on its helper is [U]) is logged, and the helpers are removed as before,
 * without that protection. Returns the helpers, read-write first.
 */
export async function claimCopyHelpers(
  c: ArrayClient,
  first: string | undefined,
  dest: string,
  ctx: OpContext,
): Promise<Volume[]> {
  const helpers = await helpersOf(c, first, ctx);
  for (const h of helpers) {
    if (ownHelperMarker(h, ctx.owner)) continue;
    const comment = formatHelperMarker(ctx.owner, dest);
    try {
      await c.modifyVolume(h.name, { comment });
      h.comment = comment;
    } catch (err) {
      const cond = conditionOf(err);
      if (cond === 'no-volume') continue;
      if (cond === 'unavailable') throw err;
      ctx.log.warn(
        { snapshot: h.name, volume: dest, err: (err as Error).message },
        "the array refused the mark on a copy's helper snapshot: it is removed right after the destination; should that not happen (a restart), nothing proves it this cluster's any more: delete it by hand",
      );
    }
  }
  return helpers;
}

/**
 * Deletes helper snapshots read by helpersOf (read-write first) of a copy whose destination was
 * just deleted. Gone, or still needed by another copy (has children) → left. Returns how many went.
 */
export async function removeHelpers(c: ArrayClient, helpers: readonly Volume[], ctx: OpContext): Promise<number> {
  let removed = 0;
  for (const h of helpers) {
    try {
      await c.deleteVolume(h.name);
      removed++;
      ctx.log.info({ snapshot: h.name }, "the array's helper snapshot of a copy that did not complete removed");
    } catch (err) {
      const cond = conditionOf(err);
      // Still needed (another copy reads it): leave it and its parent.
      if (cond === 'has-children' || cond === 'in-use') break;
      // Gone meanwhile (a retried request whose first answer was lost): on to its parent.
      if (cond !== 'no-volume') throw err;
    }
  }
  return removed;
}

/**
 * Deletes the helper snapshots of an online copy whose destination is gone, `first` being its
 * `copyOf` (helpersOf, then removeHelpers): two GETs and two DELETEs.
 */
export async function removeCopyHelpers(c: ArrayClient, first: string | undefined, ctx: OpContext): Promise<number> {
  return removeHelpers(c, await helpersOf(c, first, ctx), ctx);
}

/**
 * Ensures the online copy `spec.name` of `spec.source` exists, carries this cluster's marker and
 * has at least the requested size. Returns the size in MiB.
 */
export async function ensureCopy(
  backend: Backend,
  c: ArrayClient,
  spec: CopySpec,
  source: Volume,
  ctx: OpContext,
  pollMs = COPY_POLL_MS,
): Promise<number> {
  const sourceMiB = source.sizeMiB ?? 0;
  if (spec.sizeMiB < sourceMiB)
    throw outOfRange(`the requested size (${spec.sizeMiB} MiB) is smaller than the source (${sourceMiB} MiB)`);
  let dest: Volume | undefined;
  const from = await copySource(c, source, spec.name, ctx);
  if (from !== source.name) {
    const m = parseVolumeMarker(spec.comment);
    if (m) spec = { ...spec, comment: formatVolumeMarker({ ...m, s: 1 }) };
  }
  try {
    const started = await c.createPhysicalCopy(from, { ...spec.params, destVolume: spec.name, online: true });
    backend.copyTasks.set(spec.name, started);
    ctx.log.info({ volume: spec.name, source: spec.source, task: started }, 'online copy started');
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-volume') throw notFound(`the source ${spec.source} does not exist on backend ${backend.id}`);
    if (cond !== 'volume-exists') throw err;
    // CreateVolume is idempotent: the destination of an earlier attempt is found again.
    dest = await c.getVolume(spec.name, ctx.signal);
    await checkExistingCopy(backend, c, dest, spec, from, ctx);
    if ((dest.failedStates ?? []).length > 0) {
      // The earlier attempt's copy failed after the call returned: never hand out a partial copy.
      await removeFailedCopy(backend, c, dest, ctx);
      throw internal(
        `the earlier copy into ${spec.name} failed on the array; the partial volume was removed, retry to copy again`,
      );
    }
  }
  if (!dest || !ownMarker(dest, ctx.owner)) await markCopy(backend, c, spec, ctx, pollMs);
  const current = Math.max(dest?.sizeMiB ?? sourceMiB, sourceMiB);
  if (spec.sizeMiB <= current) return current;
  // A larger size: the array refuses to grow a copy target, so wait for the task, then grow.
  await waitForCopy(backend, c, spec.name, ctx, pollMs);
  await removeCopySource(c, spec.name, ctx);
  await c.growVolume(spec.name, spec.sizeMiB - current);
  ctx.log.info({ volume: spec.name, fromMiB: current, toMiB: spec.sizeMiB }, 'copy grown to the requested size');
  return spec.sizeMiB;
}

/** A destination found by name: ours and compatible, or an unmarked copy of this source to adopt. */
async function checkExistingCopy(
  backend: Backend,
  c: ArrayClient,
  dest: Volume,
  spec: CopySpec,
  from: string,
  ctx: OpContext,
): Promise<void> {
  const mine = ownMarker(dest, ctx.owner);
  if (mine) {
    if (mine.r !== spec.identity)
      throw alreadyExists(`volume ${spec.name} exists with different parameters or content source`);
    return;
  }
  if (parseVolumeMarker(dest.comment) !== undefined || (dest.comment ?? '') !== '')
    throw alreadyExists(`volume ${spec.name} exists and belongs to someone else`);
  // Adoption: an unmarked destination with this request's deterministic name that is a copy of
  // the requested source (still linked, or named by an online-copy task) was made by this request.
  const linked = dest.copyOf === spec.source || dest.copyOf === from || isCopyTarget(dest);
  const task = linked ? undefined : await findCopyTask(backend, c, spec.name, ctx.signal);
  if (!linked && !task)
    throw alreadyExists(`volume ${spec.name} exists, is unmarked and is not a copy of ${spec.source}`);
  ctx.log.info(
    { volume: spec.name, source: spec.source },
    'adopting the unmarked copy destination of an earlier attempt',
  );
}

/** Writes the marker (and oneHost); when the array refuses it mid-copy, waits for the task first. */
async function markCopy(
  backend: Backend,
  c: ArrayClient,
  spec: CopySpec,
  ctx: OpContext,
  pollMs: number,
): Promise<void> {
  const body = { comment: spec.comment, ...(spec.oneHost && { policies: { oneHost: true } }) };
  try {
    await c.modifyVolume(spec.name, body);
    return;
  } catch (err) {
    if (conditionOf(err) !== 'copy-busy' && !isConflict(err)) throw err;
    ctx.log.info({ volume: spec.name }, 'the array refuses the marker while the copy runs; waiting for the copy');
  }
  // CreateVolume never returns an unmarked volume: wait (ABORTED at the deadline), then mark.
  await waitForCopy(backend, c, spec.name, ctx, pollMs);
  await c.modifyVolume(spec.name, body);
}
