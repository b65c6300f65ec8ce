/**
 * WSAPI sessions (REFERENCE.md §2): opaque keys bound to the client address, an idle timeout
 * (15 minutes on the array), a limit on sessions at once, and requests on one key served one
 * after another, as the array does.
 */
import { randomBytes } from 'node:crypto';

export interface Session {
  key: string;
  user: string;
  ip: string;
  lastUsedMs: number;
  /** Tail of this key's request queue. */
  chain: Promise<void>;
}

export class Sessions {
  private readonly map = new Map<string, Session>();

  constructor(private readonly config: { sessionLimit: number; sessionIdleTimeoutSec: number }) {}

  private expired(s: Session, now: number): boolean {
    return now - s.lastUsedMs > this.config.sessionIdleTimeoutSec * 1000;
  }

  private sweep(now = Date.now()): void {
    for (const [k, s] of this.map) if (this.expired(s, now)) this.map.delete(k);
  }

  /** Live sessions now. */
  get inUse(): number {
    this.sweep();
    return this.map.size;
  }

  /** A new session, or undefined when the limit is reached. */
  login(user: string, ip: string): Session | undefined {
    this.sweep();
    if (this.map.size >= this.config.sessionLimit) return undefined;
    // Same shape as real keys: 0-<32 hex>-<8 hex>.
    const key = `0-${randomBytes(16).toString('hex')}-${randomBytes(4).toString('hex')}`;
    const s: Session = { key, user, ip, lastUsedMs: Date.now(), chain: Promise.resolve() };
    this.map.set(key, s);
    return s;
  }

  /** The live session for a key used from `ip`; touching it restarts its idle timer. */
  use(key: string | undefined, ip: string): Session | undefined {
    if (key === undefined) return undefined;
    const s = this.map.get(key);
    const now = Date.now();
    if (!s) return undefined;
    if (this.expired(s, now)) {
      this.map.delete(key);
      return undefined;
    }
    if (s.ip !== ip) return undefined;
    s.lastUsedMs = now;
    return s;
  }

  logout(key: string): boolean {
    return this.map.delete(key);
  }

  /** Fault injection: every key becomes invalid at once. */
  expireAll(): number {
    const n = this.map.size;
    this.map.clear();
    return n;
  }

  /** Runs `fn` after every earlier request on this session has finished. */
  async serialize<T>(s: Session, fn: () => Promise<T>): Promise<T> {
    const prev = s.chain;
    let release!: () => void;
    s.chain = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      s.lastUsedMs = Date.now();
      release();
    }
  }
}
