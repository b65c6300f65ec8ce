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

export interface HttpOptions {
  /** Base URL of the array, no path (e.g. https://array:8080). */
  url: string;
  /** PEM bundle that signed the array's certificate. */
  caCert?: string;
  /** Skip TLS verification entirely. */
  insecureSkipVerify?: boolean;
  /** Whole-request timeout (connect, send, wait, read). */
  timeoutMs: number;
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
    timeout: { connect: Math.min(options.timeoutMs, 10_000), request: options.timeoutMs },
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
}

/**
 * Performs one HTTP exchange. Resolves with any HTTP status; rejects with a WsapiConnectionError
 * when no response head arrived, a WsapiProtocolError('truncated') when the body broke off, and
 * a WsapiAbortedError when `signal` fired.
 */
export async function exchange(client: Got, baseUrl: string, req: ExchangeRequest, ctx: WsapiErrorContext): Promise<RawResponse> {
  try {
    const res = await client(baseUrl + req.path, {
      method: req.method,
      ...(req.body !== undefined && { json: req.body }),
      ...(req.sessionKey !== undefined && { headers: { [SESSION_KEY_HEADER]: req.sessionKey } }),
      ...(req.signal !== undefined && { signal: req.signal }),
    });
    const out: RawResponse = { status: res.statusCode };
    const location = res.headers.location;
    if (typeof location === 'string') out.location = location;
    const retryAfter = res.headers['retry-after'];
    if (typeof retryAfter === 'string') out.retryAfter = retryAfter;
    if (typeof res.body === 'string' && res.body.length > 0) out.text = res.body;
    return out;
  } catch (err) {
    throw classifyTransportError(err, baseUrl, ctx, req.signal);
  }
}

/** TLS verification failures carry OpenSSL codes like these (and Node's ERR_TLS_*). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/;

function classifyTransportError(err: unknown, baseUrl: string, ctx: WsapiErrorContext, signal?: AbortSignal): Error {
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
    hint = `no answer within the time limit (${err.event})`;
  } else if (code === 'ECONNREFUSED') {
    reason = 'refused';
    hint = 'connection refused: is the WSAPI service running and the URL/port right?';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    reason = 'dns';
    hint = 'the host name does not resolve';
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
