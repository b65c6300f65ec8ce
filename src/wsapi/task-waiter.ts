import { WsapiAbortedError, WsapiTaskError, type WsapiErrorContext } from './errors.js';
import { TaskStatus } from './enums.js';
import { wait } from '../util/abort.js';
import type { TasksResource } from './resources/tasks.js';
import type { Task } from './types.js';

/** How to wait for a task: every wait is bounded and cancellable. */
export interface WaitForTaskOptions {
  /** Time between polls. */
  intervalMs: number;
  /** Stop waiting after this long (the task keeps running on the array). */
  timeoutMs: number;
  /** Stops waiting at once (WsapiAbortedError). */
  signal?: AbortSignal;
  /** Called with every task state seen (progress reporting). */
  onProgress?: (task: Task) => void;
}

/**
 * Polls `GET /tasks/<id>` — first at once, then every `intervalMs` — until the task is no longer
 * active. Resolves with the DONE task; throws WsapiTaskError 'failed' / 'cancelled', or
 * 'timeout' when `timeoutMs` passes first (a poll in flight at the deadline is cut off).
 */
export async function waitForTask(tasks: TasksResource, ctx: WsapiErrorContext, id: number, opts: WaitForTaskOptions): Promise<Task> {
  if (!(opts.intervalMs > 0) || !(opts.timeoutMs > 0)) throw new RangeError('waitForTask needs intervalMs > 0 and timeoutMs > 0');
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const onAbort = (): Error => new WsapiAbortedError(`waiting for task ${id} on backend ${ctx.backendId} was cancelled`, ctx, { cause: opts.signal?.reason });
  let last: Task | undefined;
  const timedOut = (): WsapiTaskError => new WsapiTaskError('timeout', id, `task ${id} on backend ${ctx.backendId} did not finish within ${opts.timeoutMs} ms; it is still running`, ctx, last);
  for (;;) {
    try {
      last = await tasks.get(id, { signal });
    } catch (err) {
      if (err instanceof WsapiAbortedError && !opts.signal?.aborted && deadline.aborted) throw timedOut();
      throw err;
    }
    opts.onProgress?.(last);
    if (last.status === TaskStatus.DONE) return last;
    if (last.status === TaskStatus.FAILED) throw new WsapiTaskError('failed', id, `task ${id} (${last.name ?? 'unnamed'}) on backend ${ctx.backendId} failed`, ctx, last);
    if (last.status === TaskStatus.CANCELLED) throw new WsapiTaskError('cancelled', id, `task ${id} (${last.name ?? 'unnamed'}) on backend ${ctx.backendId} was cancelled`, ctx, last);
    // ACTIVE, or a status this client does not know: keep waiting, within the deadline.
    try {
      await wait(opts.intervalMs, signal, onAbort);
    } catch (err) {
      if (!opts.signal?.aborted && deadline.aborted) throw timedOut();
      throw err;
    }
  }
}
