/**
 * The objects WSAPI 1.3.x returns (REFERENCE §3, §5, §7, §9-§13). The array omits members that
 * are not set, so nearly everything is optional; the few members marked required are checked by
 * the client when it parses a response. Unknown members later firmware adds are kept as is.
 */

/** `GET /api`: the WSAPI version and the 3PAR OS build (`30103230` = 3.1.3 MU1). */
export interface ApiVersion {
  major: number;
  minor: number;
  build: number;
}

/** What the array's firmware supports beyond WSAPI 1.3.x, derived from `GET /api`. */
export interface FeatureGates {
  /** `GET /vluns?query="volumeName EQ v"` / `"hostname EQ h"` (3PAR OS >= 3.2.1 MU2). */
  vlunQueries: boolean;
  /** Thin-dedup volumes, `tdvv` on create/copy (3PAR OS >= 3.2.1 MU1). */
  tdvv: boolean;
  /** `compression` on create/copy/tune (3PAR OS >= 3.3.1). */
  compression: boolean;
  /** Data-reduction volumes, `reduce` on create/copy (WSAPI >= 1.6). */
  reduce: boolean;
  /** `/api/v1/qos` rules (3PAR OS >= 3.2.1). */
  qos: boolean;
}

/** `{node, slot, cardPort}`, written `n:s:p` in URLs. */
export interface PortPos {
  node: number;
  slot: number;
  cardPort: number;
}

/** Space figures of a volume (MiB). */
export interface VolumeSpace {
  reservedMiB?: number;
  rawReservedMiB?: number;
  usedMiB?: number;
  freeMiB?: number;
}

/** Volume policies. `system` and `caching` are reported, never set by clients. */
export interface VolumePolicies {
  /** Allow stale snapshots. */
  staleSS?: boolean;
  /** Export to one host only: the array refuses a VLUN to a second host. */
  oneHost?: boolean;
  /** Zero detection (thin volumes only). */
  zeroDetect?: boolean;
  system?: boolean;
  caching?: boolean;
}

/** A volume's space alerts and limits, in percent of its virtual size (read, create, modify). */
export interface SpaceAllocLimits {
  ssSpcAllocWarningPct?: number;
  ssSpcAllocLimitPct?: number;
  usrSpcAllocWarningPct?: number;
  usrSpcAllocLimitPct?: number;
}

/** A virtual volume, snapshot or physical copy (§5.2). */
export interface Volume extends SpaceAllocLimits {
  name: string;
  id?: number;
  uuid?: string;
  domain?: string;
  /** See ProvisioningType. */
  provisioningType?: number;
  /** See CopyType. */
  copyType?: number;
  /** Source of a snapshot or physical copy. */
  copyOf?: string;
  baseId?: number;
  parentId?: number;
  physParentId?: number;
  roChildId?: number;
  rwChildId?: number;
  readOnly?: boolean;
  /** See ObjectState. */
  state?: number;
  failedStates?: number[];
  degradedStates?: number[];
  /** See VolumeDetailedState (e.g. COPY_TARGET while an online copy runs). */
  additionalStates?: number[];
  adminSpace?: VolumeSpace;
  snapshotSpace?: VolumeSpace;
  userSpace?: VolumeSpace;
  /** Virtual (exported) size. */
  sizeMiB?: number;
  /** 32 hex digits: the SCSI NAA id the node sees. */
  wwn?: string;
  creationTimeSec?: number;
  creationTime8601?: string;
  expirationTimeSec?: number;
  expirationTime8601?: string;
  retentionTimeSec?: number;
  retentionTime8601?: string;
  policies?: VolumePolicies;
  userCPG?: string;
  snapCPG?: string;
  comment?: string;
  /** WSAPI >= 1.6: 1 compressed, 2 not (absent on older arrays). */
  compressionState?: number;
}

/** A VV set or host set (§7.4). */
export interface WsapiSet {
  name: string;
  id?: number;
  uuid?: string;
  domain?: string;
  comment?: string;
  /** Omitted when the set is empty. */
  setmembers?: string[];
}

/** A VV set: members are volume names. */
export type VolumeSet = WsapiSet;
/** A host set: members are host names. */
export type HostSet = WsapiSet;

/** Host descriptors (strings up to 255 characters each). */
export interface HostDescriptors {
  location?: string;
  IPAddr?: string;
  os?: string;
  model?: string;
  contact?: string;
  comment?: string;
}

/** An FC initiator path; real arrays send `wwn` (the guide prints `WWN`). */
export interface FcPath {
  wwn?: string;
  WWN?: string;
  portPos?: PortPos;
  firmwareVersion?: string;
  vendor?: string;
  model?: string;
  driverVersion?: string;
  hostSpeed?: number;
}

/** An iSCSI initiator path. `portPos` is present only while the initiator is logged in. */
export interface IscsiPath {
  name: string;
  IPAddr?: string;
  portPos?: PortPos;
  hostSpeed?: number;
}

/** A host (§9.5). */
export interface Host {
  name: string;
  id?: number;
  /** See HostPersona. */
  persona?: number;
  domain?: string;
  descriptors?: HostDescriptors;
  FCPaths?: FcPath[];
  iSCSIPaths?: IscsiPath[];
  initiatorChapEnabled?: boolean;
  initiatorChapName?: string;
  targetChapEnabled?: boolean;
  targetChapName?: string;
}

/** An array port (§10.2). */
export interface Port {
  portPos: PortPos;
  /** See PortMode. */
  mode?: number;
  /** See PortLinkState. */
  linkState?: number;
  nodeWWN?: string;
  /** The FC target WWN. */
  portWWN?: string;
  /** See PortType. */
  type?: number;
  HWAddr?: string;
  /** See PortProtocol. */
  protocol?: number;
  label?: string;
  device?: string[];
  partnerPos?: PortPos;
  failoverState?: number;
  /** iSCSI portal address. */
  IPAddr?: string;
  /** The target IQN of an iSCSI port. */
  iSCSIName?: string;
  /** Later firmware: the iSCSI port's settings; `vlan` 1 = VLAN-tagged (its addresses are in iSCSIVlans). */
  iSCSIPortInfo?: { ipAddr?: string; vlan?: number; tcpPort?: number; iSCSIName?: string; mtu?: number };
  /** Filled by the driver from `/ports/<n:s:p>/iSCSIVlans` for a tagged port. */
  iSCSIVlans?: IscsiVlan[];
}

/** One VLAN interface of a tagged iSCSI port (`/ports/<n:s:p>/iSCSIVlans`). */
export interface IscsiVlan {
  IPAddr: string;
  vlanTag?: number;
  tcpPort?: number;
}

/** A VLUN: a template (`active: false`, the export rule) or a live path (`active: true`). */
export interface Vlun {
  lun: number;
  volumeName: string;
  /** Absent for port-presents VLUNs. */
  hostname?: string;
  /** Initiator WWN/IQN of an active VLUN. */
  remoteName?: string;
  portPos?: PortPos;
  /** See VlunType. */
  type?: number;
  volumeWWN?: string;
  multipathing?: number;
  failedPathPol?: number;
  failedPathInterval?: number;
  hostDeviceName?: string;
  active?: boolean;
}

/** The identity of one VLUN, as in its `Location` and its URL. */
export interface VlunId {
  volumeName: string;
  lun: number;
  /** Empty/absent for port-presents VLUNs. */
  hostname?: string;
  portPos?: PortPos;
}

/** CPG space usage (MiB). */
export interface CpgUsage {
  totalMiB?: number;
  rawTotalMiB?: number;
  usedMiB?: number;
  rawUsedMiB?: number;
}

/** CPG growth settings. */
export interface CpgGrowth {
  incrementMiB?: number;
  warningMiB?: number;
  /** Present only when a growth limit is set. */
  limitMiB?: number;
  LDLayout?: Record<string, unknown>;
}

/** A common provisioning group (§12.2). */
export interface Cpg {
  name: string;
  id?: number;
  uuid?: string;
  domain?: string;
  warningPct?: number;
  numFPVVs?: number;
  numTPVVs?: number;
  numTDVVs?: number;
  UsrUsage?: CpgUsage;
  SAUsage?: CpgUsage;
  SDUsage?: CpgUsage;
  SAGrowth?: CpgGrowth;
  SDGrowth?: CpgGrowth;
  state?: number;
  failedStates?: number[];
  degradedStates?: number[];
  additionalStates?: number[];
}

/** Free space a CPG can still draw on (§12.3; the client flattens the guide's nested form). */
export interface CpgFreeSpace {
  rawFreeMiB: number;
  usableFreeMiB: number;
}

/** An array task (§13.3). */
export interface Task {
  id: number;
  /** See TaskStatus. */
  status: number;
  /** See TaskType. */
  type?: number;
  /** For copies: the destination volume name. */
  name?: string;
  completedPhases?: number;
  totalPhases?: number;
  completedSteps?: number;
  totalSteps?: number;
  /** Not ISO 8601: `"2017-08-02 02:07:00 PDT"`. */
  startTime?: string;
  /** `"-"` or absent while active. */
  finishTime?: string;
  priority?: number;
  user?: string;
  /** Multi-line log text (later firmware). */
  detailedStatus?: string;
}

/** `GET /api/v1/system` (§3.2). */
export interface SystemInfo {
  id?: number;
  name?: string;
  IPv4Addr?: string;
  IPv6Addr?: string;
  model?: string;
  serialNumber?: string;
  systemVersion?: string;
  totalNodes?: number;
  masterNode?: number;
  onlineNodes?: number[];
  clusterNodes?: number[];
  chunkletSizeMiB?: number;
  totalCapacityMiB?: number;
  allocatedCapacityMiB?: number;
  freeCapacityMiB?: number;
  failedCapacityMiB?: number;
  location?: string;
  owner?: string;
  contact?: string;
  comment?: string;
  timeZone?: string;
}

/** `GET /api/v1/wsapiconfiguration` (§3.3). */
export interface WsapiConfiguration {
  httpState?: string;
  httpPort?: number;
  httpsState?: string;
  httpsPort?: number;
  version?: string;
  /** Sessions in use on the array by all clients. */
  sessionsInUse?: number;
  /** The theoretical session ceiling. */
  systemResourceUsage?: number;
}
