import http from 'node:http';
import https from 'node:https';
import { got, RequestError, TimeoutError, ReadError, type Got } from 'got';
import { WsapiAbortedError, WsapiConnectionError, WsapiProtocolError, type WsapiErrorContext, type WsapiConnectionReason } from './errors.js';

/** HTTP methods WSAPI uses; there is no PATCH. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The request header that carries the session key (case-insensitive on the wire). */
export const SESSION_KEY_HEADER = 'X-HP3PAR-WSAPI-SessionKey';

/** What one HTTP exchange produced: a status, the headers the client uses, and the raw body. */
export interface RawResponse {
  status: number;
  location?: string;
  retryAfter?: string;
  /** Undefined when the body is empty. */
  text?: string;
}

/**
 * Time limits of one WSAPI request. A hung array (accepts connections, never answers) is found by
 * `responseMs`: the time from the request being sent to the first byte of the answer.
 */
export interface WsapiTimeouts {
  /** DNS lookup + TCP connect + TLS handshake. */
  connectMs: number;
  /** Request sent → response head received (first byte). */
  responseMs: number;
  /** The whole exchange, body included (long lists stream for a while on big arrays). */
  totalMs: number;
}

export interface HttpOptions {
  /** Base URL of the array, no path (e.g. https://array:8080). */
  url: string;
  /** PEM bundle that signed the array's certificate. */
  caCert?: string;
  /** Skip TLS verification entirely. */
  insecureSkipVerify?: boolean;
  /** The three time limits of every request (see WsapiTimeouts). */
  timeouts: WsapiTimeouts;
  /** User-Agent sent to the array (shows up in its logs). */
  userAgent: string;
}

/**
 * One configured got instance per backend. No keep-alive: the array answers every request with
 * `Connection: close`, so each request opens its own connection and nothing waits for reuse.
 * got's own retry is off — the client retries by its own rules (never a blind POST) — and HTTP
 * errors are returned rather than thrown, because the client classifies them by the array's code.
 */
export function createHttp(options: HttpOptions): Got {
  return got.extend({
    agent: {
      http: new http.Agent({ keepAlive: false }),
      https: new https.Agent({ keepAlive: false }),
    },
    https: {
      rejectUnauthorized: options.insecureSkipVerify !== true,
      ...(options.caCert !== undefined && { certificateAuthority: options.caCert }),
    },
    timeout: {
      lookup: options.timeouts.connectMs,
      connect: options.timeouts.connectMs,
      secureConnect: options.timeouts.connectMs,
      response: options.timeouts.responseMs,
      request: options.timeouts.totalMs,
    },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
    headers: { accept: 'application/json', 'user-agent': options.userAgent },
  });
}

export interface ExchangeRequest {
  method: HttpMethod;
  /** Encoded path, starting with `/api`. */
  path: string;
  body?: object;
  sessionKey?: string;
  /** Aborts the socket; passed only for requests that are safe to cut off (reads). */
  signal?: AbortSignal;
  /** A shorter whole-request limit for this exchange (logouts at shutdown). */
  totalMs?: number;
}

/**
 * Performs one HTTP exchange. Resolves with any HTTP status; rejects with a WsapiConnectionError
 * when no response head arrived, a WsapiProtocolError('truncated') when the body broke off, and
 * a WsapiAbortedError when `signal` fired.
 */
export async function exchange(client: Got, baseUrl: string, req: ExchangeRequest, ctx: WsapiErrorContext, timeouts?: WsapiTimeouts): Promise<RawResponse> {
  try {
    const res = await client(baseUrl + req.path, {
      method: req.method,
      ...(req.body !== undefined && { json: req.body }),
      ...(req.sessionKey !== undefined && { headers: { [SESSION_KEY_HEADER]: req.sessionKey } }),
      ...(req.signal !== undefined && { signal: req.signal }),
      ...(req.totalMs !== undefined && { timeout: { request: req.totalMs } }),
    });
    const out: RawResponse = { status: res.statusCode };
    const location = res.headers.location;
    if (typeof location === 'string') out.location = location;
    const retryAfter = res.headers['retry-after'];
    if (typeof retryAfter === 'string') out.retryAfter = retryAfter;
    if (typeof res.body === 'string' && res.body.length > 0) out.text = res.body;
    return out;
  } catch (err) {
    throw classifyTransportError(err, baseUrl, ctx, req.signal, timeouts);
  }
}

/** TLS verification failures carry OpenSSL codes like these (and Node's ERR_TLS_*). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/;

/**
 * OpenSSL's reason when a TLS client gets a non-TLS answer (SSL_R_WRONG_VERSION_NUMBER): an
 * https:// URL pointing at a plain-HTTP server. Node 20 reports it only as EPROTO with this text.
 */
const PLAIN_HTTP = /wrong version number|WRONG_VERSION_NUMBER|http request/i;

function classifyTransportError(err: unknown, baseUrl: string, ctx: WsapiErrorContext, signal?: AbortSignal, timeouts?: WsapiTimeouts): Error {
  if (signal?.aborted) return new WsapiAbortedError(`WSAPI ${ctx.op} on backend ${ctx.backendId} was cancelled`, ctx, { cause: signal.reason });
  if (!(err instanceof RequestError)) {
    return new WsapiConnectionError('other', 'EUNKNOWN', `WSAPI ${ctx.op} on backend ${ctx.backendId} failed: ${err instanceof Error ? err.message : String(err)}`, ctx);
  }
  const code = err.code || 'EUNKNOWN';
  // Never chain got's error itself: its `options` hold the session key header and, for a login,
  // the password. The socket-level error underneath says everything useful.
  const cause = safeCause(err);
  if (err instanceof ReadError && err.response !== undefined) {
    // The head arrived and the body broke off: the array's way of failing a streamed list.
    return new WsapiProtocolError('truncated', `WSAPI ${ctx.op} on backend ${ctx.backendId}: the response body was cut off (${code}); the list is incomplete`, ctx, {
      status: err.response.statusCode,
      cause,
    });
  }
  let reason: WsapiConnectionReason;
  let hint: string;
  if (err instanceof TimeoutError) {
    reason = 'timeout';
    hint = timeoutHint(err.event, timeouts);
  } else if (code === 'ECONNREFUSED') {
    reason = 'refused';
    hint = 'connection refused: is the WSAPI service running and the URL/port right?';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    reason = 'dns';
    hint = 'the host name does not resolve';
  } else if (TLS_CODE.test(code) && baseUrl.startsWith('https:') && PLAIN_HTTP.test(cause.message + ' ' + code)) {
    reason = 'tls';
    hint = 'the server at this https:// URL answered in plain HTTP, not TLS: check the port (WSAPI listens on 8080 for HTTPS, 8008 for HTTP) or use an http:// URL';
  } else if (TLS_CODE.test(code)) {
    reason = 'tls';
    hint = "TLS verification failed: set the backend's caCert to the CA that signed the array's certificate, or set insecureSkipVerify";
  } else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    reason = 'reset';
    hint = 'the connection dropped before the answer arrived';
  } else {
    reason = 'other';
    hint = err.message;
  }
  return new WsapiConnectionError(reason, code, `WSAPI ${ctx.op} on backend ${ctx.backendId} (${baseUrl}): ${hint} [${code}]`, ctx, { cause });
}

/** A plain copy of the low-level error under a got error: name, message and code only. */
function safeCause(err: RequestError): Error {
  const inner: unknown = err.cause;
  const src = inner instanceof Error ? inner : err;
  const copy = new Error(src.message);
  copy.name = src.name;
  const code = (src as NodeJS.ErrnoException).code;
  if (code !== undefined) (copy as NodeJS.ErrnoException).code = code;
  return copy;
}

/** What a got timeout event means for the admin, with the limit that was passed. */
function timeoutHint(event: string, t: WsapiTimeouts | undefined): string {
  const s = (ms: number | undefined): string => (ms === undefined ? 'the time limit' : `${ms / 1000} s`);
  if (event === 'lookup' || event === 'connect' || event === 'secureConnect') return `could not connect within ${s(t?.connectMs)} (${event})`;
  if (event === 'response') return `the array accepted the request but sent no answer within ${s(t?.responseMs)} (it may be hung)`;
  return `the request did not complete within ${s(t?.totalMs)} (${event})`;
}
