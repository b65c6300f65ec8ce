/**
 * The HTTP(S) front of the simulator: transport checks (HTTP version, Accept, content type,
 * percent-encoding, JSON), sessions, the latency model, faults, routing, and answers with the
 * array's headers. Every response closes its connection, as on the array (`Connection: close`,
 * REFERENCE §1.2), unless the `keepAlive` option says otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimError } from '../errors.js';
import type { FaultController, RequestInfo } from '../faults.js';
import { PROV } from '../model/types.js';
import { sweepExpired } from '../model/volumes.js';
import { credentialRoutes, systemRoutes, taskRoutes, versionAnswer } from './routes-system.js';
import { hostRoutes, portRoutes, vlunRoutes } from './routes-hosts.js';
import { setRoutes, volumeRoutes } from './routes-volumes.js';
import { qosRoutes } from './routes-qos.js';
import { isList, type Answer, type Req, type Server } from './types.js';
import type { AdminHandler } from './admin.js';
import { readBody } from './body.js';

const CHUNK_MEMBERS = 500;

/** One entry per WSAPI request served. */
export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  code?: number;
  query?: string;
}

/** A FIFO lock: configuration changes are applied one at a time, as the array does. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** A request that passed the transport checks. */
interface Parsed {
  method: string;
  segs: string[];
  params: URLSearchParams;
  body: unknown;
  info: RequestInfo;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export class WsapiFront {
  readonly log: RequestLogEntry[] = [];
  private readonly lock = new Mutex();
  private lastSweep = 0;
  private housekeeping?: NodeJS.Timeout;
  private lastMeasure = 0;
  /** Persists after each change (set when a state file is configured). */
  afterChange: () => Promise<void> = async () => undefined;
  /** The headers of every answer (see baseHeaders). */
  private get base(): Record<string, string> {
    return this.srv.sim.opts.keepAlive ? KEEP_ALIVE_HEADERS : BASE_HEADERS;
  }

  /** Expired volumes vanish within a second even when nobody changes anything. */
  startHousekeeping(): void {
    this.housekeeping = setInterval(() => {
      if (Date.now() - this.lastSweep < 1000) return;
      void this.lock
        .run(async () => {
          this.lastSweep = Date.now();
          const expired = await sweepExpired(this.srv.sim);
          const measured = await this.measureThin();
          if (expired || measured) await this.afterChange();
        })
        .catch(() => undefined);
    }, 1000);
    this.housekeeping.unref();
  }

  /**
   * With the data plane, thin volumes use what their files hold: refresh `usedMiB` (and so the
   * CPG figures) from the allocation of the sparse files, at most every few seconds.
   */
  private async measureThin(): Promise<boolean> {
    const { data, array } = this.srv.sim;
    if (!data || Date.now() - this.lastMeasure < 5000) return false;
    this.lastMeasure = Date.now();
    let changed = false;
    for (const v of array.volumes) {
      if (v.provisioningType !== PROV.TPVV && v.provisioningType !== PROV.TDVV) continue;
      const used = await data.allocatedMiB(v.wwn);
      if (used !== v.usedMiB) {
        v.usedMiB = used;
        changed = true;
      }
    }
    if (changed) array.spaceChanged();
    return changed;
  }

  stopHousekeeping(): void {
    if (this.housekeeping) clearInterval(this.housekeeping);
  }

  constructor(
    private readonly srv: Server,
    private readonly faults: FaultController,
    private readonly admin?: AdminHandler,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.serve(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        this.sendError(
          res,
          req,
          new SimError('INT_SERV_ERR', {
            status: 500,
            code: 1,
            desc: `internal server error: ${(err as Error).message}`,
          }),
        );
      else res.destroy();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const qIdx = url.indexOf('?');
    const rawPath = qIdx === -1 ? url : url.slice(0, qIdx);
    if (this.admin && rawPath.startsWith('/sim/')) return this.admin.handle(req, res, rawPath);
    const parsed = await this.parse(req, rawPath, qIdx === -1 ? '' : url.slice(qIdx + 1));
    if (parsed instanceof SimError) return this.sendError(res, req, parsed);
    const { info } = parsed;
    // A hung array: the request is accepted and read, and nothing is answered until the hang ends.
    await this.faults.whileHung(info);
    if (this.dropped(req, res, info, 'before')) return;
    const injected = this.faults.take('error', info)[0];
    if (injected)
      return this.sendError(
        res,
        req,
        new SimError(
          'CUSTOM',
          { status: injected.status, code: injected.code, desc: injected.desc ?? 'injected fault' },
          injected.ref,
        ),
      );
    const extraLatency = this.faults.take('latency', info).reduce((n, f) => n + f.ms, 0);
    let answer: Answer;
    try {
      answer = await this.answer(req, parsed, extraLatency);
    } catch (err) {
      if (err instanceof SimError) return this.sendError(res, req, err);
      throw err;
    }
    if (this.dropped(req, res, info, 'after')) return;
    this.send(res, req, answer, info);
  }

  /** The transport checks, in the array's order: percent-encoding, HTTP version, Accept, size, JSON. */
  private async parse(req: IncomingMessage, rawPath: string, search: string): Promise<Parsed | SimError> {
    const e = this.srv.sim.errors;
    const raw = await readBody(req);
    const method = req.method ?? 'GET';
    let segs: string[];
    try {
      segs = rawPath
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      return e.err('INV_URL_PERCENT_ENCODING');
    }
    if (req.httpVersion === '1.0') return e.err('UNSUP_HTTP');
    const accept = req.headers['accept'];
    if (accept && !/application\/json|application\/\*|\*\/\*/.test(accept)) return e.err('UNSUP_REPRESENTATION');
    if (raw === 'too-long') return e.err('INPUT_TOO_LONG');
    let body: unknown;
    if (raw.length > 0) {
      const ctype = req.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(ctype)) return e.err('UNSUP_CONTENT');
      try {
        body = JSON.parse(raw);
      } catch {
        return e.err('JSON_SYNTAX_ERR', badMember(raw));
      }
    }
    const action = bodyAction(body);
    const info: RequestInfo = { method, path: rawPath, ...(action === undefined ? {} : { action }) };
    return { method, segs, params: new URLSearchParams(search), body, info };
  }

  /** A `drop` fault for this moment of the request: the connection is cut without an answer. */
  private dropped(req: IncomingMessage, res: ServerResponse, info: RequestInfo, when: 'before' | 'after'): boolean {
    if (this.faults.take('drop', info, (f) => f.when === when).length === 0) return false;
    this.record(req, 0);
    res.socket?.destroy();
    return true;
  }

  /** Routes a parsed request: version and login need no session; the rest runs in its session's order. */
  private async answer(req: IncomingMessage, p: Parsed, extraLatency: number): Promise<Answer> {
    const e = this.srv.sim.errors;
    const { method, segs, params, body, info } = p;
    const ip = req.socket.remoteAddress ?? '';
    const isVersion = segs.length === 1 && segs[0] === 'api';
    const isLogin = segs[0] === 'api' && segs[1] === 'v1' && segs[2] === 'credentials' && segs.length === 3;
    if (!(isVersion || (segs[0] === 'api' && segs[1] === 'v1' && segs.length > 2))) throw e.err('URI_RES_NOT_FOUND');
    const r: Req = { method, segs: segs.slice(2), params, body, ip, caller: { user: this.srv.sim.opts.username } };
    const q = params.get('query');
    if (q !== null) r.query = q;
    if (isVersion || isLogin) {
      await this.faults.passHolds(info);
      await sleep(this.srv.sim.opts.latencyMs + extraLatency);
      if (isVersion && method !== 'GET') throw e.err('UNSUP_OP');
      return isVersion ? versionAnswer(this.srv) : credentialRoutes(this.srv, r);
    }
    const session = this.srv.sessions.use(headerKey(req), ip);
    if (!session) throw e.err('INV_SESS_KEY');
    r.caller = { user: session.user };
    return this.srv.sessions.serialize(session, async () => {
      await this.faults.passHolds(info);
      await sleep(this.srv.sim.opts.latencyMs + extraLatency);
      const a = method === 'GET' ? await this.route(r) : await this.lock.run(async () => this.mutate(r));
      if (isList(a)) await sleep((this.srv.sim.opts.perMemberUs * a.members.length) / 1000);
      return a;
    });
  }

  /** A change: expiry sweep first (at most once a second), then the change, then persistence. */
  private async mutate(r: Req): Promise<Answer> {
    if (Date.now() - this.lastSweep > 1000) {
      this.lastSweep = Date.now();
      await sweepExpired(this.srv.sim);
    }
    try {
      return await this.route(r);
    } finally {
      await this.afterChange();
    }
  }

  private async route(r: Req): Promise<Answer> {
    const e = this.srv.sim.errors;
    switch (r.segs[0]) {
      case 'volumes':
        return volumeRoutes(this.srv, r);
      case 'volumesets':
        return setRoutes(this.srv, 'volumesets', r);
      case 'hostsets':
        return setRoutes(this.srv, 'hostsets', r);
      case 'hosts':
        return hostRoutes(this.srv, r);
      case 'ports':
        return portRoutes(this.srv, r);
      case 'vluns':
        return vlunRoutes(this.srv, r);
      case 'tasks':
        return taskRoutes(this.srv, r);
      case 'credentials':
        return credentialRoutes(this.srv, r);
      case 'qos':
        if (this.srv.sim.opts.profile.qos) return qosRoutes(this.srv, r);
        throw e.err('URI_RES_NOT_FOUND');
      default:
        return systemRoutes(this.srv, r);
    }
  }

  private record(req: IncomingMessage, status: number, code?: number): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const entry: RequestLogEntry = { method: req.method ?? 'GET', path: q === -1 ? url : url.slice(0, q), status };
    if (code !== undefined) entry.code = code;
    if (q !== -1) entry.query = url.slice(q + 1);
    this.log.push(entry);
    // A long-running simulator must not grow without bound: keep the newest entries.
    const limit = this.srv.sim.opts.requestLogLimit;
    if (this.log.length > limit) this.log.splice(0, this.log.length - Math.floor(limit / 2));
    this.srv.sim.opts.onRequest?.(entry);
  }

  private sendError(res: ServerResponse, req: IncomingMessage, err: SimError): void {
    this.record(req, err.status, err.code);
    writeJson(res, this.base, err.status, err.toBody());
  }

  private send(res: ServerResponse, req: IncomingMessage, a: Answer, info: RequestInfo): void {
    this.record(req, a.status);
    if (!isList(a)) {
      const headers: Record<string, string> = a.location ? { Location: encodeURI(a.location) } : {};
      writeJson(res, this.base, a.status, a.body, headers);
      return;
    }
    if (!a.stream) {
      writeJson(res, this.base, 200, { total: a.members.length, members: a.members });
      return;
    }
    // Volumes and VLUNs stream chunked (§1.6); a truncate fault cuts the stream as the array does.
    const cut = this.faults.take('truncate', info)[0];
    res.writeHead(200, { ...this.base, 'Content-Type': 'application/json' });
    res.write(`{"total":${a.members.length},"members":[`);
    const stop = cut
      ? Math.min(cut.afterMembers ?? Math.floor(a.members.length / 2), a.members.length)
      : a.members.length;
    for (let i = 0; i < stop; i += CHUNK_MEMBERS) {
      const part = a.members.slice(i, Math.min(stop, i + CHUNK_MEMBERS)).map((m) => JSON.stringify(m));
      res.write((i === 0 ? '' : ',') + part.join(','));
    }
    if (cut) {
      res.write(`],"success":false,"message":{"code":${cut.code ?? 1},"desc":"internal server error"}`);
      // No terminating chunk: the connection is closed mid-stream.
      setImmediate(() => res.socket?.destroy());
      return;
    }
    res.end(']}');
  }
}

/** The array's headers on every answer [G G131 p17]: `Connection: close` means no connection is reused. */
const BASE_HEADERS: Record<string, string> = {
  Server: 'hp3par-wsapi',
  'Cache-Control': 'no-cache',
  Pragma: 'no-cache',
  Connection: 'close',
};
/** With the `keepAlive` option ([U] later firmware): the same without `Connection: close`. */
const KEEP_ALIVE_HEADERS: Record<string, string> = {
  Server: 'hp3par-wsapi',
  'Cache-Control': 'no-cache',
  Pragma: 'no-cache',
};

function writeJson(
  res: ServerResponse,
  base: Record<string, string>,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, { ...base, ...extra, 'Content-Length': '0' });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...base,
    ...extra,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function headerKey(req: IncomingMessage): string | undefined {
  const v = req.headers['x-hp3par-wsapi-sessionkey'];
  return Array.isArray(v) ? v[0] : v;
}

function bodyAction(body: unknown): string | number | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const a = (body as Record<string, unknown>)['action'];
  return typeof a === 'string' || typeof a === 'number' ? a : undefined;
}

/** The member whose value is malformed, when one can be named (`{"name":abc}` → "name"). */
function badMember(raw: string): string | undefined {
  const m = /"([^"\\]+)"\s*:\s*(?![\s"{[\-\d]|true\b|false\b|null\b)/.exec(raw);
  return m?.[1];
}
