import { abortable } from './abort.js';

/**
 * One read shared by several callers, cut off when the last of them has left: each caller waits
 * with its own signal (its deadline), and the read's own signal fires once nobody waits any more,
 * so a listing nobody will use stops at once instead of running on after every caller gave up.
 * Only for reads: a change is never shared this way.
 */
export class SharedRead<T> {
  private readonly ac = new AbortController();
  private waiting = 0;
  private started: Promise<T> | undefined;
  private readonly result: Promise<T>;
  private resolveStart!: (p: Promise<T>) => void;

  /** `read` runs at `start()` (at once when `startNow`), with a signal that fires when all callers left. */
  constructor(
    private readonly read: (signal: AbortSignal) => Promise<T>,
    startNow = true,
  ) {
    this.result = new Promise<Promise<T>>((resolve) => (this.resolveStart = resolve)).then((p) => p);
    this.result.catch(() => undefined);
    if (startNow) this.start();
  }

  /** True once every caller has left before the read ended (a new caller needs a new read). */
  get abandoned(): boolean {
    return this.ac.signal.aborted;
  }

  /** Starts the read (once); a read whose callers all left before it started is not sent. */
  start(): Promise<T> {
    if (!this.started) {
      this.started = this.read(this.ac.signal);
      this.resolveStart(this.started);
    }
    return this.started;
  }

  /** Waits for the result with the caller's own signal; the read is cut when the last caller leaves. */
  join(signal?: AbortSignal): Promise<T> {
    this.waiting++;
    let settled = false;
    const leave = (): void => {
      if (settled) return;
      settled = true;
      this.waiting--;
      if (this.waiting === 0) this.ac.abort();
    };
    const out = abortable(this.result, signal);
    out.then(leave, leave);
    return out;
  }
}
