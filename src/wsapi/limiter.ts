import type { AbortErrorFactory } from '../util/abort.js';

/**
 * The FIFO semaphore of the client (the per-backend in-flight cap). It takes a factory for the
 * error to throw on abort, so the caller's error names its operation; the abortable wait and
 * race are src/util/abort.ts.
 */

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
