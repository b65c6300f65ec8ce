import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import type { ObjectLabels, VolumeMarker } from './marker.js';
import { formatId } from './names.js';
import type { Provisioning } from './modify.js';

/**
 * The words StorageArray speaks (DESIGN "Layers"): what the CSI layer asks of an array and what
 * it gets back. No WSAPI wire type crosses this line; `to…` below translate the array's objects.
 */

/** What a CreateVolume asks of the array: planned from the request alone (csi/create-plan.ts). */
export interface VolumeSpec {
  /** The CSI name: the array name and the marker derive from it. */
  name: string;
  sizeMiB: number;
  /** The largest size the request accepts (a copy is at least as large as its source); absent: no limit. */
  maxMiB?: number;
  /** A single-node access mode: the volume gets the array's oneHost policy. */
  singleNode: boolean;
  /** The content source: a snapshot or a volume, by its id (`<backendId>/<arrayName>`). */
  source?: { kind: 'snapshot' | 'volume'; id: string };
  /** The backend the class names (absent: topology or the default decides). */
  backend?: string;
  cpg?: string;
  snapCpg?: string;
  provisioning: Provisioning;
  compression: boolean;
  /** Absent: the backend's defaultAccessProtocol, else iscsi. */
  protocol?: string;
  /** The VV set to join (QoS). */
  qosName?: string;
  labels: ObjectLabels;
  /**
   * What else makes two requests "the same" (the class's parameters): hashed with the backend,
   * the source, the access mode and the resolved protocol into the marker's request identity.
   */
  requestKey: Readonly<Record<string, unknown>>;
}

/** A volume as the CSI layer sees it. */
export interface ArrayVolume {
  /** `<backendId>/<arrayName>`: the CSI volume_id. */
  id: string;
  /** The array's name of it. */
  name: string;
  sizeMiB: number;
  wwn?: string;
  /** One host at a time (the array's oneHost policy). */
  singleNode: boolean;
  /** The access protocol its marker records. */
  protocol?: string;
}

/** The CSI VolumeCondition of a volume, from the array's state. */
export interface VolumeHealth {
  abnormal: boolean;
  message: string;
}

/** A volume with what ListVolumes and ControllerGetVolume report about it. */
export interface VolumeStatus extends ArrayVolume {
  /** Exact node_ids read back from the markers of the hosts it is exported to. */
  publishedNodeIds: string[];
  condition: VolumeHealth;
}

/** A snapshot (a read-only or read-write virtual copy). */
export interface ArraySnapshot {
  /** `<backendId>/<arrayName>`: the CSI snapshot_id. */
  id: string;
  name: string;
  /** The source volume's id as the CO knew it (a soft-deleted source keeps its old name); "" unknown. */
  sourceId: string;
  sizeMiB: number;
  /** Creation time, seconds since the epoch (absent when the array reports none). */
  createdAt?: number;
  /** The group snapshot's id when it is a member of one. */
  groupId?: string;
}

/** A group snapshot: its members in index order. */
export interface ArrayGroup {
  id: string;
  snapshots: ArraySnapshot[];
}

/** What CreateSnapshot asks of the array. */
export interface SnapshotSpec {
  /** The CSI name. */
  name: string;
  readOnly: boolean;
  expirationHours?: number;
  labels: ObjectLabels;
}

/** What CreateVolumeGroupSnapshot asks of the array. */
export interface GroupSnapshotSpec extends SnapshotSpec {
  /** The source volumes' array names, in request order. */
  sources: string[];
}

/** Where the node finds an exported volume (publish_context). */
export interface Export {
  protocol: string;
  lun: number;
  /** The volume's WWN ("" when the array reports none). */
  wwn: string;
  iqns: string[];
  portals: string[];
  wwns: string[];
}

/** How ControllerPublish wants a volume exported. */
export interface PublishOptions {
  /** The request's readonly flag (a 3PAR VLUN cannot be read-only: the node enforces it). */
  readonly: boolean;
  /** A single-node access mode: another node's export → FAILED_PRECONDITION. */
  singleNode: boolean;
  /** The protocol the volume_context names (absent: the marker's, else the backend's default). */
  protocol?: string;
  /** The static PV asks for the unmarked volume to be imported. */
  import: boolean;
  /** The class's port choice: portal IPs, FC port positions, one VLUN per port instead of one host-sees VLUN. */
  ports?: { iscsiPortalIps?: string[]; fcPorts?: string[]; oneVlunPerPort: boolean };
}

export function toArrayVolume(backendId: string, v: VolumeSummary, marker: VolumeMarker | undefined): ArrayVolume {
  return {
    id: formatId(backendId, v.name),
    name: v.name,
    sizeMiB: v.sizeMiB ?? 0,
    ...(v.wwn && { wwn: v.wwn }),
    singleNode: v.policies?.oneHost === true,
    ...(marker?.p !== undefined && { protocol: marker.p }),
  };
}

/** The snapshot `snap` with its marker; `sourceName` overrides its `copyOf` (a tombstone's original name). */
export function toArraySnapshot(
  backendId: string,
  snap: VolumeSummary,
  marker: VolumeMarker | undefined,
  sourceName = snap.copyOf,
): ArraySnapshot {
  const seconds = snap.creationTimeSec ?? Math.floor(Date.parse(snap.creationTime8601 ?? '') / 1000);
  return {
    id: formatId(backendId, snap.name),
    name: snap.name,
    sourceId: sourceName ? formatId(backendId, sourceName) : '',
    sizeMiB: snap.sizeMiB ?? 0,
    ...(Number.isFinite(seconds) && { createdAt: seconds }),
    ...(marker?.g && { groupId: formatId(backendId, marker.g) }),
  };
}
