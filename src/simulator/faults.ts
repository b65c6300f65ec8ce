/**
 * Fault injection, from start-up options and at run time (in process, or through the admin
 * endpoint): added latency, a chosen {status, code} for the next N matching calls, a connection
 * dropped before or after the change is applied, a truncated chunked list, expired sessions,
 * failing tasks — and the run-time switches (refuseModifyDuringCopy, …). In process only, a hold
 * keeps matching requests waiting until the test releases them.
 */
import type { SimArray } from './model/array.js';
import type { ResolvedOptions } from './options.js';
import type { Sessions } from './sessions.js';
import type { TaskEngine } from './tasks.js';
import { TASK_STATUS } from './model/types.js';

/** Which requests a fault applies to; every given member must match. */
export interface FaultMatch {
  /** HTTP method, e.g. "POST". */
  method?: string;
  /** Regular expression (source) tested against the request path, e.g. "^/api/v1/vluns". */
  path?: string;
  /** The body's `action` (string actions like "createPhysicalCopy", or numeric ones). */
  action?: string | number;
}

export type FaultSpec =
  /** Adds `ms` to matching requests (forever unless `count`). */
  | { type: 'latency'; ms: number; match?: FaultMatch; count?: number }
  /** Answers the next `count` (default 1) matching requests with this error, changing nothing. */
  | { type: 'error'; status: number; code: number; desc?: string; ref?: string; match?: FaultMatch; count?: number }
  /** Drops the connection without an answer, before or after the change is applied. */
  | { type: 'drop'; when: 'before' | 'after'; match?: FaultMatch; count?: number }
  /** Truncates a chunked list after `afterMembers` members with `"success":false` (§1.6). */
  | { type: 'truncate'; afterMembers?: number; code?: number; match?: FaultMatch; count?: number }
  /** Fails a running task now (`taskId`), or the next `count` tasks whose name matches `name` at `atPct`. */
  | { type: 'failTask'; taskId?: number; name?: string; atPct?: number; count?: number }
  /** Expires every session now. */
  | { type: 'expireSessions' }
  /**
   * The array stops answering: every WSAPI request that arrives (GET /api included) is accepted
   * and held without a byte of answer until the hang ends — after `ms`, or when the fault is
   * removed — and is then served normally. Models a WSAPI service that hangs (issue 18: connections
   * accepted, nothing answered). [U] What a real array does with the held requests when it
   * recovers is not documented; serving them late means a change may happen after the client
   * gave up, the case a driver must survive.
   */
  | { type: 'hang'; ms?: number; match?: FaultMatch };

/** Run-time switches the fault controller may flip. */
export interface Switches {
  refuseModifyDuringCopy?: boolean;
  snapshotCreateStatus?: 200 | 201;
  copyTargetDeleteError?: 'code29' | 'code151';
  onlineCopySnapshots?: 'chain' | 'none';
  helperSnapshotComment?: 'accept' | 'refuse';
  unsupportedQuery?: 'reject' | 'ignore';
  latencyMs?: number;
  perMemberUs?: number;
  copyRateMiBps?: number;
  maxConcurrentTasks?: number;
}

interface ActiveFault {
  id: number;
  spec: Exclude<FaultSpec, { type: 'failTask' } | { type: 'expireSessions' } | { type: 'hang' }>;
  remaining: number;
}

export interface RequestInfo {
  method: string;
  path: string;
  action?: string | number;
}

export class FaultController {
  private faults: ActiveFault[] = [];
  private nextId = 1;
  private holds: Hold[] = [];
  /** The running hang: its fault id, its end, and what releases the held requests. */
  private hang: { id: number; spec: FaultSpec; ended: Promise<void>; end: () => void } | undefined;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly sessions: Sessions,
    private readonly tasks: TaskEngine,
    private readonly array: SimArray,
  ) {}

  /** Adds a fault; returns its id (0 for immediate ones: failTask with taskId, expireSessions). */
  add(spec: FaultSpec): number {
    if (spec.type === 'expireSessions') {
      this.sessions.expireAll();
      return 0;
    }
    if (spec.type === 'failTask') {
      if (spec.taskId !== undefined) {
        this.failTask(spec.taskId);
        return 0;
      }
      this.tasks.failFuture(new RegExp(spec.name ?? '.*'), (spec.atPct ?? 50) / 100, spec.count ?? 1);
      return 0;
    }
    if (spec.type === 'hang') return this.startHang(spec);
    if (spec.match?.path !== undefined) new RegExp(spec.match.path);
    const remaining = spec.count ?? (spec.type === 'latency' ? Infinity : 1);
    const id = this.nextId++;
    this.faults.push({ id, spec, remaining });
    return id;
  }

  /** Shorthands. */
  addLatency(ms: number, match?: FaultMatch): number {
    return this.add({ type: 'latency', ms, ...(match ? { match } : {}) });
  }
  failNext(status: number, code: number, match?: FaultMatch, count = 1): number {
    return this.add({ type: 'error', status, code, count, ...(match ? { match } : {}) });
  }
  dropConnection(when: 'before' | 'after', match?: FaultMatch, count = 1): number {
    return this.add({ type: 'drop', when, count, ...(match ? { match } : {}) });
  }
  expireSessions(): number {
    return this.sessions.expireAll();
  }

  /** Holds the next `count` matching requests until the returned hold is released (see Hold). */
  hold(match?: FaultMatch, count = 1): Hold {
    if (match?.path !== undefined) new RegExp(match.path);
    const h = new Hold(match, count);
    this.holds.push(h);
    return h;
  }

  /** Waits while a hold takes this request (the server calls it before doing the request's work). */
  async passHolds(req: RequestInfo): Promise<void> {
    for (const h of this.holds) await h.pass(req);
  }

  /** Fails a running task now (status 4), with the array's cleanup. False when not active. */
  failTask(taskId: number): boolean {
    const t = this.array.task(taskId);
    if (!t || t.status !== TASK_STATUS.ACTIVE) return false;
    this.tasks.end(t, TASK_STATUS.FAILED);
    return true;
  }

  /** Makes the next `count` tasks whose name matches fail at `atPct` percent. */
  failFutureTasks(namePattern = '.*', atPct = 50, count = 1): void {
    this.tasks.failFuture(new RegExp(namePattern), atPct / 100, count);
  }

  /** Flips run-time switches. */
  set(switches: Switches): void {
    const o = this.opts as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(switches)) if (v !== undefined) o[k] = v;
    if (switches.copyRateMiBps !== undefined) this.tasks.config.copyRateMiBps = switches.copyRateMiBps;
    if (switches.maxConcurrentTasks !== undefined) this.tasks.config.maxConcurrentTasks = switches.maxConcurrentTasks;
  }

  remove(id: number): void {
    this.faults = this.faults.filter((f) => f.id !== id);
    if (this.hang?.id === id) this.hang.end();
  }

  clear(): void {
    this.faults = [];
    for (const h of this.holds) h.release();
    this.holds = [];
    this.hang?.end();
  }

  list(): { id: number; spec: FaultSpec; remaining: number | null }[] {
    const out: { id: number; spec: FaultSpec; remaining: number | null }[] = this.faults.map((f) => ({
      id: f.id,
      spec: f.spec,
      remaining: Number.isFinite(f.remaining) ? f.remaining : null,
    }));
    if (this.hang) out.push({ id: this.hang.id, spec: this.hang.spec, remaining: null });
    return out;
  }

  /** Requests held by a hang right now. */
  held = 0;

  /** Resolves at once, or when the running hang ends (the server holds each matching request here). */
  async whileHung(req: RequestInfo): Promise<void> {
    while (this.hang && matches((this.hang.spec as { match?: FaultMatch }).match, req)) {
      this.held++;
      try {
        await this.hang.ended;
      } finally {
        this.held--;
      }
    }
  }

  /** True while a hang fault holds requests. */
  get hung(): boolean {
    return this.hang !== undefined;
  }

  private startHang(spec: FaultSpec & { type: 'hang' }): number {
    if (spec.ms !== undefined && !(spec.ms > 0)) throw new RangeError('hang.ms must be more than 0');
    if (spec.match?.path !== undefined) new RegExp(spec.match.path);
    this.hang?.end();
    const id = this.nextId++;
    let release!: () => void;
    const ended = new Promise<void>((resolve) => (release = resolve));
    const timer = spec.ms === undefined ? undefined : setTimeout(() => end(), spec.ms);
    timer?.unref();
    const end = (): void => {
      if (this.hang?.id !== id) return;
      if (timer) clearTimeout(timer);
      this.hang = undefined;
      release();
    };
    this.hang = { id, spec, ended, end };
    return id;
  }

  /**
   * Faults of a type that apply to this request; each use counts down (a matched fault with no
   * uses left disappears).
   */
  take<T extends ActiveFault['spec']['type']>(
    type: T,
    req: RequestInfo,
    only?: (spec: Extract<ActiveFault['spec'], { type: T }>) => boolean,
  ): Extract<ActiveFault['spec'], { type: T }>[] {
    const out: Extract<ActiveFault['spec'], { type: T }>[] = [];
    for (const f of this.faults) {
      if (f.spec.type !== type || f.remaining <= 0 || !matches(f.spec.match, req)) continue;
      if (only && !only(f.spec as Extract<ActiveFault['spec'], { type: T }>)) continue;
      f.remaining--;
      out.push(f.spec as Extract<ActiveFault['spec'], { type: T }>);
    }
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return out;
  }
}

/**
 * A request held in the simulator until the test releases it (in process only; no admin
 * endpoint, no option): the way a test puts the array "in the middle of" a request without
 * guessing how long anything takes. Held after the session check, inside the key's one-at-a-time
 * queue (logins and GET /api before their answer), before the request changes anything.
 */
export class Hold {
  /** The requests held so far, in arrival order. */
  readonly held: RequestInfo[] = [];
  private readonly gate: Promise<void>;
  private open!: () => void;
  private released = false;
  private readonly waiters: { n: number; resolve: () => void }[] = [];

  constructor(
    readonly match: FaultMatch | undefined,
    /** How many matching requests to hold; later ones pass. */
    readonly count: number,
  ) {
    this.gate = new Promise<void>((r) => (this.open = r));
  }

  /** Resolves once `n` matching requests are held (at once or one after another). */
  arrived(n = 1): Promise<void> {
    if (this.held.length >= n) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Lets every held request go on; holds nothing more. */
  release(): void {
    this.released = true;
    this.open();
  }

  /** The server's side: waits at the gate when this hold takes the request. */
  async pass(req: RequestInfo): Promise<void> {
    if (this.released || this.held.length >= this.count || !matches(this.match, req)) return;
    this.held.push(req);
    for (const w of this.waiters.filter((x) => this.held.length >= x.n)) w.resolve();
    await this.gate;
  }
}

function matches(m: FaultMatch | undefined, req: RequestInfo): boolean {
  if (!m) return true;
  if (m.method !== undefined && m.method.toUpperCase() !== req.method) return false;
  if (m.path !== undefined && !new RegExp(m.path).test(req.path)) return false;
  if (m.action !== undefined && m.action !== req.action) return false;
  return true;
}
