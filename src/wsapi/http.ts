import type { Got } from 'got';
import { createAgents } from './agents.js';
import {
  WsapiAbortedError,
  WsapiConnectionError,
  WsapiProtocolError,
  type WsapiErrorContext,
  type WsapiConnectionReason,
} from './errors.js';
import { MemberStream, type StreamedBody } from './member-stream.js';

/** HTTP methods WSAPI uses; there is no PATCH. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The request header that carries the session key (case-insensitive on the wire). */
export const SESSION_KEY_HEADER = 'X-HP3PAR-WSAPI-SessionKey';

/** What one HTTP exchange produced: a status, the headers the client uses, and the raw body. */
export interface RawResponse {
  status: number;
  location?: string;
  retryAfter?: string;
  /** Undefined when the body is empty, or read by `members` (a 2xx collection, see ExchangeRequest). */
  text?: string;
  /** A 2xx body read member by member as it arrived (ExchangeRequest.members). */
  streamed?: StreamedBody;
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
 * One configured got instance per backend (made on the backend's first request, see loadGot),
 * its options resolved once: a request adds only its method, path, session key and body. got is
 * used through its stream interface: the promise interface builds an `HTTPError` (with a stack
 * trace) for every 4xx even when told not to throw, runs its `afterResponse` hook loop and
 * cancelable-promise layer, and copies the body once more; here the answer's chunks are kept as
 * Buffers and decoded once, and the client maps every status itself (parseResponse). got's own
 * retry is off (the client retries by its own rules, never a blind POST), redirects are not
 * followed, and no `accept-encoding` is sent (the array answers uncompressed JSON; decompression
 * would add a stream per answer).
 *
 * Connections: the agents keep a socket only when the server allows it. The array answers every
 * request with `Connection: close` (REFERENCE §1.2 [G G131 p17]), so against an array each
 * request opens its own connection, as before; a server that keeps connections open (the
 * simulator with `keepAlive`) gets them reused. A free socket is closed after 2 s idle, below
 * Node's and most servers' 5-s keep-alive timeout, so a request rarely meets a socket the server
 * is closing.
 */
export function createHttp(options: HttpOptions): HttpClient {
  return { options };
}

/** A backend's HTTP client: its options, and the got instance made from them on the first request. */
export interface HttpClient {
  readonly options: HttpOptions;
  instance?: Got;
}

type GotModule = typeof import('got');
let gotModule: GotModule | undefined;
let gotLoading: Promise<GotModule> | undefined;

/**
 * got is imported on the first request, not with the driver's modules: its import costs ~150 ms
 * of CPU, which then no longer delays the first Probe (the gRPC server listens before the
 * backends are first read).
 */
function loadGot(): Promise<GotModule> {
  return (gotLoading ??= import('got').then((m) => (gotModule = m)));
}

function configure({ got }: GotModule, options: HttpOptions): Got {
  // One secure context, session cache and lookup cache per backend: see agents.ts.
  const agents = createAgents({ ...(options.caCert !== undefined && { caCert: options.caCert }) });
  return got.extend({
    agent: { http: agents.http, https: agents.https },
    https: {
      rejectUnauthorized: options.insecureSkipVerify !== true,
      ...(options.caCert !== undefined && !agents.sharedContext && { certificateAuthority: options.caCert }),
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
    decompress: false,
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
  /**
   * A 2xx answer is a collection read as it streams (MemberStream): each member is parsed alone
   * and replaced by what this returns. Any other status is read as text.
   */
  members?: (member: unknown) => unknown;
}

/** What got's stream reports with `response`: the native answer's head. */
interface ResponseHead {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Performs one HTTP exchange. Resolves with any HTTP status; rejects with a WsapiConnectionError
 * when no response head arrived, a WsapiProtocolError('truncated') when the body broke off, and
 * a WsapiAbortedError when `signal` fired.
 */
export function exchange(
  client: HttpClient,
  baseUrl: string,
  req: ExchangeRequest,
  ctx: WsapiErrorContext,
  timeouts?: WsapiTimeouts,
): Promise<RawResponse> {
  const lib = gotModule;
  if (!lib) return loadGot().then(() => exchange(client, baseUrl, req, ctx, timeouts));
  const http = (client.instance ??= configure(lib, client.options));
  return new Promise((resolve, reject) => {
    const text = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {};
    if (req.sessionKey !== undefined) headers[SESSION_KEY_HEADER] = req.sessionKey;
    if (text !== undefined) headers['content-type'] = 'application/json';
    const stream = http.stream(baseUrl + req.path, {
      method: req.method,
      headers,
      ...(text !== undefined && { body: text }),
      ...(req.signal !== undefined && { signal: req.signal }),
      ...(req.totalMs !== undefined && { timeout: { request: req.totalMs } }),
    });
    let out: RawResponse | undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    // A big list is scanned chunk by chunk and its chunks dropped, never kept and joined.
    let reader: MemberStream | undefined;
    stream.once('response', (res: ResponseHead) => {
      out = { status: res.statusCode };
      if (req.members !== undefined && res.statusCode >= 200 && res.statusCode < 300)
        reader = new MemberStream(req.members);
      const location = res.headers['location'];
      if (typeof location === 'string') out.location = location;
      const retryAfter = res.headers['retry-after'];
      if (typeof retryAfter === 'string') out.retryAfter = retryAfter;
    });
    stream.on('data', (chunk: Buffer) => {
      if (reader) reader.write(chunk);
      else chunks.push(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => {
      // Destroying the stream (as got's promise interface does) removes its listener from the
      // signal; a GET's writable side never ends, so without it the stream would stay reachable.
      stream.destroy();
      if (!out)
        return reject(
          classifyTransportError(lib, new Error('the answer ended without a head'), baseUrl, ctx, req.signal, timeouts),
        );
      if (bytes > 0 && reader) out.streamed = reader.end();
      else if (bytes > 0) out.text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes)).toString('utf8');
      resolve(out);
    });
    // `on`, not `once`: got may emit a second error while it tears the request down.
    stream.on('error', (err: unknown) => reject(classifyTransportError(lib, err, baseUrl, ctx, req.signal, timeouts)));
    // A stream without a body is ended by got only for GET; DELETE and a bodiless POST end here.
    if (text === undefined && req.method !== 'GET') stream.end();
  });
}

/** TLS verification failures carry OpenSSL codes like these (and Node's ERR_TLS_*). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/;

/**
 * OpenSSL's reason when a TLS client gets a non-TLS answer (SSL_R_WRONG_VERSION_NUMBER): an
 * https:// URL pointing at a plain-HTTP server. Node 20 reports it only as EPROTO with this text.
 */
const PLAIN_HTTP = /wrong version number|WRONG_VERSION_NUMBER|http request/i;

/** Maps a transport failure to the WSAPI error vocabulary (exported for test/wsapi/transport-errors). */
export function classifyTransportError(
  { RequestError, ReadError, TimeoutError }: GotModule,
  err: unknown,
  baseUrl: string,
  ctx: WsapiErrorContext,
  signal?: AbortSignal,
  timeouts?: WsapiTimeouts,
): Error {
  if (signal?.aborted)
    return new WsapiAbortedError(`WSAPI ${ctx.op} on backend ${ctx.backendId} was cancelled`, ctx, {
      cause: signal.reason,
    });
  // got's stream may also emit the socket's own error unwrapped (Node 24: a TLS client's
  // `write EPROTO` while sending a request body): it is classified by its code all the same.
  const raw = !(err instanceof RequestError);
  // (Duck-typed: an error from another realm, e.g. under a test runner's VM, is no `instanceof Error`.)
  if (raw && !(typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string')) {
    return new WsapiConnectionError(
      'other',
      'EUNKNOWN',
      `WSAPI ${ctx.op} on backend ${ctx.backendId} failed: ${err instanceof Error ? err.message : String(err)}`,
      ctx,
    );
  }
  const code = (err as NodeJS.ErrnoException).code || 'EUNKNOWN';
  // Never chain got's error itself: its `options` hold the session key header and, for a login,
  // the password. The socket-level error underneath says everything useful.
  const cause = safeCause(err as Error);
  if (err instanceof ReadError && err.response !== undefined) {
    // The head arrived and the body broke off: the array's way of failing a streamed list.
    return new WsapiProtocolError(
      'truncated',
      `WSAPI ${ctx.op} on backend ${ctx.backendId}: the response body was cut off (${code}); the list is incomplete`,
      ctx,
      {
        status: err.response.statusCode,
        cause,
      },
    );
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
    hint =
      'the server at this https:// URL answered in plain HTTP, not TLS: check the port (WSAPI listens on 8080 for HTTPS, 8008 for HTTP) or use an http:// URL';
  } else if (TLS_CODE.test(code)) {
    reason = 'tls';
    hint =
      "TLS verification failed: set the backend's caCert to the CA that signed the array's certificate, or set insecureSkipVerify";
  } else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    reason = 'reset';
    hint = 'the connection dropped before the answer arrived';
  } else {
    reason = 'other';
    hint = cause.message;
  }
  return new WsapiConnectionError(
    reason,
    code,
    `WSAPI ${ctx.op} on backend ${ctx.backendId} (${baseUrl}): ${hint} [${code}]`,
    ctx,
    { cause },
  );
}

/** A plain copy of the low-level error under a got error: name, message and code only. */
function safeCause(err: Error): Error {
  const inner: unknown = err.cause;
  const src = typeof inner === 'object' && inner !== null && 'message' in inner ? (inner as Error) : err;
  const copy = new Error(src.message);
  copy.name = src.name;
  const code = (src as NodeJS.ErrnoException).code;
  if (code !== undefined) (copy as NodeJS.ErrnoException).code = code;
  return copy;
}

/** What a got timeout event means for the admin, with the limit that was passed. */
function timeoutHint(event: string, t: WsapiTimeouts | undefined): string {
  const s = (ms: number | undefined): string => (ms === undefined ? 'the time limit' : `${ms / 1000} s`);
  if (event === 'lookup' || event === 'connect' || event === 'secureConnect')
    return `could not connect within ${s(t?.connectMs)} (${event})`;
  if (event === 'response')
    return `the array accepted the request but sent no answer within ${s(t?.responseMs)} (it may be hung)`;
  return `the request did not complete within ${s(t?.totalMs)} (${event})`;
}
