import { lstatSync, unlinkSync, chmodSync, mkdirSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import { redactDeep } from '../log.js';
import type { Metrics } from '../metrics.js';
import { toStatus, statusName } from './errors.js';
import { StartupError, listenError, unavailable } from '../errors.js';
import { loadCsi } from './proto.js';
import { passEncoded, type Encoded } from './encoded.js';
import type { IdentityHandlers } from '../gen/csi/v1/Identity.js';
import type { ControllerHandlers } from '../gen/csi/v1/Controller.js';
import type { NodeHandlers } from '../gen/csi/v1/Node.js';
import type { GroupControllerHandlers } from '../gen/csi/v1/GroupController.js';

/** What every RPC implementation receives besides its request. */
export interface CallContext {
  /** RPC name, e.g. "CreateVolume". */
  rpc: string;
  /** Child logger carrying `rpc` and the request's ids. */
  log: Logger;
  /**
   * Fires when the caller's deadline passes or the caller cancels. It stops waits and read-only
   * work only; commands that change state finish under their own timeouts (DESIGN "Node safety").
   */
  signal: AbortSignal;
  /** Milliseconds since the epoch at which the caller gives up, when it set a deadline. */
  deadline?: number;
}

type UnaryReq<T> = T extends grpc.handleUnaryCall<infer Q, infer _R> ? Q : never;
type UnaryRes<T> = T extends grpc.handleUnaryCall<infer _Q, infer R> ? R : never;

/**
 * A CSI service as the driver writes it: one async method per RPC of the generated handler
 * interface `H`, so the compiler checks that every RPC is present with the right types. The
 * RPCs named in `E` may answer with their response already encoded (Encoded, sent as it is).
 */
export type ServiceImpl<H, E extends keyof H = never> = {
  [K in keyof H as string extends K ? never : K]: (
    req: UnaryReq<H[K]>,
    ctx: CallContext,
  ) => Promise<K extends E ? UnaryRes<H[K]> | Encoded<UnaryRes<H[K]>> : UnaryRes<H[K]>>;
};

export type IdentityImpl = ServiceImpl<IdentityHandlers>;
/** ListVolumes and ListSnapshots answer with pages already encoded (encoded.ts). */
export type ControllerImpl = ServiceImpl<ControllerHandlers, 'ListVolumes' | 'ListSnapshots'>;
export type NodeImpl = ServiceImpl<NodeHandlers>;
export type GroupControllerImpl = ServiceImpl<GroupControllerHandlers>;

export interface CsiServices {
  identity: IdentityImpl;
  controller?: ControllerImpl;
  node?: NodeImpl;
  groupController?: GroupControllerImpl;
}

/**
 * RPCs the sidecars and kubelet call periodically (livenessprobe, capability discovery, kubelet's
 * volume stats every minute per volume): their successes are logged at debug, not info.
 */
const CHATTY_RPCS = new Set([
  'Probe',
  'GetPluginInfo',
  'GetPluginCapabilities',
  'ControllerGetCapabilities',
  'NodeGetCapabilities',
  'GroupControllerGetCapabilities',
  'NodeGetInfo',
  'NodeGetVolumeStats',
]);

/** Request fields copied into each call's logger bindings, when present. */
const ID_FIELDS = [
  'volume_id',
  'snapshot_id',
  'node_id',
  'name',
  'source_volume_id',
  'group_snapshot_id',
  'target_path',
  'staging_target_path',
] as const;

export interface WrapDeps {
  log: Logger;
  metrics?: Metrics;
  /** Calls being served, so that shutdown can answer the ones left after the grace period. */
  inFlight?: Set<InFlightCall>;
}

/** A call being served: `shutdown` answers it UNAVAILABLE now and aborts its signal. */
export interface InFlightCall {
  rpc: string;
  shutdown(): void;
}

/** What a caller whose call outlived the shutdown grace period is told (it retries later). */
const SHUTDOWN_MESSAGE = 'the driver is shutting down; the call was stopped and may be retried';

/**
 * Turns one async RPC implementation into a grpc-js unary handler: per-call logger, request log
 * with secrets removed, deadline and cancellation as an AbortSignal, duration, metrics, and
 * every error mapped to a gRPC status in one place (unexpected ones logged once with stack).
 */
export function wrapUnary<Q, R>(
  rpc: string,
  fn: (req: Q, ctx: CallContext) => Promise<R>,
  deps: WrapDeps,
): grpc.handleUnaryCall<Q, R> {
  return (call, callback) => {
    const served = new ServedCall<R>(rpc, call, callback, deps);
    let promise: Promise<R>;
    try {
      promise = fn(call.request, { rpc, log: served.log, signal: served.signal, deadline: served.deadline });
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (res) => served.succeed(res),
      (err: unknown) => served.fail(err),
    );
  };
}

/** The deadline grpc-js gives a call, as epoch milliseconds (undefined: none). */
function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const raw = call.getDeadline();
  if (raw instanceof Date) return raw.getTime();
  return Number.isFinite(raw) ? Number(raw) : undefined;
}

/** The logger bindings of one call: the RPC name and the request's identifying fields. */
function callBindings(rpc: string, req: unknown): Record<string, unknown> {
  const bindings: Record<string, unknown> = { rpc };
  for (const f of ID_FIELDS) {
    const v = (req as Record<string, unknown>)[f];
    if (typeof v === 'string' && v !== '') bindings[f] = v;
  }
  return bindings;
}

/**
 * One call being served: its logger, its abort signal (deadline, cancel, shutdown), and the one
 * answer it gives — from the handler (`succeed`/`fail`) or from shutdown, whichever comes first.
 */
class ServedCall<R> implements InFlightCall {
  readonly log: Logger;
  readonly deadline: number | undefined;
  private readonly started = process.hrtime.bigint();
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onCancel = (): void => this.controller.abort();
  /** Answered already (by shutdown or the handler): later outcomes are only logged. */
  private answered = false;

  constructor(
    readonly rpc: string,
    private readonly call: grpc.ServerUnaryCall<unknown, R>,
    private readonly callback: grpc.sendUnaryData<R>,
    private readonly deps: WrapDeps,
  ) {
    this.log = deps.log.child(callBindings(rpc, call.request));
    this.deadline = deadlineOf(call);
    if (this.deadline !== undefined) this.timer = setTimeout(this.onCancel, Math.max(0, this.deadline - Date.now()));
    call.on('cancelled', this.onCancel);
    // The request line and the give-up line exist at debug only: their work (a redacted copy of
    // the request, a listener per call) is not done at info, where every call passes here.
    if (this.log.isLevelEnabled('debug')) this.debugLines(call.request);
    deps.inFlight?.add(this);
  }

  private debugLines(request: unknown): void {
    this.signal.addEventListener(
      'abort',
      () =>
        this.log.debug(
          { durationMs: this.ms() },
          'the caller gave up (deadline or cancel): waits and reads stop, a change already sent finishes',
        ),
      { once: true },
    );
    this.log.debug(
      {
        request: redactDeep(request),
        deadlineMs: this.deadline === undefined ? undefined : this.deadline - Date.now(),
      },
      'request',
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  shutdown(): void {
    if (this.answered) return;
    this.answered = true;
    this.controller.abort(unavailable(SHUTDOWN_MESSAGE));
    this.finish(grpc.status.UNAVAILABLE);
    this.log.warn({ durationMs: this.ms(), code: 'UNAVAILABLE' }, 'stopped by shutdown');
    this.callback({ code: grpc.status.UNAVAILABLE, details: SHUTDOWN_MESSAGE });
  }

  succeed(res: R): void {
    this.deps.inFlight?.delete(this);
    if (this.answered)
      return void this.log.info(
        { durationMs: this.ms() },
        'finished after shutdown answered the caller; the retry finds the result',
      );
    this.answered = true;
    this.finish(grpc.status.OK);
    // The caller's deadline passed or it cancelled, yet the work finished (a change already
    // sent to an array is never cut off): the caller's retry finds the result.
    if (this.signal.aborted)
      this.log.info({ durationMs: this.ms() }, 'finished after the caller gave up; its retry finds the result');
    else if (CHATTY_RPCS.has(this.rpc)) this.log.debug({ durationMs: this.ms() }, 'done');
    else this.log.info({ durationMs: this.ms() }, 'done');
    this.callback(null, res);
  }

  fail(err: unknown): void {
    this.deps.inFlight?.delete(this);
    if (this.answered)
      return void this.log.debug(
        { durationMs: this.ms(), error: err instanceof Error ? err.message : String(err) },
        'ended after shutdown answered the caller',
      );
    this.answered = true;
    const mapped = toStatus(err);
    this.finish(mapped.code);
    const fields = { durationMs: this.ms(), code: statusName(mapped.code) };
    if (mapped.unexpected) this.log.error({ ...fields, err }, 'unexpected error');
    else this.log.warn({ ...fields, error: mapped.message }, 'failed');
    this.callback({ code: mapped.code, details: mapped.message });
  }

  /** Stops the deadline timer and the cancel listener, and counts the call with its code. */
  private finish(code: grpc.status): void {
    if (this.timer) clearTimeout(this.timer);
    this.call.removeListener('cancelled', this.onCancel);
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    this.deps.metrics?.rpcTotal.inc({ method: this.rpc, code: statusName(code) });
    this.deps.metrics?.rpcSeconds.observe({ method: this.rpc, code: statusName(code) }, seconds);
  }

  private ms(): number {
    return msSince(this.started);
  }
}

function msSince(started: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
}

/** Wraps each method of a service implementation. */
export function wrapService<H, E extends keyof H>(
  impl: ServiceImpl<H, E>,
  deps: WrapDeps,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(
    impl as Record<string, (req: unknown, ctx: CallContext) => Promise<unknown>>,
  )) {
    if (typeof fn !== 'function') continue;
    out[name] = wrapUnary(name, fn.bind(impl), deps);
  }
  return out;
}

/** A parsed `--endpoint`: a unix socket path or a TCP host:port (for debugging). */
export type Endpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; address: string };

/** Parses `unix:///path`, `unix:/path`, or `host:port` / `tcp://host:port`. */
export function parseEndpoint(endpoint: string): Endpoint {
  const unix = /^unix:\/\/(\/[^/].*)$/.exec(endpoint) ?? /^unix:(\/[^/].*)$/.exec(endpoint);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const tcp = /^(?:tcp:\/\/)?((?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):(\d{1,5}))$/.exec(endpoint);
  if (tcp) {
    const address = tcp[1]!;
    if (address.startsWith(':'))
      throw new Error(
        `endpoint "${endpoint}" needs a host: use 127.0.0.1${address} (loopback) or unix:///absolute/path`,
      );
    if (Number(tcp[2]) > 65535) throw new Error(`endpoint "${endpoint}": port ${tcp[2]} is out of range`);
    return { kind: 'tcp', address };
  }
  throw new Error(`endpoint "${endpoint}" must be unix:///absolute/path or host:port`);
}

/** True for a unix socket or a TCP endpoint on a loopback address (only this machine can call it). */
export function isLocalEndpoint(ep: Endpoint): boolean {
  if (ep.kind === 'unix') return true;
  const host = ep.address
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The address string grpc-js binds or dials for an endpoint. */
export function grpcAddress(ep: Endpoint): string {
  return ep.kind === 'unix' ? `unix://${ep.path}` : ep.address;
}

export interface CsiServerOptions {
  endpoint: string;
  services: CsiServices;
  log: Logger;
  metrics?: Metrics;
}

/** The gRPC server of the driver: binds the socket, serves the services, shuts down gracefully. */
export class CsiServer {
  private readonly server: grpc.Server;
  private readonly ep: Endpoint;
  private boundAddress: string | undefined;
  private readonly inFlight = new Set<InFlightCall>();

  constructor(private readonly options: CsiServerOptions) {
    this.ep = parseEndpoint(options.endpoint);
    this.server = new grpc.Server({
      // CSI messages are small; 16 MiB bounds a hostile request without limiting real ones.
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // No channelz service is served, so its per-call bookkeeping (a tracker with closures and
      // timestamps per call and message) would only cost CPU.
      'grpc.enable_channelz': 0,
    });
    const csi = loadCsi().csi.v1;
    const deps = { log: options.log, metrics: options.metrics, inFlight: this.inFlight };
    // passEncoded: a handler's Encoded answer (the listings' pages) is sent as its bytes.
    this.server.addService(passEncoded(csi.Identity.service), wrapService(options.services.identity, deps));
    if (options.services.controller)
      this.server.addService(passEncoded(csi.Controller.service), wrapService(options.services.controller, deps));
    if (options.services.node)
      this.server.addService(passEncoded(csi.Node.service), wrapService(options.services.node, deps));
    if (options.services.groupController)
      this.server.addService(
        passEncoded(csi.GroupController.service),
        wrapService(options.services.groupController, deps),
      );
  }

  /** Binds and starts serving; resolves with the address served (unix path or host:port). */
  async start(): Promise<string> {
    if (this.ep.kind === 'unix') {
      const path = this.ep.path;
      await prepareSocketPath(path, this.options.log);
      // grpc-js reports a failed bind without the system error code: find it out first.
      await assertCanListen(path);
      // grpc-js serves the socket itself: the supported clients (kubelet ≥ 1.26, the sidecars,
      // all grpc-go) send `:authority: localhost` (docs/security.md "Socket and endpoint").
      await new Promise<void>((resolve, reject) => {
        this.server.bindAsync(grpcAddress(this.ep), grpc.ServerCredentials.createInsecure(), (err) =>
          err ? reject(err) : resolve(),
        );
      });
      // Only root (kubelet, the sidecars in the pod) should talk to the driver.
      chmodSync(path, 0o660);
      this.boundAddress = path;
    } else {
      // grpc-js reports a failed bind without the system error code: find it out first.
      await assertCanListen(this.ep.address);
      const port = await new Promise<number>((resolve, reject) => {
        this.server.bindAsync(grpcAddress(this.ep), grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        );
      });
      this.boundAddress = this.ep.address.replace(/:\d+$/, `:${port}`);
    }
    this.options.log.info({ endpoint: this.boundAddress }, 'CSI server listening');
    return this.boundAddress;
  }

  /**
   * Stops accepting calls, lets in-flight calls finish for up to `graceMs`, then answers the
   * rest UNAVAILABLE (their work is told to stop through its signal; a change already sent to an
   * array finishes there, and the caller's retry finds it), closes the connections and removes
   * the socket file.
   */
  async stop(graceMs = 30_000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const left = [...this.inFlight];
        this.options.log.warn(
          { graceMs, calls: left.map((c) => c.rpc) },
          'in-flight calls did not finish in time; answering them UNAVAILABLE',
        );
        for (const call of left) call.shutdown();
        // Let the answers leave before the connections close.
        setImmediate(() => {
          this.server.forceShutdown();
          resolve();
        });
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.ep.kind === 'unix') removeIfSocket(this.ep.path);
    this.options.log.info('CSI server stopped');
  }
}

/**
 * Makes `path` ready to bind: a stale socket left by a previous run is removed; a socket that
 * another process still serves, or any other kind of file, is an error and is left untouched.
 */
export async function prepareSocketPath(path: string, log: Logger): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      ensureSocketDir(dirname(path), log);
      return;
    }
    throw listenError(err, '--endpoint', path);
  }
  if (!st.isSocket()) {
    throw new StartupError(
      `--endpoint: ${path} exists and is not a socket; refusing to replace it (remove it yourself if it is not needed)`,
    );
  }
  if (await socketAnswers(path))
    throw new StartupError(
      `--endpoint: ${path} is in use by another running process (another driver?); stop it or choose another path`,
    );
  log.info({ path }, 'removing stale socket from a previous run');
  unlinkSync(path);
}

/**
 * Creates the socket's directory when only that last level is missing (e.g. /csi when a
 * container has no volume mounted there), and says so; a deeper missing path is refused, since
 * it usually means a wrong --endpoint.
 */
function ensureSocketDir(dir: string, log: Logger): void {
  if (existsSync(dir)) return;
  if (!existsSync(dirname(dir)))
    throw new StartupError(
      `--endpoint: the directory ${dir} does not exist, and neither does ${dirname(dir)}; create it or choose another --endpoint`,
    );
  try {
    mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    throw listenError(err, '--endpoint', dir);
  }
  log.info({ dir }, 'created the socket directory');
}

/** Listens on host:port once and closes again, so a bind failure carries its system error code. */
/**
 * Listens on `address` (host:port, or a unix socket path) and closes again, so that a failure
 * (in use, permission, read-only) is reported with its system error code as one line. A unix
 * socket file made by the probe is removed by its close.
 */
async function assertCanListen(address: string): Promise<void> {
  const unix = address.startsWith('/');
  const m = unix ? null : /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!unix && (!m || m[3] === '0')) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(listenError(err, '--endpoint', address)));
    const done = (): void => void probe.close(() => resolve());
    if (unix) probe.listen(address, done);
    else probe.listen(Number(m![3]), m![1] ?? m![2], done);
  });
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (answer: boolean): void => {
      sock.destroy();
      resolve(answer);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

function removeIfSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}
