/**
 * Records of the simulated array. They are plain JSON-serialisable data (the state file is these
 * records), referring to each other by id so that renames need no fix-ups.
 */

/** §5.1 provisioningType. */
export const PROV = { FULL: 1, TPVV: 2, SNP: 3, TDVV: 6 } as const;
/** §5.1 copyType. */
export const COPY = { BASE: 1, PHYSICAL_COPY: 2, VIRTUAL_COPY: 3 } as const;
/** §5.1 detailed states used by the simulator. */
export const VSTATE = {
  COPY_FAILED: 9,
  PROMOTING: 12,
  COPY_TARGET: 13,
  TUNING: 15,
  COPY_SOURCE: 20,
  CONVERTING: 22,
} as const;
/** §13.1 task types used by the simulator. */
export const TASK_TYPE = {
  VV_COPY: 1,
  PHYS_COPY_RESYNC: 2,
  MOVE_REGIONS: 3,
  PROMOTE_SV: 4,
  ONLINE_COPY: 18,
  CONVERT_VV: 19,
} as const;
/** §13.1 task status. */
export const TASK_STATUS = { DONE: 1, ACTIVE: 2, CANCELLED: 3, FAILED: 4 } as const;

export interface Policies {
  staleSS: boolean;
  oneHost: boolean;
  zeroDetect: boolean;
}

export interface VolumeRec {
  id: number;
  uuid: string;
  name: string;
  provisioningType: number;
  copyType: number;
  /** The volume this one is a snapshot or physical copy of. */
  parentId?: number;
  /** Root of the snapshot tree (own id for a base or physical copy). */
  baseId: number;
  readOnly: boolean;
  sizeMiB: number;
  wwn: string;
  creationTimeSec: number;
  expirationTimeSec?: number;
  retentionTimeSec?: number;
  policies: Policies;
  userCPG?: string;
  snapCPG?: string;
  comment?: string;
  ssSpcAllocWarningPct?: number;
  ssSpcAllocLimitPct?: number;
  usrSpcAllocWarningPct?: number;
  usrSpcAllocLimitPct?: number;
  /** Later firmware: compression requested. */
  compression?: boolean;
  /** Allocated MiB of a thin volume, when known (copies inherit it; the data plane measures it). */
  usedMiB?: number;
  /** Id of the task that holds this volume busy (copy target/source, tune, promote), if any. */
  busyTaskIds: number[];
  /** Detailed states from a failed task (COPY_FAILED). */
  failedStates: number[];
  /** Later firmware: object key/values. */
  keyValues?: Record<string, string>;
  /** A helper snapshot the array made for an online copy (see `helperSnapshotComment`). */
  copyHelper?: boolean;
}

export interface HostRec {
  id: number;
  name: string;
  persona: number;
  fcWWNs: string[];
  iSCSINames: string[];
  descriptors?: Record<string, string>;
  /** Virtual domain (none when absent). */
  domain?: string;
  initiatorChap?: { name: string; secret: string };
  targetChap?: { name: string; secret: string };
}

export interface SetRec {
  id: number;
  name: string;
  comment?: string;
  /** Virtual domain (none when absent); every member is in it. */
  domain?: string;
  /** Member ids (volume ids or host ids), in order. */
  members: number[];
}

export interface PortPos {
  node: number;
  slot: number;
  cardPort: number;
}

/** A template VLUN (the export rule); active VLUNs are derived when listing. */
export interface VlunRec {
  lun: number;
  /** Exactly one of volumeId / volumeSetId. */
  volumeId?: number;
  volumeSetId?: number;
  /** At most one of hostId / hostSetId; neither = port-presents. */
  hostId?: number;
  hostSetId?: number;
  portPos?: PortPos;
  type: number;
  creationSeq: number;
}

export type TaskKind = 'online-copy' | 'offline-copy' | 'resync' | 'promote' | 'tune';

export interface TaskRec {
  id: number;
  kind: TaskKind;
  type: number;
  name: string;
  status: number;
  priority?: number;
  user: string;
  startTimeSec: number;
  finishTimeSec?: number;
  totalMiB: number;
  doneMiB: number;
  sourceId?: number;
  destId?: number;
  /** tune: target settings. */
  tune?: { userCPG?: string; snapCPG?: string; conversion?: number; keepVV?: string; compression?: boolean };
  /** offline copy: keep the intermediate snapshot. */
  saveSnapshot?: boolean;
  /** Fail when progress reaches this fraction (fault injection). */
  failAtFraction?: number;
  /**
   * online copy: the array's helper snapshots of the source, the destination's `copyOf` chain
   * (read-write one first, then its read-only parent); removed by the array when the copy is done.
   */
  helperIds?: number[];
}

export interface CpgRec {
  id: number;
  uuid: string;
  name: string;
  /** Physical space the CPG's layout can use. */
  sizeMiB: number;
  /** The growth limit (`SDGrowth.limitMiB`), when one is set. */
  growthLimitMiB?: number;
  /** Virtual domain (none when absent); the volumes drawn from the CPG are in it. */
  domain?: string;
}

export interface QosRec {
  id: number;
  type: number;
  name: string;
  rule: Record<string, unknown>;
}

/** Everything the array knows; the state file holds exactly this. */
export interface SimState {
  version: 1;
  systemId: number;
  nextVolumeId: number;
  nextWwnSerial: number;
  nextHostId: number;
  nextSetId: number;
  nextTaskId: number;
  nextVlunSeq: number;
  cpgs: CpgRec[];
  volumes: VolumeRec[];
  hosts: HostRec[];
  volumeSets: SetRec[];
  hostSets: SetRec[];
  vluns: VlunRec[];
  tasks: TaskRec[];
  qos: QosRec[];
}
