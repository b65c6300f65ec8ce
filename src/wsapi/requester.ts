import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import {
  WsapiAbortedError,
  WsapiBaseError,
  WsapiConnectionError,
  WsapiError,
  WsapiProtocolError,
  WsapiCode,
  isWsapiCode,
  type WsapiErrorContext,
} from './errors.js';
import { exchange, type HttpClient, type HttpMethod, type RawResponse, type WsapiTimeouts } from './http.js';
import { Semaphore } from './limiter.js';
import { raceAbort, wait } from '../util/abort.js';
import { SessionPool, type KeyLease } from './session-pool.js';
import { parseResponse, type WsapiResult } from './response.js';
import { isRecord } from '../util/record.js';

/** One WSAPI call as a resource class describes it. */
export interface WsapiRequest {
  /** `<resource>.<method>`: the log field, metrics label and error context. */
  op: string;
  method: HttpMethod;
  /** Encoded path starting with `/api` (build it with apiPath). */
  path: string;
  body?: object;
  /**
   * Safe to send again after a dropped connection or a 503: reads, and POSTs that only read
   * (spacereporter). Default: GET only. Anything else is resent only when it surely never left.
   */
  idempotent?: boolean;
  /** Stops waiting and retrying. Cuts off an idempotent request; a change already sent completes. */
  signal?: AbortSignal;
  /** Send without a session key (only `GET /api` needs none). */
  noSession?: boolean;
  /** A collection read member by member as it streams (ExchangeRequest.members). */
  members?: (member: unknown) => unknown;
}

/** Bounded exponential back-off with jitter for retried requests. */
export interface RetryPolicy {
  /** Tries in total for a retryable request (1 = no retry). */
  attempts: number;
  /** Delay before the second try; doubles each time. */
  baseDelayMs: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
}

/**
 * What the client last learnt about the array's reachability, told to `onStatus` on every request
 * that proves something (the array layer turns changes into `backend_up`, a status label and a log).
 */
export type WsapiStatus =
  /** An authenticated request (or a login) succeeded: the array answers and accepts the credentials. */
  | { state: 'reachable' }
  /** No answer: refused, unresolvable, dropped, or timed out (`detail` says which, and the limit). */
  | { state: 'unreachable'; detail: string }
  /** The array refused the user name or password (403 code 5). */
  | { state: 'auth-refused'; detail: string }
  /** The TLS handshake failed (unknown CA, wrong name, or a plain-HTTP server behind an https URL). */
  | { state: 'tls-refused'; detail: string };

export interface RequesterOptions {
  backendId: string;
  baseUrl: string;
  http: HttpClient;
  timeouts: WsapiTimeouts;
  /**
   * After a request timed out, new requests fail at once (UNAVAILABLE for the caller) until a
   * `GET /api` probe, sent this often, gets an answer: one hung array costs one timeout, not one
   * per request.
   */
  probeIntervalMs: number;
  /** Bound of each logout at close (the array may be hung; shutdown must not wait for it). */
  logoutTimeoutMs: number;
  onStatus?: (status: WsapiStatus) => void;
  username: string;
  password: string;
  sessionPoolSize: number;
  maxInFlight: number;
  retry: RetryPolicy;
  authFailureCooldownMs: number;
  keyIdleMs: number;
  log: Logger;
  metrics?: Metrics;
}

/**
 * After the array refuses an extra session (usually its session limit, shared with every other
 * client), the pool works with the keys it has for this long before trying to grow again.
 */
const GROWTH_PAUSE_MS = 30_000;

/** The code of the error given at once, without sending, while the array is considered hung. */
export const UNRESPONSIVE = 'EUNRESPONSIVE';

/** Marks an error that happened before the request left (queue, login): always safe to retry. */
class NotSent extends Error {
  constructor(readonly inner: Error) {
    super(inner.message);
  }
}

/**
 * The request pipeline of one backend: in-flight cap → session key → one HTTP exchange → parse,
 * with one re-login on an expired key and bounded retries by the rules above. Every exchange is
 * logged at debug (never the key, the password or a body) and counted in metrics. `backend_up`
 * is not set here: the array layer owns it (one writer, with a log line on each change).
 */
export class Requester {
  private readonly slots: Semaphore;
  readonly sessions: SessionPool;
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  /** Fires at close, after the drain: cuts off every exchange still waiting for the array. */
  private readonly closing = new AbortController();
  /** Set while the array is considered hung (a request timed out and no probe answered since). */
  private unresponsive: WsapiConnectionError | undefined;
  private probing: Promise<void> | undefined;

  constructor(private readonly o: RequesterOptions) {
    // Each exchange in flight listens on `closing` until it ends: at most maxInFlight requests,
    // the logins and the probe (none left behind). Node's "possible EventTarget memory leak"
    // warning past its default of 10 was a false alarm with maxInFlight above 10; a real leak
    // still passes this bound and warns.
    setMaxListeners(2 * (o.maxInFlight + o.sessionPoolSize) + 10, this.closing.signal);
    this.slots = new Semaphore(o.maxInFlight);
    this.sessions = new SessionPool({
      backendId: o.backendId,
      size: o.sessionPoolSize,
      login: () => this.login(),
      logout: (key) => this.logout(key, this.closed ? o.logoutTimeoutMs : o.timeouts.totalMs),
      onKeysChanged: (n) => o.metrics?.wsapiKeys.set({ backend: o.backendId }, n),
      authFailureCooldownMs: o.authFailureCooldownMs,
      growthPauseMs: GROWTH_PAUSE_MS,
      keyIdleMs: o.keyIdleMs,
      closedError: () => this.closedError('session.login'),
      log: o.log,
    });
  }

  /** Sends one request through the pipeline; resolves with a 2xx result or throws a Wsapi*Error. */
  async request(req: WsapiRequest): Promise<WsapiResult> {
    const ctx: WsapiErrorContext = { backendId: this.o.backendId, op: req.op };
    const idempotent = req.idempotent ?? req.method === 'GET';
    const onAbort = (): Error =>
      new WsapiAbortedError(`WSAPI ${req.op} on backend ${this.o.backendId} was cancelled`, ctx, {
        cause: req.signal?.reason,
      });
    let failures = 0;
    let relogged = false;
    const startSerial = this.sessions.serial;
    for (let attempt = 1; ; attempt++) {
      const used: { serial?: number } = {};
      try {
        const work = this.track(this.attempt(req, ctx, attempt, idempotent, onAbort, used));
        // A change already on the wire is not cut off; the caller just stops waiting for it.
        return await (idempotent ? work : raceAbort(work, req.signal, onAbort));
      } catch (caught) {
        const notSent = caught instanceof NotSent;
        const err = caught instanceof NotSent ? caught.inner : (caught as Error);
        // An expired key: the array refused before doing anything, so replaying is safe for any
        // method. Replay once with a new key; and again whenever the key that failed predates
        // this request (several keys of the pool expire together after an idle period). The
        // failed key is gone from the pool, so this ends within the pool size.
        if (!notSent && isWsapiCode(err, WsapiCode.INV_SESS_KEY)) {
          const stale = used.serial !== undefined && used.serial <= startSerial;
          if (stale || !relogged) {
            if (!stale) relogged = true;
            continue;
          }
        }
        failures++;
        if (failures >= this.o.retry.attempts || !retryable(err, idempotent, notSent)) throw err;
        const delay = backoffMs(failures, this.o.retry, err);
        this.o.log.debug(
          { backend: this.o.backendId, op: req.op, attempt, delayMs: delay, reason: err.name },
          'wsapi retry',
        );
        await wait(delay, req.signal, onAbort);
      }
    }
  }

  /**
   * Stops new requests, fails queued ones, waits up to `drainMs` for running ones, then cuts off
   * what is still waiting for the array (its callers get WsapiAbortedError), and logs out every
   * key, each logout bounded by `logoutTimeoutMs`. Whatever the array does, this ends within
   * about drainMs + connect + logoutTimeoutMs.
   */
  async close(drainMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots.rejectAll(() => this.closedError('client.close'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, drainMs);
      }),
    ]);
    clearTimeout(timer);
    this.closing.abort(this.closedError('client.close'));
    // A hung array is not logged out of: its sessions expire on their own (idle timeout).
    if (this.unresponsive) {
      this.o.log.warn(
        { backend: this.o.backendId, keys: this.sessions.size },
        'wsapi: array not answering; sessions not logged out (the array expires them)',
      );
      this.sessions.forget();
      return;
    }
    await this.sessions.close();
  }

  private async attempt(
    req: WsapiRequest,
    ctx: WsapiErrorContext,
    attempt: number,
    idempotent: boolean,
    onAbort: () => Error,
    used: { serial?: number },
  ): Promise<WsapiResult> {
    if (this.closed) throw new NotSent(this.closedError(req.op));
    if (this.unresponsive) throw new NotSent(this.failFast(ctx));
    let release: (() => void) | undefined;
    let lease: KeyLease | undefined;
    try {
      try {
        release = await this.slots.acquire(req.signal, onAbort);
        if (!req.noSession) {
          lease = await this.sessions.acquire(req.signal, onAbort);
          used.serial = lease.serial;
        }
      } catch (err) {
        throw new NotSent(err as Error);
      }
      const raw = await this.exchangeLogged(
        req,
        ctx,
        attempt,
        lease?.key,
        req.path,
        idempotent ? req.signal : undefined,
      );
      return parseResponse(raw, ctx);
    } catch (err) {
      if (lease && isWsapiCode(err, WsapiCode.INV_SESS_KEY)) this.sessions.invalidate(lease.key);
      throw err;
    } finally {
      lease?.release();
      release?.();
    }
  }

  /** One exchange with its debug line and metrics. `logPath` hides what must not be logged. */
  private async exchangeLogged(
    req: WsapiRequest,
    ctx: WsapiErrorContext,
    attempt: number,
    sessionKey: string | undefined,
    logPath: string,
    signal: AbortSignal | undefined,
    logoutMs?: number,
  ): Promise<RawResponse> {
    const started = performance.now();
    const labels = { backend: this.o.backendId, op: req.op };
    // Every exchange ends when the client closes (after its drain), whatever the array does;
    // the logouts of the close itself run after that, each under its own short limit.
    const closing = logoutMs === undefined ? this.closing.signal : undefined;
    const link = signal && closing ? linkSignals(signal, closing) : undefined;
    const cut = link?.signal ?? signal ?? closing;
    try {
      const raw = await exchange(
        this.o.http,
        this.o.baseUrl,
        {
          method: req.method,
          path: req.path,
          ...(req.body !== undefined && { body: req.body }),
          ...(sessionKey !== undefined && { sessionKey }),
          ...(cut !== undefined && { signal: cut }),
          ...(logoutMs !== undefined && { totalMs: logoutMs }),
          ...(req.members !== undefined && { members: req.members }),
        },
        ctx,
        this.o.timeouts,
      );
      this.observe(raw, req, sessionKey !== undefined);
      const durationMs = Math.round(performance.now() - started);
      this.o.metrics?.wsapiSeconds.observe(labels, durationMs / 1000);
      this.o.metrics?.wsapiTotal.inc({ ...labels, outcome: String(raw.status) });
      // The line's fields (and the error code read from the body) only when debug is on.
      if (this.o.log.isLevelEnabled('debug'))
        this.o.log.debug(
          {
            backend: this.o.backendId,
            op: req.op,
            method: req.method,
            path: logPath,
            status: raw.status,
            code: errorCodeOf(raw),
            durationMs,
            attempt,
          },
          'wsapi request',
        );
      return raw;
    } catch (err) {
      this.failed(err, req, logPath, attempt, started);
      throw err;
    } finally {
      link?.unlink();
    }
  }

  /** A failed exchange's metrics and debug line; a connection failure is reported (connectionFailed). */
  private failed(err: unknown, req: WsapiRequest, logPath: string, attempt: number, started: number): void {
    const durationMs = Math.round(performance.now() - started);
    const labels = { backend: this.o.backendId, op: req.op };
    const outcome =
      err instanceof WsapiConnectionError
        ? err.reason
        : err instanceof WsapiProtocolError
          ? err.reason
          : err instanceof WsapiAbortedError
            ? 'aborted'
            : 'error';
    this.o.metrics?.wsapiSeconds.observe(labels, durationMs / 1000);
    this.o.metrics?.wsapiTotal.inc({ ...labels, outcome });
    this.o.log.debug(
      {
        backend: this.o.backendId,
        op: req.op,
        method: req.method,
        path: logPath,
        outcome,
        errorCode: err instanceof WsapiBaseError ? (err as { code?: unknown }).code : undefined,
        durationMs,
        attempt,
      },
      'wsapi request failed',
    );
    if (err instanceof WsapiConnectionError) this.connectionFailed(err);
  }

  /** `POST /credentials`: exactly one attempt; the pool shares it among waiting requests. */
  private async login(): Promise<string> {
    const req: WsapiRequest = {
      op: 'session.login',
      method: 'POST',
      path: '/api/v1/credentials',
      body: { user: this.o.username, password: this.o.password },
    };
    const ctx: WsapiErrorContext = { backendId: this.o.backendId, op: req.op };
    try {
      const raw = await this.exchangeLogged(req, ctx, 1, undefined, req.path, undefined);
      const res = parseResponse(raw, ctx);
      const key = isRecord(res.body) ? res.body['key'] : undefined;
      if (typeof key !== 'string' || key === '')
        throw new WsapiProtocolError(
          'unexpected-shape',
          `WSAPI login on backend ${this.o.backendId} answered without a session key`,
          ctx,
          { status: res.status },
        );
      this.o.metrics?.wsapiLogins.inc({ backend: this.o.backendId, outcome: 'ok' });
      this.o.log.debug({ backend: this.o.backendId, keys: this.sessions.size + 1 }, 'wsapi session opened');
      return key;
    } catch (err) {
      const rejected = isWsapiCode(err, WsapiCode.INV_USER_PASS);
      this.o.metrics?.wsapiLogins.inc({ backend: this.o.backendId, outcome: rejected ? 'rejected' : 'error' });
      if (rejected)
        this.o.log.error(
          { backend: this.o.backendId, user: this.o.username },
          'wsapi login refused: bad user name or password (not retried, to avoid locking the account)',
        );
      throw err;
    }
  }

  /** `DELETE /credentials/<key>`; a key the array already forgot (403/6) counts as logged out. */
  private async logout(key: string, totalMs?: number): Promise<void> {
    const req: WsapiRequest = {
      op: 'session.logout',
      method: 'DELETE',
      path: `/api/v1/credentials/${encodeURIComponent(key)}`,
    };
    const ctx: WsapiErrorContext = { backendId: this.o.backendId, op: req.op };
    const raw = await this.exchangeLogged(req, ctx, 1, key, '/api/v1/credentials/{key}', undefined, totalMs);
    try {
      parseResponse(raw, ctx);
    } catch (err) {
      if (!isWsapiCode(err, WsapiCode.INV_SESS_KEY)) throw err;
    }
  }

  /** What an HTTP answer proves about the array (see WsapiStatus). */
  private observe(raw: RawResponse, req: WsapiRequest, withKey: boolean): void {
    if (req.op === 'session.login') {
      if (raw.status === 201) this.o.onStatus?.({ state: 'reachable' });
      else if (raw.status === 403 && errorCodeOf(raw) === WsapiCode.INV_USER_PASS) {
        this.o.onStatus?.({
          state: 'auth-refused',
          detail: `the array refused the user name or password of backend ${this.o.backendId} (403 code 5)`,
        });
      }
      return;
    }
    // Any answer but a refused key or a server error proves the array works with our session.
    if (withKey && raw.status < 500 && !(raw.status === 403 || raw.status === 401))
      this.o.onStatus?.({ state: 'reachable' });
  }

  /** A request got no answer: report it, and after a timeout stop sending until a probe answers. */
  private connectionFailed(err: WsapiConnectionError): void {
    if (this.closing.signal.aborted) return;
    if (err.reason === 'tls') this.o.onStatus?.({ state: 'tls-refused', detail: err.message });
    else this.o.onStatus?.({ state: 'unreachable', detail: err.message });
    if (err.reason === 'timeout' && err.code !== UNRESPONSIVE && !this.unresponsive) {
      this.unresponsive = err;
      this.o.log.warn(
        { backend: this.o.backendId, op: err.op, probeIntervalMs: this.o.probeIntervalMs },
        'wsapi: the array did not answer in time; failing requests at once until it answers a probe',
      );
      this.probing ??= this.probe().finally(() => (this.probing = undefined));
    }
  }

  /** `GET /api` every probeIntervalMs until the array answers anything, or the client closes. */
  private async probe(): Promise<void> {
    const ctx: WsapiErrorContext = { backendId: this.o.backendId, op: 'api.probe' };
    const req: WsapiRequest = { op: 'api.probe', method: 'GET', path: '/api', noSession: true };
    while (this.unresponsive && !this.closing.signal.aborted) {
      try {
        // One probe interval, or until close; the timer never keeps the process alive.
        await wait(this.o.probeIntervalMs, this.closing.signal, () => this.closedError('api.probe'), { unref: true });
        await exchange(
          this.o.http,
          this.o.baseUrl,
          { method: 'GET', path: req.path, signal: this.closing.signal },
          ctx,
          this.o.timeouts,
        );
        this.unresponsive = undefined;
        this.o.log.info({ backend: this.o.backendId }, 'wsapi: the array answers again');
      } catch {
        // Still no answer (or closed): the loop condition decides.
      }
    }
  }

  private failFast(ctx: WsapiErrorContext): WsapiConnectionError {
    const first = this.unresponsive!;
    return new WsapiConnectionError(
      'timeout',
      UNRESPONSIVE,
      `WSAPI ${ctx.op} on backend ${ctx.backendId} not sent: the array stopped answering (${first.message}); waiting for it to answer a probe`,
      ctx,
      { cause: first },
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const done = (): void => {
      this.running.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private closedError(op: string): Error {
    return new WsapiAbortedError(`the WSAPI client of backend ${this.o.backendId} is closed`, {
      backendId: this.o.backendId,
      op,
    });
  }
}

/** Whether a failed try may be repeated (see WsapiRequest.idempotent). */
function retryable(err: Error, idempotent: boolean, notSent: boolean): boolean {
  if (err instanceof WsapiAbortedError) return false;
  if (isWsapiCode(err, WsapiCode.INV_USER_PASS)) return false;
  if (err instanceof WsapiConnectionError) {
    // A timeout means a hung array: another try would only add one more timeout.
    if (err.reason === 'tls' || err.reason === 'timeout') return false;
    // Refused or unresolvable: the request never reached the array, whatever its method.
    return notSent || idempotent || err.reason === 'refused' || err.reason === 'dns';
  }
  if (!notSent && !idempotent) return false;
  if (err instanceof WsapiError) return err.status === 503;
  if (err instanceof WsapiProtocolError) return err.reason === 'truncated' || err.reason === 'success-false';
  return false;
}

/** Equal-jitter exponential back-off, honouring a 503's Retry-After within the bound. */
function backoffMs(failures: number, policy: RetryPolicy, err: Error): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1));
  let delay = ceiling / 2 + Math.random() * (ceiling / 2);
  const retryAfter = err instanceof WsapiError ? err.retryAfterMs : undefined;
  if (retryAfter !== undefined) delay = Math.max(delay, Math.min(retryAfter, policy.maxDelayMs));
  return Math.round(delay);
}

/**
 * One signal that fires when either does, unlinked when the exchange ends. Not `AbortSignal.any`:
 * that makes a follower signal per request on the client's long-lived closing signal, more work
 * per request than two listeners removed at the end.
 */
function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; unlink: () => void } {
  const both = new AbortController();
  const fromA = (): void => both.abort(a.reason);
  const fromB = (): void => both.abort(b.reason);
  if (a.aborted) fromA();
  else if (b.aborted) fromB();
  a.addEventListener('abort', fromA, { once: true });
  b.addEventListener('abort', fromB, { once: true });
  return {
    signal: both.signal,
    unlink: () => {
      a.removeEventListener('abort', fromA);
      b.removeEventListener('abort', fromB);
    },
  };
}

function errorCodeOf(raw: RawResponse): number | undefined {
  if (raw.status < 400 || raw.text === undefined) return undefined;
  const m = /"code"\s*:\s*(\d+)/.exec(raw.text);
  return m ? Number(m[1]) : undefined;
}
