import type { Logger } from 'pino';
import { WsapiError, isWsapiCode, WsapiCode } from './errors.js';
import { raceAbort, type AbortErrorFactory } from '../util/abort.js';

/** A session key lent to one request; `release` when the request is done (idempotent). */
export interface KeyLease {
  readonly key: string;
  /** Order of the login that made the key (see SessionPool.serial). */
  readonly serial: number;
  release(): void;
}

export interface SessionPoolDeps {
  backendId: string;
  /** Most keys held at once (arrays allow only 24-36 sessions in total on 2 nodes). */
  size: number;
  /** Logs in once; resolves with a new key. Never retried here. */
  login(): Promise<string>;
  /** Logs one key out; errors are the pool's to ignore. */
  logout(key: string): Promise<void>;
  /** Told the number of keys held whenever it changes (metrics). */
  onKeysChanged(count: number): void;
  /** After the array rejects the credentials, no login is tried for this long (account lock-out). */
  authFailureCooldownMs: number;
  /** After a failed extra login (e.g. the array's session limit), the pool does not grow for this long. */
  growthPauseMs: number;
  /**
   * A key unused for this long is retired (logged out in the background) instead of lent: the
   * array expires idle keys (15 min by default), and lending one costs a refused request.
   */
  keyIdleMs: number;
  /** The error for a request that needs a key after close(). */
  closedError: () => Error;
  log: Logger;
}

interface Entry {
  key: string;
  serial: number;
  inUse: number;
  /** When the key was last lent or given back. */
  lastUsedAt: number;
}

/**
 * A small pool of session keys for one backend. The array runs one key's requests one after
 * another, so concurrent requests get different keys while the pool can grow; beyond its size
 * they share the least-loaded key (the array queues them). At most one login runs at a time:
 * every request that needs a key while it runs waits for that same login.
 */
export class SessionPool {
  private readonly entries: Entry[] = [];
  private pendingLogin: Promise<void> | undefined;
  private authFailure: { error: WsapiError; at: number } | undefined;
  private growthPausedUntil = 0;
  private closed = false;
  private logins = 0;

  constructor(private readonly deps: SessionPoolDeps) {
    if (!Number.isInteger(deps.size) || deps.size < 1)
      throw new RangeError(`sessionPoolSize must be a positive integer, got ${deps.size}`);
  }

  /**
   * Serial of the newest key (0 before any). A request that meets an expired key older than its
   * own start may have met a key that was simply idle too long; a key newer than that was fresh.
   */
  get serial(): number {
    return this.logins;
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Lends a key, logging in when the pool is empty (or may grow and every key is busy). After the
   * array rejected the credentials, keys already held are still lent, but no login is tried
   * until the cool-down has passed.
   */
  async acquire(signal: AbortSignal | undefined, onAbort: AbortErrorFactory): Promise<KeyLease> {
    for (;;) {
      if (this.closed) throw this.deps.closedError();
      this.retireIdleKeys();
      const idle = this.entries.find((e) => e.inUse === 0);
      if (idle) return this.lend(idle);
      const rejected = this.credentialsRejected();
      const canGrow =
        !rejected &&
        this.entries.length < this.deps.size &&
        (this.entries.length === 0 || Date.now() >= this.growthPausedUntil);
      if (canGrow && this.pendingLogin === undefined) this.startLogin();
      // Keys exist but all are busy: share the least-loaded one rather than wait for a login.
      const least = this.entries.reduce<Entry | undefined>(
        (best, e) => (best === undefined || e.inUse < best.inUse ? e : best),
        undefined,
      );
      if (least) return this.lend(least);
      // Only suspended logins leave no key and no login to wait for.
      if (this.pendingLogin === undefined)
        throw rejected ?? new RangeError('session pool has no key and cannot log in');
      // No key at all: wait for the one shared login, then look again.
      await raceAbort(this.pendingLogin, signal, onAbort);
    }
  }

  /**
   * Drops a key the array called invalid (403/6: expired or unknown). No logout: the array has
   * already forgotten it. The next acquire logs in again, once, for everybody.
   */
  invalidate(key: string): void {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return;
    this.entries.splice(i, 1);
    this.deps.log.debug({ backend: this.deps.backendId, keys: this.entries.length }, 'wsapi session expired; dropped');
    this.deps.onKeysChanged(this.entries.length);
  }

  /** Stops lending, waits for a running login, and logs out every key. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pendingLogin) await this.pendingLogin.catch(() => undefined);
    const keys = this.entries.splice(0).map((e) => e.key);
    this.deps.onKeysChanged(0);
    await Promise.all(keys.map((k) => this.deps.logout(k).catch(() => undefined)));
  }

  /** Stops lending and drops every key without logging out (the array is not answering). */
  forget(): void {
    this.closed = true;
    this.entries.splice(0);
    this.deps.onKeysChanged(0);
  }

  /** Logs out (in the background) keys idle past keyIdleMs; their next use would likely fail. */
  private retireIdleKeys(): void {
    const now = Date.now();
    const old = this.entries.filter((e) => e.inUse === 0 && now - e.lastUsedAt > this.deps.keyIdleMs);
    if (old.length === 0) return;
    for (const e of old) this.entries.splice(this.entries.indexOf(e), 1);
    this.deps.onKeysChanged(this.entries.length);
    this.deps.log.debug(
      { backend: this.deps.backendId, retired: old.length, keys: this.entries.length },
      'wsapi: retired idle session keys',
    );
    // The array may keep sessions longer than its default (setwsapi -timeout): log out to free them.
    for (const e of old) void this.deps.logout(e.key).catch(() => undefined);
  }

  private lend(entry: Entry): KeyLease {
    entry.inUse++;
    entry.lastUsedAt = Date.now();
    let released = false;
    return {
      key: entry.key,
      serial: entry.serial,
      release: () => {
        if (released) return;
        released = true;
        entry.inUse--;
        entry.lastUsedAt = Date.now();
      },
    };
  }

  private startLogin(): void {
    const hadKeys = this.entries.length > 0;
    const login = this.deps.login().then(
      (key) => {
        this.authFailure = undefined;
        this.entries.push({ key, serial: ++this.logins, inUse: 0, lastUsedAt: Date.now() });
        this.deps.onKeysChanged(this.entries.length);
      },
      (err: unknown) => {
        if (isWsapiCode(err, WsapiCode.INV_USER_PASS)) {
          this.authFailure = { error: err, at: Date.now() };
        } else if (hadKeys) {
          // An extra key was refused (often the array's session limit): work with what we have.
          this.growthPausedUntil = Date.now() + this.deps.growthPauseMs;
          this.deps.log.warn(
            { backend: this.deps.backendId, keys: this.entries.length, err },
            'wsapi: could not open another session; continuing with fewer',
          );
        }
        throw err;
      },
    );
    const settled = login.finally(() => {
      if (this.pendingLogin === settled) this.pendingLogin = undefined;
    });
    // A login started to grow the pool has nobody waiting on it; its failure is handled above.
    settled.catch(() => undefined);
    this.pendingLogin = settled;
  }

  /** The error to give while logins are suspended after bad credentials; undefined otherwise. */
  private credentialsRejected(): WsapiError | undefined {
    const failure = this.authFailure;
    if (!failure) return undefined;
    const age = Date.now() - failure.at;
    if (age >= this.deps.authFailureCooldownMs) return undefined;
    const waitS = Math.ceil((this.deps.authFailureCooldownMs - age) / 1000);
    return new WsapiError(
      failure.error.status,
      { code: WsapiCode.INV_USER_PASS, ...(failure.error.desc !== undefined && { desc: failure.error.desc }) },
      { backendId: failure.error.backendId, op: failure.error.op },
      {
        cause: failure.error,
        message: `WSAPI login on backend ${failure.error.backendId} was refused (bad user name or password); not trying again for ${waitS}s to avoid locking the account — fix the backend's credentials`,
      },
    );
  }
}
