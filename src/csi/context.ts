/**
 * Keys of the maps that carry facts between the controller and the node plugin. They are part
 * of the driver's contract with itself across versions (PV objects keep volume_context; the
 * VolumeAttachment keeps publish_context): never rename one.
 */

/** publish_context keys (ControllerPublishVolume → NodeStage/NodePublish). Stored in the
 *  VolumeAttachment, which many can read: never credentials (CHAP comes as the node-stage secret). */
export const PublishContext = {
  /** How the node reaches the LUN: "iscsi", "fc" or "loop" (the simulator's data plane). */
  protocol: 'protocol',
  /** LUN number the array assigned to the VLUN, decimal. */
  lun: 'lun',
  /** The volume's WWN as WSAPI reports it (upper-case hex); the node verifies devices by it. */
  wwn: 'wwn',
  /** iSCSI: comma-separated target IQNs, aligned with targetPortals. */
  targetIqns: 'targetIqns',
  /** iSCSI: comma-separated portals "ip:port", aligned with targetIqns. */
  targetPortals: 'targetPortals',
  /** FC: comma-separated target port WWNs (16 hex digits, lower case). */
  targetWwns: 'targetWwns',
  /** "true" for a read-only publish; a 3PAR VLUN cannot be read-only, so the node enforces it. */
  readonly: 'readonly',
} as const;

/** volume_context keys (CreateVolume → every node call). Kept in the PV. */
export const VolumeContext = {
  /** Access protocol chosen by the StorageClass: "iscsi", "fc" or "loop". */
  protocol: 'protocol',
  /** "true" when the volume was created empty (no content source): only then may the node format it. */
  createdEmpty: 'createdEmpty',
  /** Extra mkfs options from the StorageClass (strict character set, validated at create). */
  fsCreateOptions: 'fsCreateOptions',
  /** Owner "uid:gid" applied to the filesystem root on first format. */
  fsOwner: 'fsOwner',
  /** Octal mode applied to the filesystem root on first format, e.g. "0770". */
  fsMode: 'fsMode',
  /** The backend id (also the prefix of the volume id); informational. */
  backend: 'backend',
  /** "true" on a static PV the admin imports; the controller marks it at first publish. */
  import: 'import',
  /** "true" when the volume is a copy (from snapshot or clone): XFS mounts with nouuid. */
  isCopy: 'isCopy',
} as const;

/**
 * Whether topology is on (DESIGN "Topology"): one setting that the controller and every node
 * plugin of a cluster must share (`--topology`). `on`: the controller puts a backend segment on
 * every volume and each node reports a segment per backend it reaches, also with one backend or
 * one id; `off`: neither does. `auto` (a driver run by hand): the controller turns it on with two
 * or more backends, a node alone when it is given `--backend-ids`, a process serving both follows
 * its controller.
 */
export const TOPOLOGY_MODES = ['auto', 'on', 'off'] as const;
export type TopologyMode = (typeof TOPOLOGY_MODES)[number];

/** Topology segment key for a backend: `<driverName>/backend-<id>` (DESIGN "Topology"); permanent. */
export function topologyKey(driverName: string, backendId: string): string {
  return `${driverName}/backend-${backendId}`;
}
