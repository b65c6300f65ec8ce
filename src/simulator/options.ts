import { SimulatorError, type ErrorOverrides } from './errors.js';
import type { FaultSpec } from './faults.js';

/** Start-up options of the embedded array. Every member is optional; defaults are noted. */
export interface SimulatorOptions {
  /** Listen address; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Listen port; default 0 (any free port; the chosen URL is reported). */
  port?: number;
  /** true = HTTPS with a self-signed certificate generated at start; or a PEM cert and key. */
  https?: boolean | { cert: string; key: string };
  /** Array user; default 3paradm / 3pardata. */
  username?: string;
  password?: string;
  /** Firmware profile: '3.1.3 MU1' (WSAPI 1.3.1, default), '3.2.2', '3.3.1' (later features). */
  profile?: string;
  /** CPGs and their usable capacity; default SSD_r6 and FC_r6 of 16 TiB each, NL_r6 of 64 TiB. */
  /**
   * CPGs: `sizeMiB` is the physical space their LD layout can use (what the space reporter shows);
   * `growthLimitMiB`, when set, is the CPG's growth limit (`SDGrowth.limitMiB`), which allocations
   * respect and the space reporter does not [S CIN hpe_3par_common.py get_volume_stats].
   */
  cpgs?: { name: string; sizeMiB: number; growthLimitMiB?: number; domain?: string }[];
  /**
   * Virtual domains: every CPG of `cpgs` without a `domain` of its own is put in this one (volumes
   * take their CPG's domain). Unset: no CPG is in a domain, as on an array without the license.
   */
  cpgDomain?: string;
  /** Further domains that exist (for hosts and sets made in them); CPGs' domains exist anyway. */
  domains?: string[];
  /**
   * A VLUN of a volume in a domain to a host in none: 'same' (refused 403/118 like any host of
   * another domain, as the concepts guide's rule reads: VVs are exported only to hosts of their
   * domain; default) or 'hostWithoutDomain' (allowed; [U] whether any firmware does).
   */
  domainExport?: 'same' | 'hostWithoutDomain';
  /** Data plane directory (sparse file per volume, exports/<WWN> links); off when unset. */
  dataDir?: string;
  /** Persist the object model to this file (atomic writes); off when unset. */
  stateFile?: string;
  /** Service time per request, milliseconds (default 0). */
  latencyMs?: number;
  /** Extra service time per member returned by a list, microseconds (default 0). */
  perMemberUs?: number;
  /** Speed of physical copies, promotes and tunes, MiB/s (default 512). */
  copyRateMiBps?: number;
  /** Copy/tune tasks that run at once; others wait ACTIVE with no progress (default 4). */
  maxConcurrentTasks?: number;
  /** Sessions the array accepts at once (default 36, a 2-node 7400). */
  sessionLimit?: number;
  /** A session key unused for this long expires (default 900 s, as on the array). */
  sessionIdleTimeoutSec?: number;
  /** Serve the admin/fault endpoint under /sim/ (loopback clients only); default off. */
  admin?: boolean;
  /** Faults active from start-up. */
  faults?: FaultSpec[];
  /**
   * A physical copy whose parent is a read-only snapshot: 'refuse' (403
   * INV_OPERATION_VV_READONLY_SNAPSHOT, documented by python-3parclient's copyVolume; default) or
   * 'allow' ([U] whether older firmware accepted it).
   */
  copyFromReadOnlySnapshot?: 'refuse' | 'allow';
  /** Refuse modifying (PUT) a volume while it is the target of a running online copy. */
  refuseModifyDuringCopy?: boolean;
  /**
   * An online copy's helper snapshots of the source: 'chain' (default: a read-only snapshot of the
   * source and a read-write one of it, the destination's `copyOf` chain, as python-3parclient's
   * stopOnlinePhysicalCopy finds them; removed when the copy is done, left after a cancel or a
   * failure) or 'none' (the destination's `copyOf` is the source, nothing is left) [U names].
   */
  onlineCopySnapshots?: 'chain' | 'none';
  /**
   * A comment (PUT) on an online copy's helper snapshot: 'accept' (default, as on any snapshot) or
   * 'refuse' (403 INV_OPERATION_VV_SYS_VOLUME) [U: not documented either way].
   */
  helperSnapshotComment?: 'accept' | 'refuse';
  /** Status of a successful volume createSnapshot: 201 (default) or 200 (1.2 guide) [U]. */
  snapshotCreateStatus?: 200 | 201;
  /** Error for deleting a running online-copy target: 'code29' (400/29, default) or 'code151' (409/151) [U]. */
  copyTargetDeleteError?: 'code29' | 'code151';
  /** Query strings a profile does not support: 'reject' (400 INV_QUERY_STRING, default) or 'ignore' [U]. */
  unsupportedQuery?: 'reject' | 'ignore';
  /**
   * Keep connections open between requests. Default off: the array answers every request with
   * `Connection: close` (WSAPI 1.2 and 1.3.1 guides, "Server HTTP Headers"); [U] whether later
   * firmware keeps connections.
   */
  keepAlive?: boolean;
  /**
   * With `https`: let clients resume TLS sessions (tickets, TLS 1.2 and 1.3), so a new connection
   * skips the certificate exchange. Default true; false refuses every resumption (each connection
   * a full handshake). [U] whether arrays resume sessions: not in the WSAPI guides, python-3parclient
   * or cinder's driver (src/simulator/README.md).
   */
  tlsResumption?: boolean;
  /** With `https`: the highest TLS version served, '1.2' or '1.3' (default '1.3'). [U] which arrays speak. */
  tlsMaxVersion?: '1.2' | '1.3';
  /** Shape of GET /vluns/<id>: the bare VLUN (default) or a one-member collection [U]. */
  vlunGetShape?: 'object' | 'collection';
  /** Grow rounds the delta up to this (default 256 MiB; real 7400s use 1024). */
  growChunkMiB?: number;
  /** Largest volume, MiB (default 16 TiB). */
  maxVolumeSizeMiB?: number;
  /** Used share of a thin volume when there is no data plane to measure it (default 10 %). */
  thinUsedPct?: number;
  /** Corrections to error statuses/codes, e.g. the oneHost refusal: { VV_ONE_HOST_POLICY: { code: 123 } }. */
  errorCodes?: ErrorOverrides;
  /** Task progress timer period, ms (default 50). */
  tickMs?: number;
  /** Entries kept in `requests` (default 100,000; the oldest half goes when it is full). */
  requestLogLimit?: number;
  /** Called after every WSAPI request served (the CLI's --log-requests). */
  onRequest?: (entry: { method: string; path: string; status: number; code?: number; query?: string }) => void;
}

/** What a firmware profile switches on. */
export interface Profile {
  name: string;
  major: number;
  minor: number;
  build: number;
  /** wsapiconfiguration `version`. */
  wsapiVersion: string;
  systemVersion: string;
  /** `tdvv` on volume create / copy (3.2.1+). */
  tdvv: boolean;
  /** `reduce`/`compression` (WSAPI 1.6, 3.3.1). */
  reduce: boolean;
  /** `?query="volumeName EQ v"` on /vluns, `"wwn EQ"`/`"copyOf EQ"` on /volumes (3.2.1 MU2+). */
  eqQueries: boolean;
  /** /api/v1/qos. */
  qos: boolean;
  /** `sessionType` at login. */
  sessionType: boolean;
  /** `links` members in objects. */
  links: boolean;
  /** /api/v1/volumes/<v>/objectKeyValues. */
  objectKeyValues: boolean;
  /**
   * iSCSI ports report `iSCSIPortInfo` (with `vlan`, `tcpPort`) and serve
   * `/ports/<n:s:p>/iSCSIVlans` (later firmware; REFERENCE §10); with `vlanTaggedPort`, node 1's
   * iSCSI port is VLAN-tagged: no untagged address, its portal is on VLAN 100.
   */
  iscsiPortInfo?: boolean;
  vlanTaggedPort?: boolean;
}

const PROFILES: Profile[] = [
  {
    name: '3.1.3 MU1',
    major: 1,
    minor: 3,
    build: 30103230,
    wsapiVersion: '1.3.1',
    systemVersion: '3.1.3.230',
    tdvv: false,
    reduce: false,
    eqQueries: false,
    qos: false,
    sessionType: false,
    links: false,
    objectKeyValues: false,
  },
  {
    name: '3.2.2',
    major: 1,
    minor: 5,
    build: 30202390,
    wsapiVersion: '1.5.0',
    systemVersion: '3.2.2.390',
    tdvv: true,
    reduce: false,
    eqQueries: true,
    qos: true,
    sessionType: false,
    links: true,
    objectKeyValues: true,
    iscsiPortInfo: true,
  },
  {
    name: '3.3.1',
    major: 1,
    minor: 6,
    build: 30301460,
    wsapiVersion: '1.6.3',
    systemVersion: '3.3.1.460',
    tdvv: true,
    reduce: true,
    eqQueries: true,
    qos: true,
    sessionType: true,
    links: true,
    objectKeyValues: true,
    iscsiPortInfo: true,
    vlanTaggedPort: true,
  },
];

/** Profile names accepted by the CLI. */
export const PROFILE_NAMES = PROFILES.map((p) => p.name);

/** Looks a profile up by name ('3.1.3 MU1', '3.1.3-mu1', '3.1.3mu1' are the same). */
export function findProfile(name: string): Profile {
  const norm = (s: string): string => s.toLowerCase().replace(/[\s_-]/g, '');
  const p = PROFILES.find((x) => norm(x.name) === norm(name));
  if (!p)
    throw new SimulatorError(
      'SIM_BAD_OPTIONS',
      `unknown simulator profile "${name}" (profiles: ${PROFILE_NAMES.join(', ')})`,
    );
  return p;
}

export const DEFAULT_CPGS: NonNullable<SimulatorOptions['cpgs']> = [
  { name: 'SSD_r6', sizeMiB: 16 * 1024 * 1024, growthLimitMiB: 16 * 1024 * 1024 },
  { name: 'FC_r6', sizeMiB: 16 * 1024 * 1024, growthLimitMiB: 16 * 1024 * 1024 },
  { name: 'NL_r6', sizeMiB: 64 * 1024 * 1024, growthLimitMiB: 64 * 1024 * 1024 },
];

/** Options with every default applied. */
export type ResolvedOptions = Required<
  Omit<SimulatorOptions, 'dataDir' | 'stateFile' | 'https' | 'profile' | 'onRequest' | 'cpgDomain'>
> & {
  onRequest?: SimulatorOptions['onRequest'];
  dataDir?: string;
  stateFile?: string;
  https: false | true | { cert: string; key: string };
  profile: Profile;
};

export function resolveOptions(o: SimulatorOptions = {}): ResolvedOptions {
  const positive = (name: string, v: number | undefined, dflt: number, min = 0): number => {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v < min)
      throw new SimulatorError('SIM_BAD_OPTIONS', `simulator option ${name} must be a number ≥ ${min}, not ${v}`);
    return v;
  };
  const name31 = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,30}$/;
  const cpgs = (o.cpgs ?? DEFAULT_CPGS).map((c) =>
    c.domain === undefined && o.cpgDomain !== undefined ? { ...c, domain: o.cpgDomain } : c,
  );
  for (const c of cpgs) {
    if (!name31.test(c.name) || !(c.sizeMiB >= 0) || (c.domain !== undefined && !name31.test(c.domain))) {
      throw new SimulatorError(
        'SIM_BAD_OPTIONS',
        `bad CPG ${JSON.stringify(c)}: a name31, a size in MiB and an optional name31 domain`,
      );
    }
  }
  const domains = o.domains ?? [];
  for (const d of domains)
    if (!name31.test(d)) throw new SimulatorError('SIM_BAD_OPTIONS', `bad domain name "${d}": a name31`);
  const resolved: ResolvedOptions = {
    host: o.host ?? '127.0.0.1',
    port: positive('port', o.port, 0),
    https: o.https ?? false,
    username: o.username ?? '3paradm',
    password: o.password ?? '3pardata',
    profile: findProfile(o.profile ?? '3.1.3 MU1'),
    cpgs,
    domains,
    domainExport: o.domainExport ?? 'same',
    latencyMs: positive('latencyMs', o.latencyMs, 0),
    perMemberUs: positive('perMemberUs', o.perMemberUs, 0),
    copyRateMiBps: positive('copyRateMiBps', o.copyRateMiBps, 512, 0.001),
    maxConcurrentTasks: positive('maxConcurrentTasks', o.maxConcurrentTasks, 4, 1),
    sessionLimit: positive('sessionLimit', o.sessionLimit, 36, 1),
    sessionIdleTimeoutSec: positive('sessionIdleTimeoutSec', o.sessionIdleTimeoutSec, 900, 0.001),
    admin: o.admin ?? false,
    faults: o.faults ?? [],
    refuseModifyDuringCopy: o.refuseModifyDuringCopy ?? false,
    copyFromReadOnlySnapshot: o.copyFromReadOnlySnapshot ?? 'refuse',
    onlineCopySnapshots: o.onlineCopySnapshots ?? 'chain',
    helperSnapshotComment: o.helperSnapshotComment ?? 'accept',
    snapshotCreateStatus: o.snapshotCreateStatus ?? 201,
    copyTargetDeleteError: o.copyTargetDeleteError ?? 'code29',
    unsupportedQuery: o.unsupportedQuery ?? 'reject',
    vlunGetShape: o.vlunGetShape ?? 'object',
    keepAlive: o.keepAlive ?? false,
    tlsResumption: o.tlsResumption ?? true,
    tlsMaxVersion: tlsVersion(o.tlsMaxVersion),
    growChunkMiB: positive('growChunkMiB', o.growChunkMiB, 256, 1),
    maxVolumeSizeMiB: positive('maxVolumeSizeMiB', o.maxVolumeSizeMiB, 16 * 1024 * 1024, 256),
    thinUsedPct: positive('thinUsedPct', o.thinUsedPct, 10),
    errorCodes: o.errorCodes ?? {},
    tickMs: positive('tickMs', o.tickMs, 50, 1),
    requestLogLimit: positive('requestLogLimit', o.requestLogLimit, 100_000, 2),
  };
  if (o.onRequest) resolved.onRequest = o.onRequest;
  if (o.dataDir !== undefined) resolved.dataDir = o.dataDir;
  if (o.stateFile !== undefined) resolved.stateFile = o.stateFile;
  return resolved;
}

function tlsVersion(v: string | undefined): '1.2' | '1.3' {
  if (v === undefined || v === '1.2' || v === '1.3') return v ?? '1.3';
  throw new SimulatorError('SIM_BAD_OPTIONS', `simulator option tlsMaxVersion must be '1.2' or '1.3', not ${v}`);
}
