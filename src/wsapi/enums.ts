/**
 * WSAPI enumerations (REFERENCE §5.1, §9.1, §10.1, §11.1, §13.1). Enumerations are JSON numbers
 * starting at 1; 0 is never valid. Values marked "later" exist only on firmware after 3.1.3.
 */

/** Volume `provisioningType`. */
export const ProvisioningType = {
  /** Fully provisioned (FPVV). */
  FULL: 1,
  /** Thin (TPVV). */
  TPVV: 2,
  /** Snapshot; space comes from the base's snapshot space. */
  SNP: 3,
  /** Remote volume admitted locally. */
  PEER: 4,
  /** Reported when the array cannot tell. */
  UNKNOWN: 5,
  /** Thin dedup (later: 3.2.1+). */
  TDVV: 6,
  /** Dedup store (later). */
  DDS: 7,
} as const;

/** Volume `copyType`. */
export const CopyType = {
  /** A base volume. */
  BASE: 1,
  /** A physical copy (clone) still linked to its source. */
  PHYSICAL_COPY: 2,
  /** A virtual copy (snapshot). */
  VIRTUAL_COPY: 3,
} as const;

/** Volume and CPG `state`. */
export const ObjectState = {
  /** Healthy. */
  NORMAL: 1,
  /** Usable with reduced redundancy or performance. */
  DEGRADED: 2,
  /** Not usable. */
  FAILED: 3,
} as const;

/** Detailed volume states (members of `failedStates`, `degradedStates`, `additionalStates`). */
export const VolumeDetailedState = {
  /** Destination of a running physical copy. */
  COPY_TARGET: 13,
  /** Target of a resync. */
  RESYNC_TARGET: 14,
  /** A tune is running. */
  TUNING: 15,
  /** Being removed. */
  REMOVING: 17,
  /** Being created. */
  CREATING: 19,
  /** Source of a running physical copy. */
  COPY_SOURCE: 20,
  /** A conversion is running. */
  CONVERTING: 22,
} as const;

/** Host `persona`. */
export const HostPersona = {
  /** Generic. */
  GENERIC: 1,
  /** Generic with ALUA: Linux with dm-multipath (the array's and cinder's default). */
  GENERIC_ALUA: 2,
  /** Generic legacy. */
  GENERIC_LEGACY: 3,
  /** HP-UX legacy. */
  HPUX_LEGACY: 4,
  /** AIX legacy. */
  AIX_LEGACY: 5,
  /** Egenera. */
  EGENERA: 6,
  /** ONTAP legacy. */
  ONTAP_LEGACY: 7,
  /** VMware ESXi. */
  VMWARE: 8,
  /** OpenVMS. */
  OPENVMS: 9,
  /** HP-UX. */
  HPUX: 10,
  /** Windows Server. */
  WINDOWS_SERVER: 11,
} as const;

/** Host modify `pathOperation` and `chapOperation`. */
export const HostEditOperation = {
  /** Add paths / set CHAP. */
  ADD: 1,
  /** Remove paths / remove CHAP. */
  REMOVE: 2,
} as const;

/** Host modify `chapOperationMode`. */
export const ChapOperationMode = {
  /** Initiator CHAP (the array authenticates the host). */
  INITIATOR: 1,
  /** Target CHAP (mutual: the host authenticates the array). */
  TARGET: 2,
} as const;

/** Port `mode`. */
export const PortMode = {
  /** Suspended. */
  SUSPENDED: 1,
  /** Target: serves hosts. */
  TARGET: 2,
  /** Initiator: talks to disks or remote arrays. */
  INITIATOR: 3,
  /** Peer. */
  PEER: 4,
} as const;

/** Port `linkState` (1.3.x values; later firmware adds 9-14). */
export const PortLinkState = {
  CONFIG_WAIT: 1,
  ALPA_WAIT: 2,
  LOGIN_WAIT: 3,
  /** Link up and usable. */
  READY: 4,
  LOSS_SYNC: 5,
  ERROR_STATE: 6,
  XXX: 7,
  NONPARTICIPATE: 8,
} as const;

/** Port connection `type`. */
export const PortType = {
  /** Host-facing port with hosts attached. */
  HOST: 1,
  /** Disk-facing port. */
  DISK: 2,
  /** Unused target port (no host attached yet). */
  FREE: 3,
  IPORT: 4,
  /** Remote-copy FC. */
  RCFC: 5,
  PEER: 6,
  /** Remote-copy IP. */
  RCIP: 7,
  /** iSCSI. */
  ISCSI: 8,
  CNA: 9,
} as const;

/** Port `protocol`. */
export const PortProtocol = {
  FC: 1,
  ISCSI: 2,
  FCOE: 3,
  IP: 4,
  SAS: 5,
} as const;

/** VLUN `type`. */
export const VlunType = {
  EMPTY: 1,
  /** Port presents: every host on the port sees the LUN. */
  PORT: 2,
  /** Host sees: the host sees it through every port it logs in to. */
  HOST: 3,
  /** Host and port. */
  MATCHED_SET: 4,
  /** Exported to a host set. */
  HOST_SET: 5,
} as const;

/** Task `type`. */
export const TaskType = {
  /** Offline physical copy. */
  VV_COPY: 1,
  PHYS_COPY_RESYNC: 2,
  MOVE_REGIONS: 3,
  /** Promote of a virtual copy. */
  PROMOTE_SV: 4,
  SNAPSHOT_ACCOUNTING: 12,
  /** Online physical copy; the task `name` is the destination volume. */
  ONLINE_COPY: 18,
  /** Tune / conversion. */
  CONVERT_VV: 19,
} as const;

/** Task `status`. */
export const TaskStatus = {
  /** Finished successfully. */
  DONE: 1,
  /** Still running. */
  ACTIVE: 2,
  /** Cancelled. */
  CANCELLED: 3,
  /** Failed. */
  FAILED: 4,
} as const;

/** Task priority for copies, resync and promote (note: the opposite order of QoS priority). */
export const TaskPriority = {
  HIGH: 1,
  MEDIUM: 2,
  LOW: 3,
} as const;

/** Numeric `action` of `PUT /volumes/<name>` (§5.7). */
export const VolumeAction = {
  /** Stop a physical copy (URI = destination). */
  STOP_PHYSICAL_COPY: 1,
  /** Resync a physical copy (URI = destination). */
  RESYNC_PHYSICAL_COPY: 2,
  /** Grow by `sizeMiB` (a delta). */
  GROW_VOLUME: 3,
  /** Promote a virtual copy onto its base. */
  PROMOTE_VIRTUAL_COPY: 4,
  /** Stop a running promote. */
  STOP_PROMOTE_VIRTUAL_COPY: 5,
  /** Tune: move/convert user or snapshot space. */
  TUNE_VOLUME: 6,
} as const;

/** Numeric `action` of `PUT /{volumesets|hostsets}/<name>` (§7.2). */
export const SetAction = {
  /** Add members. */
  MEM_ADD: 1,
  /** Remove members. */
  MEM_REMOVE: 2,
} as const;

/** Tune `tuneOperation`. */
export const TuneOperation = {
  /** Move/convert user space. */
  USR_CPG: 1,
  /** Move snapshot space. */
  SNP_CPG: 2,
} as const;

/** Tune `conversionOperation`. */
export const ConversionOperation = {
  /** To thin. */
  TPVV: 1,
  /** To full. */
  FPVV: 2,
  /** To thin dedup (later firmware). */
  TDVV: 3,
  /** To dedup + compression (later firmware). */
  CONVERT_TO_DECO: 4,
} as const;

/** `PUT /tasks/<id>` action. */
export const TaskAction = {
  /** Cancel the task. */
  CANCEL: 1,
} as const;
