import { setTimeout as delay } from 'node:timers/promises';
import { cancelled } from '../errors.js';

/**
 * The one abortable wait and the one abortable race of the project. Each layer passes the error
 * it throws when the signal fires (the WSAPI layer a WsapiAbortedError, the array and host layers
 * a `cancelled` DriverError through `sleep`/`abortable`), so the error names its layer's words.
 */

/** Builds the error thrown when the caller's signal fires. */
export type AbortErrorFactory = () => Error;

/**
 * Resolves after `ms`, or rejects with `onAbort()` as soon as `signal` fires (at once when it has
 * fired already). With `unref`, the timer does not keep the process alive.
 */
export async function wait(
  ms: number,
  signal: AbortSignal | undefined,
  onAbort: AbortErrorFactory,
  opts: { unref?: boolean } = {},
): Promise<void> {
  if (signal?.aborted) throw onAbort();
  try {
    await delay(ms, undefined, { ...(signal && { signal }), ref: opts.unref !== true });
  } catch (err) {
    if (signal?.aborted) throw onAbort();
    throw err;
  }
}

/**
 * Waits for `promise`, or rejects with `onAbort()` when `signal` fires first. The work behind the
 * promise goes on (a request already sent is not cut off); its outcome is simply not awaited.
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: AbortErrorFactory,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(onAbort());
  }
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      promise.catch(() => undefined);
      reject(onAbort());
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Resolves after `ms`, or rejects with a `cancelled` DriverError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return wait(ms, signal, () => abortReason(signal!));
}

/** Waits for `promise`, or rejects with a `cancelled` DriverError when `signal` aborts first. */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  return raceAbort(promise, signal, () => abortReason(signal!));
}

/** Throws a `cancelled` DriverError when the signal has fired. Call between steps of a wait. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortReason(signal);
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'DriverError') return reason;
  return cancelled('the call was cancelled or its deadline passed', { cause: reason });
}
