import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { TaskProgress } from './task-progress.js';
import type { BackendConfig } from '../config/backends.js';
import { invalidArgument } from '../errors.js';
import { KeyedMutex } from '../util/inflight.js';
import { TtlCache } from '../util/ttl-cache.js';
import { PortProtocol } from '../wsapi/enums.js';
import { SharedRead } from '../util/shared-read.js';
import type { ApiVersion, Cpg, FeatureGates, Port, SystemInfo, Vlun } from '../wsapi/types.js';
import { FIRMWARE_FEATURES, featureGates } from '../wsapi/features.js';
import type { ArrayClient, ArrayState, ArrayStatus } from './client.js';
import { conditionOf, toDriverError } from './errors.js';

/** First firmware build with dedup (tdvv) volumes, as cinder gates it (the table: wsapi/features.ts). */
export const DEDUP_BUILD = FIRMWARE_FEATURES.tdvv.build;
/** First firmware build with compression, as cinder gates it (the table: wsapi/features.ts). */
export const COMPRESSION_BUILD = FIRMWARE_FEATURES.compression.build;
/** How long the port list is reused (ports change only when an admin recables or reconfigures). */
export const PORTS_CACHE_MS = 5 * 60_000;
/** How long the CPG name list is reused (for StorageClasses that name no CPG). */
export const CPGS_CACHE_MS = 5 * 60_000;

const ARRAY_STATES: readonly ArrayState[] = ['reachable', 'unreachable', 'auth-refused', 'tls-refused'];

/** What the driver remembers about an array host it found or created for a node. */
export interface KnownHost {
  /** Array host name. */
  name: string;
  /** True when the host carries this cluster's marker (the driver may delete it). */
  owned: boolean;
  /** The host's virtual domain (absent: none); it serves volumes of that domain only. */
  domain?: string;
}

/**
 * One configured array: its client, the facts read at start (version, system), short-lived
 * caches (ports, CPG names, node → host), the copy tasks seen, and its up/down state for the
 * `backend_up` metric. Every array operation runs through `run`, which maps errors once.
 */
/** What the driver remembers of a volume it knows carries this cluster's marker. */
export interface OwnedVolume {
  wwn?: string;
  /** The marker's read-only-exports flag (see VolumeMarker.ro), as last read or written. */
  ro?: boolean;
  /** The access protocol the marker records (`p`), for a publish without volume_context. */
  protocol?: string;
  /**
   * A copy destination whose copy has not been seen to end well: publish and snapshot read it
   * again (a copy can fail after CreateVolume returned) until it is a normal volume.
   */
  copying?: boolean;
  /** The volume's virtual domain once read (null: none; absent: not read yet; domains.ts). */
  domain?: string | null;
}

export class Backend {
  readonly id: string;
  readonly config: BackendConfig;
  readonly client: ArrayClient;
  /** `GET /api` as read at start (undefined until the array answered once). */
  version: ApiVersion | undefined;
  system: SystemInfo | undefined;
  /**
   * Node host name (per path family: hosts.ts hostKey) → array host (filled by publish, invalidated on host delete or
   * 404).
   */
  readonly hosts = new Map<string, KnownHost>();
  /**
   * Volumes known to carry this cluster's marker, with their WWN once seen: publish skips the
   * read of a volume it already knows (dropped on delete; the array stays the truth for the rest).
   */
  readonly owned = new Map<string, OwnedVolume>();
  /** Copy destination name → online-copy task id (found again from /tasks after a restart). */
  readonly copyTasks = new Map<string, number>();
  /** Tuned volume name → tune task id (found again from /tasks after a restart). */
  readonly tuneTasks = new Map<string, number>();
  /** Progress logs and the array-tasks gauge of the copies and tunes waited for. */
  readonly tasks: TaskProgress;
  /** One host lookup-or-create per node at a time: 50 publishes to a new node make one host. */
  readonly hostLocks = new KeyedMutex();
  /** VLUN changes per array host (publish vs the host delete of an unpublish). */
  readonly vlunLocks = new KeyedMutex();
  /** The port list (with VLAN addresses), one read shared by concurrent callers. */
  private readonly portCache = new TtlCache<Port[]>((s) => this.loadPorts(s), PORTS_CACHE_MS);
  /** The CPG list (names and settings, not usage), one read shared by concurrent callers. */
  private readonly cpgCache = new TtlCache<Cpg[]>((s) => this.client.listCpgs(s), CPGS_CACHE_MS);
  /** VLUN listings in flight, shared by concurrent callers (cut off when every caller has left). */
  private vlunsInFlight: SharedRead<Vlun[]> | undefined;
  private vlunsNext: SharedRead<Vlun[]> | undefined;
  private state: ArrayState | undefined;
  /** True when the client reports its status itself (the WSAPI client); else operations do. */
  private readonly pushed: boolean;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    config: BackendConfig,
    client: ArrayClient,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {
    this.id = config.id;
    this.config = config;
    this.client = client;
    this.tasks = new TaskProgress(config.id, metrics);
    this.pushed = client.onStatus !== undefined;
    client.onStatus?.((status) => this.setStatus(status));
  }

  /** The backend's reachability as last proved (undefined until a request proved anything). */
  get status(): ArrayState | undefined {
    return this.state;
  }

  /**
   * Reads and logs the array's identity and WSAPI version, and exports them as metrics. Never
   * throws: an unreachable array at start is logged and shows as backend_up 0.
   */
  async describe(): Promise<void> {
    try {
      this.version = await this.client.getApiVersion();
      this.system = await this.client.getSystem();
      const conf = await this.client.getWsapiConfiguration();
      const wsapiVersion = conf.version ?? `${this.version.major}.${this.version.minor}`;
      this.log.info(
        {
          backend: this.id,
          name: this.system.name,
          serial: this.system.serialNumber,
          model: this.system.model,
          osVersion: this.system.systemVersion,
          wsapiVersion,
          build: this.version.build,
          sessionsInUse: conf.sessionsInUse,
        },
        'backend array',
      );
      this.metrics?.backendInfo.set(
        {
          backend: this.id,
          name: this.system.name ?? '',
          serial: this.system.serialNumber ?? '',
          model: this.system.model ?? '',
          os_version: this.system.systemVersion ?? '',
          wsapi_version: wsapiVersion,
        },
        1,
      );
      if (conf.sessionsInUse !== undefined) this.metrics?.backendSessions.set({ backend: this.id }, conf.sessionsInUse);
      this.fromOutcome(undefined);
    } catch (err) {
      this.fromOutcome(err);
      this.log.warn(
        { backend: this.id, err: toDriverError(err, this.id, 'reading the array identity').message },
        'backend not described at start; operations will retry',
      );
    }
  }

  /**
   * Refreshes the sessions-in-use gauge (and backend_up) every `ms` from wsapiconfiguration: one
   * light request, never from Probe. The timer does not keep the process alive.
   */
  startRefresh(ms: number): void {
    this.stopRefresh();
    this.refreshTimer = setInterval(() => {
      this.client.getWsapiConfiguration().then(
        (conf) => {
          if (conf.sessionsInUse !== undefined)
            this.metrics?.backendSessions.set({ backend: this.id }, conf.sessionsInUse);
          this.fromOutcome(undefined);
        },
        (err: unknown) => this.fromOutcome(err),
      );
    }, ms);
    this.refreshTimer.unref();
  }

  stopRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /** Reads the array's identity when start-up could not (the array was down then). */
  async ensureDescribed(): Promise<void> {
    if (!this.version) await this.describe();
  }

  /**
   * Firmware features beyond 1.3.x, from the version read at start, by the one table of
   * thresholds (wsapi/features.ts, cinder's and python-3parclient's): dedup (tdvv) from build
   * 30201120 (3.2.1 MU1), VLUN queries from 30201292 (3.2.1 MU2), compression from 30301215
   * (3.3.1), `reduce` from WSAPI 1.6. Nothing until the version was read.
   */
  get features(): FeatureGates {
    return featureGates(this.version);
  }

  /**
   * Runs one array operation: maps every error to a DriverError (once, here) and keeps
   * `backend_up` current (logged on each change).
   */
  async run<T>(doing: string, fn: (client: ArrayClient) => Promise<T>): Promise<T> {
    try {
      const out = await fn(this.client);
      this.fromOutcome(undefined);
      return out;
    } catch (err) {
      this.fromOutcome(err);
      throw toDriverError(err, this.id, doing);
    }
  }

  /** The array's ports; cached for PORTS_CACHE_MS (a publish needs them for target lists). */
  ports(signal?: AbortSignal): Promise<Port[]> {
    return this.portCache.get(signal);
  }

  /**
   * The port list, with the VLAN addresses of each VLAN-tagged iSCSI port (`iSCSIPortInfo.vlan`
   * 1: its portals live on VLAN interfaces, `/ports/<n:s:p>/iSCSIVlans`, as HPE's clients read
   * them [S python-3parclient getPorts]). One more request per tagged port, cached with the list.
   */
  private async loadPorts(signal?: AbortSignal): Promise<Port[]> {
    const ports = await this.client.listPorts(signal);
    for (const p of ports) {
      if (p.protocol === PortProtocol.ISCSI && p.iSCSIPortInfo?.vlan === 1)
        p.iSCSIVlans = await this.client.getIscsiVlans(p.portPos, signal);
    }
    return ports;
  }

  /**
   * The VLUN list, shared by concurrent callers and always started after the call: with no
   * listing in flight one starts now; otherwise the caller waits for the next listing, which
   * starts when the one in flight ends and serves everyone who asked meanwhile. A listing that
   * was already on its way could predate the caller's own changes, so it is never joined. On
   * WSAPI 1.3.x every VLUN lookup is a full list (REFERENCE §11.4): under load, many publishes
   * share one list instead of each fetching and parsing its own. A listing whose callers have
   * all left (their deadlines passed) is cut off, or never sent.
   */
  vluns(signal?: AbortSignal): Promise<readonly Vlun[]> {
    if (!this.vlunsInFlight)
      return this.startVlunListing(new SharedRead((s) => this.client.listVluns(s), false)).join(signal);
    if (!this.vlunsNext || this.vlunsNext.abandoned) {
      const next: SharedRead<Vlun[]> = new SharedRead((s) => this.client.listVluns(s), false);
      this.vlunsNext = next;
      const after = (): void => void this.startVlunListing(next);
      this.vlunsInFlight.start().then(after, after);
    }
    return this.vlunsNext.join(signal);
  }

  private startVlunListing(list: SharedRead<Vlun[]>): SharedRead<Vlun[]> {
    if (this.vlunsNext === list) this.vlunsNext = undefined;
    this.vlunsInFlight = list;
    const clear = (): void => {
      if (this.vlunsInFlight === list) this.vlunsInFlight = undefined;
    };
    list.start().then(clear, clear);
    return list;
  }

  /** The array's CPGs as last listed; cached for CPGS_CACHE_MS (names and settings, not usage). */
  private cpgList(signal?: AbortSignal): Promise<Cpg[]> {
    return this.cpgCache.get(signal);
  }

  private async cpgNames(signal?: AbortSignal): Promise<string[]> {
    return (await this.cpgList(signal)).map((c) => c.name);
  }

  /** True when the cached CPG list shows a growth limit (`SDGrowth.limitMiB`) on the CPG. */
  async hasGrowthLimit(name: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.cpgList(signal)).find((c) => c.name === name)?.SDGrowth?.limitMiB !== undefined;
  }

  /**
   * True when some CPG of the cached list is in a virtual domain (`domain`): only then can a
   * volume be in one (it takes its CPG's), so only then does publish need the volume's.
   */
  async usesDomains(signal?: AbortSignal): Promise<boolean> {
    return (await this.cpgList(signal)).some((c) => c.domain !== undefined);
  }

  /** True when the array has a CPG of that name (the cached list, read again once on a miss). */
  async hasCpg(name: string, signal?: AbortSignal): Promise<boolean> {
    if ((await this.cpgNames(signal)).includes(name)) return true;
    this.cpgCache.invalidate();
    return (await this.cpgNames(signal)).includes(name);
  }

  /** The backend's `defaultCpg`, else the array's only CPG; undefined when it has several. */
  async onlyCpg(signal?: AbortSignal): Promise<string | undefined> {
    if (this.config.defaultCpg) return this.config.defaultCpg;
    const names = await this.cpgNames(signal);
    return names.length === 1 ? names[0] : undefined;
  }

  /**
   * The CPG a class without `cpg` uses: the backend's configured `defaultCpg`, else the array's
   * only CPG; INVALID_ARGUMENT when there are several.
   */
  async defaultCpg(signal?: AbortSignal): Promise<string> {
    if (this.config.defaultCpg) return this.config.defaultCpg;
    const only = await this.onlyCpg(signal);
    if (only !== undefined) return only;
    const names = await this.cpgNames(signal);
    throw invalidArgument(
      `the StorageClass names no "cpg" and backend ${this.id} has ${names.length} CPGs (${names.slice(0, 5).join(', ')}) and no defaultCpg; set "cpg"`,
    );
  }

  /**
   * For a client that does not report its status (test doubles): an operation's outcome is the
   * evidence. Success, or an answer the array gave, means reachable; bad credentials and no
   * answer mean down; a cancelled call proves nothing.
   */
  private fromOutcome(err: unknown): void {
    if (this.pushed) return;
    if (err === undefined) return this.setStatus({ state: 'reachable' });
    const c = conditionOf(err);
    if (c === 'bad-credentials') this.setStatus({ state: 'auth-refused', detail: (err as Error).message });
    else if (c === 'unavailable') this.setStatus({ state: 'unreachable', detail: (err as Error).message });
    else if (c !== 'aborted' && c !== 'other') this.setStatus({ state: 'reachable' });
  }

  /** Records a state change: backend_up, the status label, and one log line. */
  private setStatus(status: ArrayStatus): void {
    if (this.state === status.state) return;
    this.state = status.state;
    this.metrics?.backendUp.set({ backend: this.id }, status.state === 'reachable' ? 1 : 0);
    for (const s of ARRAY_STATES)
      this.metrics?.backendStatus.set({ backend: this.id, status: s }, s === status.state ? 1 : 0);
    const fields = { backend: this.id, status: status.state, reason: status.detail };
    if (status.state === 'reachable') this.log.info({ backend: this.id, status: status.state }, 'backend up');
    else if (status.state === 'unreachable') this.log.warn(fields, 'backend down: the array cannot be reached');
    else if (status.state === 'auth-refused')
      this.log.error(
        fields,
        "backend down: the array refused the driver's user name or password; fix the backends file",
      );
    else
      this.log.error(
        fields,
        "backend down: TLS with the array failed; check the URL's scheme and port and the backend's caCert",
      );
  }
}
