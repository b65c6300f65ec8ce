import { WsapiError, WsapiProtocolError, type WsapiErrorBody, type WsapiErrorContext } from './errors.js';
import type { RawResponse } from './http.js';
import { isRecord } from '../util/record.js';

/** A successful (2xx) answer: status, the `Location` header, and the parsed JSON body if any. */
export interface WsapiResult {
  status: number;
  location?: string;
  body: unknown;
}

/** The in-stream failure marker a streaming list appends when the array fails part-way (§1.6). */
const SUCCESS_FALSE = /"success"\s*:\s*false/;

/**
 * Turns one raw exchange into a result or a typed error: 2xx → parsed body (a `"success": false`
 * marker or invalid JSON is a WsapiProtocolError); anything else → WsapiError with the array's
 * `{code, desc, ref}` (a `message` member, seen on newer firmware, stands in for `desc`).
 */
export function parseResponse(raw: RawResponse, ctx: WsapiErrorContext): WsapiResult {
  if (raw.status >= 200 && raw.status < 300) {
    const streamed = raw.streamed;
    // A streamed collection was parsed as it arrived; what is left of a broken one is its text.
    const text = streamed && !streamed.ok ? streamed.text : raw.text;
    const body = streamed ? (streamed.ok ? streamed.value : INVALID) : text === undefined ? undefined : parseJson(text);
    if (body === INVALID) {
      if (SUCCESS_FALSE.test(text!)) throw successFalse(raw, ctx, codeInText(text!));
      throw new WsapiProtocolError(
        'invalid-json',
        `WSAPI ${ctx.op} on backend ${ctx.backendId}: the answer is not valid JSON`,
        ctx,
        { status: raw.status },
      );
    }
    if (isRecord(body) && body['success'] === false) {
      const message = body['message'];
      throw successFalse(
        raw,
        ctx,
        isRecord(message) && typeof message['code'] === 'number' ? message['code'] : undefined,
      );
    }
    const out: WsapiResult = { status: raw.status, body };
    if (raw.location !== undefined) out.location = raw.location;
    return out;
  }
  const parsed = raw.text === undefined ? undefined : parseJson(raw.text);
  const errBody: WsapiErrorBody = {};
  if (isRecord(parsed)) {
    if (typeof parsed['code'] === 'number') errBody.code = parsed['code'];
    const desc =
      typeof parsed['desc'] === 'string'
        ? parsed['desc']
        : typeof parsed['message'] === 'string'
          ? parsed['message']
          : undefined;
    if (desc !== undefined) errBody.desc = desc;
    if (typeof parsed['ref'] === 'string') errBody.ref = parsed['ref'];
  }
  const retryAfterMs = parseRetryAfter(raw.retryAfter);
  throw new WsapiError(raw.status, errBody, ctx, retryAfterMs === undefined ? undefined : { retryAfterMs });
}

function successFalse(raw: RawResponse, ctx: WsapiErrorContext, code: number | undefined): WsapiProtocolError {
  const what = code === undefined ? '' : ` (code ${code})`;
  return new WsapiProtocolError(
    'success-false',
    `WSAPI ${ctx.op} on backend ${ctx.backendId}: the array reported a failure part-way through the answer${what}`,
    ctx,
    {
      status: raw.status,
      ...(code !== undefined && { code }),
    },
  );
}

/** The first `"code": n` after a `"message"` member, if the broken body has one. */
function codeInText(text: string): number | undefined {
  const at = text.lastIndexOf('"message"');
  const m = /"code"\s*:\s*(\d+)/.exec(at >= 0 ? text.slice(at) : text);
  return m ? Number(m[1]) : undefined;
}

const INVALID = Symbol('invalid JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID;
  }
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/**
 * Reads a `{total, members}` collection. A member count below `total` means the stream lost
 * members on the way, so it is an error, never a silently short list.
 */
export function readCollection<T>(result: WsapiResult, ctx: WsapiErrorContext, check: (m: unknown) => m is T): T[] {
  const body = result.body;
  if (!isRecord(body) || !Array.isArray(body['members'])) {
    throw new WsapiProtocolError(
      'unexpected-shape',
      `WSAPI ${ctx.op} on backend ${ctx.backendId}: expected {total, members}`,
      ctx,
      { status: result.status },
    );
  }
  const members = body['members'] as unknown[];
  const total = body['total'];
  if (typeof total === 'number' && members.length < total) {
    throw new WsapiProtocolError(
      'truncated',
      `WSAPI ${ctx.op} on backend ${ctx.backendId}: the list holds ${members.length} of ${total} members`,
      ctx,
      { status: result.status },
    );
  }
  members.forEach((m, i) => {
    if (!check(m))
      throw new WsapiProtocolError(
        'unexpected-shape',
        `WSAPI ${ctx.op} on backend ${ctx.backendId}: member ${i} of the list has an unexpected shape`,
        ctx,
        { status: result.status },
      );
  });
  return members as T[];
}

/** Reads one object, checked by `check`. */
export function readObject<T>(result: WsapiResult, ctx: WsapiErrorContext, check: (m: unknown) => m is T): T {
  if (!check(result.body)) {
    throw new WsapiProtocolError(
      'unexpected-shape',
      `WSAPI ${ctx.op} on backend ${ctx.backendId}: the answer has an unexpected shape`,
      ctx,
      { status: result.status },
    );
  }
  return result.body;
}

/** A shape check: an object whose `name` is a non-empty string. */
export function hasName(m: unknown): m is { name: string } {
  return isRecord(m) && typeof m['name'] === 'string' && m['name'] !== '';
}
