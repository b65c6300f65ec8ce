import type { Logger } from 'pino';
import { silentLogger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BackendConfig } from '../config/backends.js';
import { VERSION } from '../version.js';
import { WsapiAbortedError, WsapiProtocolError } from './errors.js';
import { raceAbort } from '../util/abort.js';
import { createHttp, type WsapiTimeouts } from './http.js';
import { featureGates } from './features.js';
import { Requester, type RetryPolicy, type WsapiRequest, type WsapiStatus } from './requester.js';
import type { CallOptions, ResourceContext } from './resource.js';
import type { WsapiResult } from './response.js';
import { isRecord } from '../util/record.js';
import { CpgsResource } from './resources/cpgs.js';
import { HostsResource } from './resources/hosts.js';
import { PortsResource } from './resources/ports.js';
import { VolumeSetsResource } from './resources/sets.js';
import { SystemResource, WsapiConfigurationResource } from './resources/system.js';
import { TasksResource } from './resources/tasks.js';
import { VlunsResource } from './resources/vluns.js';
import { VolumesResource } from './resources/volumes.js';
import { waitForTask, type WaitForTaskOptions } from './task-waiter.js';
import type { ApiVersion, FeatureGates, Task } from './types.js';

/** Session keys per backend when not configured: a few, since arrays allow only 24-36 in total. */
export const DEFAULT_SESSION_POOL_SIZE = 4;
/** Requests in flight per backend when not configured; the rest queue in the client. */
export const DEFAULT_MAX_IN_FLIGHT = 8;
/**
 * Time limits of every request. Connect: a TCP + TLS handshake with a LAN management port takes
 * milliseconds; 10 s tolerates a busy one. Response (first byte): the array answers single-object
 * requests in well under a second and starts streaming lists at once; 30 s is far beyond a
 * healthy array and reports a hung one in half a minute. Total: a full volume list of a big
 * array streams for a while, so the whole exchange gets 120 s. [U] No vendor figures are
 * published; each is configurable per backend (connectTimeoutSeconds, responseTimeoutSeconds,
 * requestTimeoutSeconds).
 */
export const DEFAULT_TIMEOUTS: WsapiTimeouts = { connectMs: 10_000, responseMs: 30_000, totalMs: 120_000 };
/** How often a hung array is probed (`GET /api`) to find out that it answers again. */
export const DEFAULT_PROBE_INTERVAL_MS = 5_000;
/** At close: how long running requests may finish before they are cut off. */
export const DEFAULT_CLOSE_DRAIN_MS = 2_000;
/** At close: the bound of each session logout (the array may be hung). */
export const DEFAULT_LOGOUT_TIMEOUT_MS = 3_000;
/** Retries of idempotent requests: 4 tries, 250 ms doubling to at most 4 s, with jitter. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };
/** After the array rejects the credentials, no new login for this long (protects the account). */
export const DEFAULT_AUTH_FAILURE_COOLDOWN_MS = 60_000;

/**
 * Keys unused this long are retired before the array's idle expiry (15 min by default) would make
 * their next request fail with 403/6.
 */
export const DEFAULT_KEY_IDLE_MS = 14 * 60_000;

export interface WsapiClientOptions {
  /** Backend id (logs, metrics, error messages). */
  backendId: string;
  /** Base URL, no path: https://array:8080. */
  url: string;
  username: string;
  password: string;
  /** PEM bundle of the CA that signed the array's certificate (replaces the system CAs). */
  caCert?: string;
  /** Skip TLS verification; warned about once. */
  insecureSkipVerify?: boolean;
  /** Session keys held at most (default 4). */
  sessionPoolSize?: number;
  /** Requests in flight at most (default 8). */
  maxInFlight?: number;
  /** Connect, first-byte and whole-request limits (defaults DEFAULT_TIMEOUTS). */
  timeouts?: Partial<WsapiTimeouts>;
  /** Shorthand: one limit for the whole request, which also caps connect and first byte. */
  timeoutMs?: number;
  /** How often a hung array is probed (default 5 s). */
  probeIntervalMs?: number;
  /** At close: drain time for running requests (default 2 s) and the bound of each logout (3 s). */
  closeDrainMs?: number;
  logoutTimeoutMs?: number;
  /** Told what each request proved about the array's reachability (see WsapiStatus). */
  onStatus?: (status: WsapiStatus) => void;
  /** Back-off for retried requests. */
  retry?: Partial<RetryPolicy>;
  /** No login for this long after bad credentials (default 60 s). */
  authFailureCooldownMs?: number;
  /** Retire keys unused this long (default 14 min, under the array's 15-min idle expiry). */
  keyIdleMs?: number;
  log?: Logger;
  metrics?: Metrics;
}

/**
 * The typed WSAPI client of one backend: one got instance, a session pool, an in-flight cap,
 * bounded retries, and one small class per resource. See REFERENCE.md for the wire facts.
 */
export class WsapiClient implements ResourceContext {
  readonly backendId: string;
  readonly system: SystemResource;
  readonly wsapiConfiguration: WsapiConfigurationResource;
  readonly volumes: VolumesResource;
  readonly volumeSets: VolumeSetsResource;
  readonly hosts: HostsResource;
  readonly ports: PortsResource;
  readonly vluns: VlunsResource;
  readonly cpgs: CpgsResource;
  readonly tasks: TasksResource;

  private readonly requester: Requester;
  private readonly log: Logger;
  private readonly closeDrainMs: number;
  private readonly statusListeners: ((status: WsapiStatus) => void)[] = [];
  private version: Promise<ApiVersion> | undefined;

  constructor(options: WsapiClientOptions) {
    this.backendId = options.backendId;
    this.log = options.log ?? silentLogger;
    this.closeDrainMs = options.closeDrainMs ?? DEFAULT_CLOSE_DRAIN_MS;
    const timeouts = resolveTimeouts(options);
    if (options.onStatus) this.statusListeners.push(options.onStatus);
    const baseUrl = options.url.replace(/\/+$/, '');
    if (options.insecureSkipVerify && baseUrl.startsWith('https:')) {
      this.log.warn(
        { backend: options.backendId, url: baseUrl },
        'TLS verification of the array is OFF (insecureSkipVerify): anyone on the path can read the array password',
      );
    }
    if (baseUrl.startsWith('http:') && !isLoopbackUrl(baseUrl)) {
      this.log.warn(
        { backend: options.backendId, url: baseUrl },
        'the backend URL is http://: the array password travels in clear on the network; use https:// (port 8080)',
      );
    }
    this.requester = new Requester({
      backendId: options.backendId,
      baseUrl,
      http: createHttp({
        url: baseUrl,
        ...(options.caCert !== undefined && { caCert: options.caCert }),
        ...(options.insecureSkipVerify !== undefined && { insecureSkipVerify: options.insecureSkipVerify }),
        timeouts,
        userAgent: `3par-csi/${VERSION}`,
      }),
      timeouts,
      probeIntervalMs: options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
      logoutTimeoutMs: options.logoutTimeoutMs ?? DEFAULT_LOGOUT_TIMEOUT_MS,
      onStatus: (status) => {
        for (const l of this.statusListeners) l(status);
      },
      username: options.username,
      password: options.password,
      sessionPoolSize: options.sessionPoolSize ?? DEFAULT_SESSION_POOL_SIZE,
      maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      authFailureCooldownMs: options.authFailureCooldownMs ?? DEFAULT_AUTH_FAILURE_COOLDOWN_MS,
      keyIdleMs: options.keyIdleMs ?? DEFAULT_KEY_IDLE_MS,
      log: this.log,
      ...(options.metrics !== undefined && { metrics: options.metrics }),
    });
    this.system = new SystemResource(this);
    this.wsapiConfiguration = new WsapiConfigurationResource(this);
    this.volumes = new VolumesResource(this);
    this.volumeSets = new VolumeSetsResource(this);
    this.hosts = new HostsResource(this);
    this.ports = new PortsResource(this);
    this.vluns = new VlunsResource(this);
    this.cpgs = new CpgsResource(this);
    this.tasks = new TasksResource(this);
  }

  /** A client for one entry of the backends file. */
  static fromBackend(
    backend: BackendConfig,
    extra: Omit<
      WsapiClientOptions,
      | 'backendId'
      | 'url'
      | 'username'
      | 'password'
      | 'caCert'
      | 'insecureSkipVerify'
      | 'sessionPoolSize'
      | 'maxInFlight'
      | 'timeouts'
    > = {},
  ): WsapiClient {
    return new WsapiClient({
      backendId: backend.id,
      url: backend.url,
      username: backend.username,
      password: backend.password,
      ...(backend.caCert !== undefined && { caCert: backend.caCert }),
      ...(backend.insecureSkipVerify !== undefined && { insecureSkipVerify: backend.insecureSkipVerify }),
      ...(backend.sessionPoolSize !== undefined && { sessionPoolSize: backend.sessionPoolSize }),
      ...(backend.maxInFlight !== undefined && { maxInFlight: backend.maxInFlight }),
      timeouts: {
        ...(backend.connectTimeoutSeconds !== undefined && { connectMs: backend.connectTimeoutSeconds * 1000 }),
        ...(backend.responseTimeoutSeconds !== undefined && { responseMs: backend.responseTimeoutSeconds * 1000 }),
        ...(backend.requestTimeoutSeconds !== undefined && { totalMs: backend.requestTimeoutSeconds * 1000 }),
      },
      ...extra,
    });
  }

  /** Sends one request through the pipeline (resource classes use this). */
  request(req: WsapiRequest): Promise<WsapiResult> {
    return this.requester.request(req);
  }

  /**
   * `GET /api` (no session): fetched once and cached; a failure is not cached. Concurrent callers
   * share one request; each caller's signal stops only its own wait.
   */
  apiVersion(opts?: CallOptions): Promise<ApiVersion> {
    const op = 'api.version';
    if (!this.version) {
      const p = this.requester.request({ op, method: 'GET', path: '/api', noSession: true }).then((res) => {
        const b = res.body;
        if (
          !isRecord(b) ||
          typeof b['major'] !== 'number' ||
          typeof b['minor'] !== 'number' ||
          typeof b['build'] !== 'number'
        ) {
          throw new WsapiProtocolError(
            'unexpected-shape',
            `WSAPI ${op} on backend ${this.backendId}: expected {major, minor, build}`,
            { backendId: this.backendId, op },
            { status: res.status },
          );
        }
        return { major: b['major'], minor: b['minor'], build: b['build'] };
      });
      this.version = p;
      p.catch(() => {
        if (this.version === p) this.version = undefined;
      });
    }
    const ctx = { backendId: this.backendId, op };
    return raceAbort(
      this.version,
      opts?.signal,
      () => new WsapiAbortedError(`WSAPI ${op} on backend ${this.backendId} was cancelled`, ctx),
    );
  }

  /** Later-firmware features, from the cached `GET /api`. */
  async features(opts?: CallOptions): Promise<FeatureGates> {
    return featureGates(await this.apiVersion(opts));
  }

  /** Polls `GET /tasks/<id>` until the task ends; see WaitForTaskOptions. */
  waitForTask(id: number, opts: WaitForTaskOptions): Promise<Task> {
    return waitForTask(this.tasks, { backendId: this.backendId, op: 'tasks.wait' }, id, opts);
  }

  /** Adds a listener for what requests prove about the array's reachability. */
  onStatus(listener: (status: WsapiStatus) => void): void {
    this.statusListeners.push(listener);
  }

  /**
   * Refuses new requests, lets running ones finish for closeDrainMs, cuts off the rest, and logs
   * out every key (each logout bounded; none when the array is not answering).
   */
  async close(): Promise<void> {
    await this.requester.close(this.closeDrainMs);
  }
}

/** True when the URL's host is a loopback address (nothing leaves the machine). */
function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The effective limits: defaults, then `timeouts`, with `timeoutMs` capping all three. */
function resolveTimeouts(options: WsapiClientOptions): WsapiTimeouts {
  const t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  if (options.timeoutMs === undefined) return t;
  return {
    connectMs: Math.min(t.connectMs, options.timeoutMs),
    responseMs: Math.min(t.responseMs, options.timeoutMs),
    totalMs: options.timeoutMs,
  };
}

/** Which later-firmware features an array version has: the one table in features.ts. */
export { featureGates, FIRMWARE_FEATURES } from './features.js';
