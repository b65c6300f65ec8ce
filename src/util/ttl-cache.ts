import { SharedRead } from './shared-read.js';

/**
 * One value read from elsewhere and reused for `ttlMs` (the array's ports, its CPGs: facts that
 * change only when an admin reconfigures the array). When the value is missing or too old,
 * concurrent callers share one load (no stampede of list requests); each caller waits with its
 * own signal, and the load is cut off once every caller has left (see SharedRead). A failed load
 * is not cached: the next caller loads again.
 */
export class TtlCache<T> {
  private entry: { at: number; value: T } | undefined;
  private loading: SharedRead<T> | undefined;

  /** `load` gets a signal that fires when every waiting caller has left; `now` is the clock (tests). */
  constructor(
    private readonly load: (signal: AbortSignal) => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value when it is at most `ttlMs` old (counted from the call that asked for it), else a fresh one. */
  async get(signal?: AbortSignal): Promise<T> {
    const asked = this.now();
    if (this.entry && asked - this.entry.at <= this.ttlMs) return this.entry.value;
    if (!this.loading || this.loading.abandoned) {
      const read = new SharedRead(this.load);
      this.loading = read;
      const clear = (): void => {
        if (this.loading === read) this.loading = undefined;
      };
      read.start().then(clear, clear);
    }
    const value = await this.loading.join(signal);
    this.entry = { at: asked, value };
    return value;
  }

  /** Forgets the value: the next call loads again (a load in flight is still shared). */
  invalidate(): void {
    this.entry = undefined;
  }
}
