import { WsapiAbortedError, WsapiTaskError, type WsapiErrorContext } from './errors.js';
import { TaskStatus } from './enums.js';
import { wait } from '../util/abort.js';
import type { Task } from './types.js';

/** What the poller reads tasks through: the client's TasksResource, or an array layer's client. */
export interface TaskReader {
  get(id: number, opts?: { signal?: AbortSignal }): Promise<Task>;
}

/** How to wait for a task: every wait is bounded (a timeout, a signal, or both) and cancellable. */
export interface WaitForTaskOptions {
  /** Time between polls. */
  intervalMs: number;
  /** Stop waiting after this long (the task keeps running on the array); optional with a signal. */
  timeoutMs?: number;
  /** Stops waiting at once (WsapiAbortedError). */
  signal?: AbortSignal;
  /** Called with every task state polled (progress reporting); not with `seen`. */
  onProgress?: (task: Task) => void;
  /** A state of the task the caller read just now: judged first, and the first poll comes one interval later. */
  seen?: Task;
}

/**
 * Polls `GET /tasks/<id>` — first at once (or one interval after `seen`), then every `intervalMs`
 * — until the task is no longer active. Resolves with the DONE task; throws WsapiTaskError
 * 'failed' / 'cancelled', or 'timeout' when `timeoutMs` passes first (a poll in flight at the
 * deadline is cut off). The one task poller of the driver: the array layer's copy and tune waits
 * use it too (src/array/task-wait.ts).
 */
export async function waitForTask(
  tasks: TaskReader,
  ctx: WsapiErrorContext,
  id: number,
  opts: WaitForTaskOptions,
): Promise<Task> {
  const bounded = opts.timeoutMs === undefined ? opts.signal !== undefined : opts.timeoutMs > 0;
  if (!(opts.intervalMs > 0) || !bounded)
    throw new RangeError('waitForTask needs intervalMs > 0 and timeoutMs > 0 (or a signal)');
  const deadline = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs);
  const signals = [opts.signal, deadline].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
  const onAbort = (): Error =>
    new WsapiAbortedError(`waiting for task ${id} on backend ${ctx.backendId} was cancelled`, ctx, {
      cause: opts.signal?.reason,
    });
  let last = opts.seen;
  const timedOut = (): WsapiTaskError =>
    new WsapiTaskError(
      'timeout',
      id,
      `task ${id} on backend ${ctx.backendId} did not finish within ${opts.timeoutMs} ms; it is still running`,
      ctx,
      last,
    );
  // The state to judge next: the caller's `seen` first, then each poll's.
  let next = opts.seen;
  for (;;) {
    if (next === undefined) {
      try {
        next = await tasks.get(id, { signal });
      } catch (err) {
        if (err instanceof WsapiAbortedError && !opts.signal?.aborted && deadline?.aborted) throw timedOut();
        throw err;
      }
      opts.onProgress?.(next);
    }
    last = next;
    next = undefined;
    if (last.status === TaskStatus.DONE) return last;
    if (last.status === TaskStatus.FAILED)
      throw new WsapiTaskError(
        'failed',
        id,
        `task ${id} (${last.name ?? 'unnamed'}) on backend ${ctx.backendId} failed`,
        ctx,
        last,
      );
    if (last.status === TaskStatus.CANCELLED)
      throw new WsapiTaskError(
        'cancelled',
        id,
        `task ${id} (${last.name ?? 'unnamed'}) on backend ${ctx.backendId} was cancelled`,
        ctx,
        last,
      );
    // ACTIVE, or a status this client does not know: keep waiting, within the deadline.
    try {
      await wait(opts.intervalMs, signal, onAbort);
    } catch (err) {
      if (!opts.signal?.aborted && deadline?.aborted) throw timedOut();
      throw err;
    }
  }
}
