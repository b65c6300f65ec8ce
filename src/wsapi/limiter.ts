/**
 * Small waiting primitives for the client: a FIFO semaphore (the per-backend in-flight cap), an
 * abortable sleep and an abortable wait on a promise. Each takes a factory for the error to throw
 * on abort, so the caller's error names its operation.
 */

/** Builds the error thrown when the caller's signal fires. */
export type AbortErrorFactory = () => Error;

interface Waiter {
  grant: () => void;
  reject: (err: Error) => void;
}

/** Caps concurrent holders; the rest wait in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Holders now. */
  get inUse(): number {
    return this.active;
  }

  /** Callers waiting now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Waits for a slot; resolves with its release function (idempotent). */
  acquire(signal: AbortSignal | undefined, onAbort: AbortErrorFactory): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(onAbort());
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', abort);
          resolve(this.releaser());
        },
        reject,
      };
      const abort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(onAbort());
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Fails every waiter (used when the client closes). */
  rejectAll(err: () => Error): void {
    for (const w of this.queue.splice(0)) w.reject(err());
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // Hand the slot straight to the next waiter so a new arrival cannot overtake the queue.
      if (next) next.grant();
      else this.active--;
    };
  }
}

/** Resolves after `ms`, or rejects with `onAbort()` as soon as `signal` fires. */
export function abortableSleep(ms: number, signal: AbortSignal | undefined, onAbort: AbortErrorFactory): Promise<void> {
  if (signal?.aborted) return Promise.reject(onAbort());
  return new Promise((resolve, reject) => {
    const abort = (): void => {
      clearTimeout(timer);
      reject(onAbort());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Waits for `promise`, or rejects with `onAbort()` when `signal` fires first. The work behind the
 * promise goes on (a request already sent is not cut off); its outcome is simply not awaited.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: AbortErrorFactory): Promise<T> {
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
