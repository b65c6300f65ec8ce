/** Types shared by the HTTP front and the route modules. */
import type { Caller, Reply, Sim } from '../model/context.js';
import type { PortDef } from '../model/vluns.js';
import type { Sessions } from '../sessions.js';

/** A parsed WSAPI request, as handlers see it. */
export interface Req {
  method: string;
  /** Decoded path segments after /api/v1 (or ['api'] style for /api). */
  segs: string[];
  /** The decoded `query` parameter, if any. */
  query?: string;
  /** Other query parameters (e.g. noVcn). */
  params: URLSearchParams;
  body: unknown;
  caller: Caller;
  ip: string;
}

/** A list answer: `{total, members}`, streamed chunked for volumes and VLUNs (§1.6). */
export interface ListReply {
  status: 200;
  members: unknown[];
  stream: boolean;
}

export type Answer = Reply | ListReply;

export type Handler = (req: Req) => Answer | Promise<Answer>;

/** What the route handlers share besides the object model. */
export interface Server {
  sim: Sim;
  sessions: Sessions;
  ports: PortDef[];
  https: boolean;
}

export const isList = (a: Answer): a is ListReply => 'members' in a;
