import { busy } from '../errors.js';

/**
 * Keyed in-flight tracking: one operation per resource at a time. A second request for a key
 * that is running gets a `busy` error (ABORTED over gRPC), as the CSI spec asks for operations
 * pending on the same volume; different keys run in parallel.
 */
export class InFlight {
  private readonly running = new Set<string>();

  /** Runs `fn` while holding every key; refuses at once when any key is taken. */
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const taken = keys.find((k) => this.running.has(k));
    if (taken !== undefined) {
      throw busy(`an operation on ${taken} is already in progress; retry later`, { details: { key: taken } });
    }
    for (const k of keys) this.running.add(k);
    try {
      return await fn();
    } finally {
      for (const k of keys) this.running.delete(k);
    }
  }

  /** Number of keys held now (for tests and metrics). */
  get size(): number {
    return this.running.size;
  }
}

/**
 * Keyed mutex: callers with the same key wait their turn (FIFO) instead of failing. Used where
 * serialising is the right answer (one array host created by many publishes, one iSCSI target).
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys that are held or awaited now. */
  get size(): number {
    return this.tails.size;
  }
}
