import { busy } from '../errors.js';
import { TaskStatus } from '../wsapi/enums.js';
import { WsapiTaskError } from '../wsapi/errors.js';
import { waitForTask, type TaskReader } from '../wsapi/task-waiter.js';
import type { Task } from '../wsapi/types.js';
import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';
import { conditionOf } from './errors.js';
import type { OpContext } from './ops.js';
import type { ArrayTaskType } from './task-progress.js';

/**
 * The array layer's waits for its tasks (online copies, tunes) over the one task poller,
 * `waitForTask` of src/wsapi: each poll is reported to the backend's TaskProgress (logs every
 * 10%, the tasks gauge), the RPC's deadline stops the wait with ABORTED (the task runs on, the
 * retry resumes waiting), and a task that ended badly is returned for the caller to judge.
 */

/** The task reader of an ArrayClient. */
function readerOf(c: ArrayClient): TaskReader {
  return { get: (id, o) => c.getTask(id, o?.signal) };
}

/** "n%" of a task's progress, when it reports steps. */
export function taskPercent(task: Task | undefined): number | undefined {
  return task?.totalSteps ? Math.floor(((task.completedSteps ?? 0) * 100) / task.totalSteps) : undefined;
}

export interface FollowOptions {
  type: ArrayTaskType;
  /** The volume the task works on (logs, gauge). */
  subject: string;
  pollMs: number;
  /** The deadline is here: the error to answer (ABORTED), given the last state seen. */
  stillRunning: (task: Task) => Error;
}

/**
 * Waits for `task` (a state just read, reported already) to end; the first poll comes one
 * interval later. Resolves with the final state: DONE, FAILED or CANCELLED; a task the array
 * forgot meanwhile (404) counts as DONE, as a task no longer listed does.
 */
export async function followTask(
  backend: Backend,
  c: ArrayClient,
  task: Task,
  o: FollowOptions,
  ctx: OpContext,
): Promise<Task> {
  let last = task;
  try {
    return await waitForTask(readerOf(c), { backendId: backend.id, op: `${o.type}.wait` }, task.id, {
      intervalMs: o.pollMs,
      signal: ctx.signal,
      seen: task,
      onProgress: (t) => {
        last = t;
        backend.tasks.observe(o.type, o.subject, t, ctx.log);
      },
    });
  } catch (err) {
    if (err instanceof WsapiTaskError && err.reason !== 'timeout' && err.task) return err.task;
    if (ctx.signal.aborted) throw o.stillRunning(last);
    if (conditionOf(err) === 'no-task') return { ...last, status: TaskStatus.DONE };
    throw err;
  }
}

/**
 * Waits up to `timeoutMs` for a cancelled task to stop (polling at once, then every `pollMs`).
 * The deadline or the timeout first → ABORTED with `message`.
 */
export async function awaitStop(
  backend: Backend,
  c: ArrayClient,
  id: number,
  pollMs: number,
  timeoutMs: number,
  message: string,
  ctx: OpContext,
): Promise<void> {
  try {
    await waitForTask(readerOf(c), { backendId: backend.id, op: 'copy.cancel' }, id, {
      intervalMs: pollMs,
      timeoutMs,
      signal: ctx.signal,
    });
  } catch (err) {
    if (err instanceof WsapiTaskError && err.reason !== 'timeout') return;
    if (err instanceof WsapiTaskError || ctx.signal.aborted) throw busy(message);
    if (conditionOf(err) === 'no-task') return;
    throw err;
  }
}
