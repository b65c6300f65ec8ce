import type { WsapiErrorContext } from './errors.js';
import type { WsapiRequest } from './requester.js';
import type { WsapiResult } from './response.js';
import type { FeatureGates } from './types.js';

/** Per-call options every resource method accepts. */
export interface CallOptions {
  /** Stops waiting and retrying (a change already sent to the array still completes there). */
  signal?: AbortSignal;
}

/** What a resource class needs from the client. */
export interface ResourceContext {
  readonly backendId: string;
  request(req: WsapiRequest): Promise<WsapiResult>;
  features(opts?: CallOptions): Promise<FeatureGates>;
}

/** Base of the one-class-per-resource API (openai-node style). */
export abstract class Resource {
  constructor(protected readonly client: ResourceContext) {}

  /** The error context of an operation of this resource. */
  protected ctx(op: string): WsapiErrorContext {
    return { backendId: this.client.backendId, op };
  }

  protected send(
    op: string,
    method: WsapiRequest['method'],
    path: string,
    opts: StreamedCall | undefined,
    body?: object,
    idempotent?: boolean,
  ): Promise<WsapiResult> {
    return this.client.request({
      op,
      method,
      path,
      ...(body !== undefined && { body }),
      ...(idempotent !== undefined && { idempotent }),
      ...(opts?.signal !== undefined && { signal: opts.signal }),
      ...(opts?.members !== undefined && { members: opts.members }),
    });
  }
}

/**
 * The options of a collection GET read as it streams (member-stream.ts): its members are parsed
 * as their text arrives, and each is replaced by what `read` returns (by default the member
 * itself; a projection to the members the caller needs keeps less of a big list).
 */
export function streamed(opts: CallOptions | undefined, read: (member: unknown) => unknown = keep): StreamedCall {
  return { ...opts, members: read };
}

function keep(member: unknown): unknown {
  return member;
}

/** CallOptions with a member reader (see streamed). */
export interface StreamedCall extends CallOptions {
  members?: (member: unknown) => unknown;
}

/** Drops members whose value is undefined, so optional parameters are never sent as null. */
export function compact<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o) as [keyof T, T[keyof T]][]) if (v !== undefined) out[k] = v;
  return out;
}
