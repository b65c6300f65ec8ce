import { hash } from 'node:crypto';
import { invalidArgument } from '../errors.js';
import type { Owner } from './ops.js';

/**
 * Ownership markers (DESIGN "Names and ownership", "Hosts and publish"). A volume's `comment`
 * (print511) carries a compact, versioned JSON object naming the driver and cluster that own it;
 * a host's `descriptors.comment` (print255) carries `{"v":1,"o":…,"n":…}`. Objects without this
 * cluster's marker are never changed or deleted.
 */

/** Current marker version; readers accept exactly the versions they know. */
export const MARKER_VERSION = 1;
/** The array's limit for a volume comment (print511). */
export const VOLUME_COMMENT_MAX = 511;
/** Host marker budget: 37 characters of JSON around a node_id of at most 192 bytes. */
export const HOST_MARKER_MAX = 229;

/** What a volume or snapshot marker records. Short keys keep it inside 511 characters. */
export interface VolumeMarker {
  /** Version. */
  v: number;
  /** CSI driver name. */
  d: string;
  /** Cluster id (`--cluster-id`). */
  c: string;
  /** The CSI name of the request that created it (truncated only if nothing else fits). */
  n?: string;
  /** Request identity: a short hash of the request's parameters, content source and capabilities. */
  r?: string;
  /** 1 when created empty (no content source): only then may the node format it. */
  e?: 1;
  /** 1 when imported from a static PV. */
  im?: 1;
  /** 1 on a single-node volume (policies.oneHost). */
  one?: 1;
  /** QoS VV set the volume joined (left again before delete). */
  q?: string;
  /** PVC as namespace/name, PV name (or VolumeSnapshot namespace/name, content name). */
  pvc?: string;
  pv?: string;
  /** Group snapshot: group array name, this member's index, member count. */
  g?: string;
  i?: number;
  k?: number;
  /**
   * 1 while the volume's exports were made by a read-only ControllerPublish. A 3PAR VLUN cannot be
   * read-only, so this is where the flag lives: a publish with the other flag while any export
   * exists is ALREADY_EXISTS (CSI "published but incompatible … readonly flag").
   */
  ro?: 1;
  /** Access protocol of the StorageClass (iscsi, fc, loop): a publish without volume_context uses it. */
  p?: string;
  /** 1 on a copy made through a temporary read-write snapshot of a read-only one (removed with it at the latest). */
  s?: 1;
  /** 1 on a soft-deleted volume (renamed to a tombstone). */
  t?: 1;
  /**
   * Read only: the first form of the helper mark (HelperMarker), `{v,d,c,h}`, which a driver before
   * it reads as a CSI snapshot. A marker with `h` is never a CSI snapshot or volume (ownMarker
   * ignores it; ownHelperMarker reads it).
   */
  h?: string;
  /** Admin-supplied description (bounded). */
  desc?: string;
}

/** What a marker records besides its owner: the object's origin (each key as in VolumeMarker). */
export type MarkerOrigin = Omit<VolumeMarker, 'v' | 'd' | 'c'>;

/**
 * The one builder of volume and snapshot markers: this cluster as the owner, MARKER_VERSION, and
 * the object's origin (its keys keep their order, so the comment text is stable).
 */
export function ownerMarker(owner: Owner, origin: MarkerOrigin): VolumeMarker {
  return { v: MARKER_VERSION, d: owner.driverName, c: owner.clusterId, ...origin };
}

/** Where a volume or snapshot comes from in Kubernetes, as its marker records it (bounded text). */
export interface ObjectLabels {
  /** `namespace/name` of the PVC, VolumeSnapshot or VolumeGroupSnapshot. */
  claim?: string;
  /** The PV's, or the snapshot content's, name. */
  content?: string;
  /** The class's description. */
  description?: string;
}

/** The marker keys of `labels` (only those set). */
export function labelOrigin(labels: ObjectLabels): Pick<VolumeMarker, 'pvc' | 'pv' | 'desc'> {
  return {
    ...(labels.claim !== undefined && { pvc: labels.claim }),
    ...(labels.content !== undefined && { pv: labels.content }),
    ...(labels.description !== undefined && { desc: labels.description }),
  };
}

/**
 * JSON in printable ASCII only: WSAPI comments are `print511`/`print255` (the array refuses other
 * characters with 400/69), while CSI names may hold any Unicode. JSON.parse reads the escapes back.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Serialises a marker, shortening optional text (description, then PVC/PV, then name) to fit 511. */
export function formatVolumeMarker(marker: VolumeMarker): string {
  const m: VolumeMarker = { ...marker };
  let text = asciiJson(m);
  const shrinkable: (keyof VolumeMarker)[] = ['desc', 'pvc', 'pv', 'n'];
  for (const key of shrinkable) {
    if (text.length <= VOLUME_COMMENT_MAX) break;
    const value = m[key];
    if (typeof value !== 'string') continue;
    const keep = Math.max(0, value.length - (text.length - VOLUME_COMMENT_MAX));
    // JSON.stringify drops undefined members.
    (m as unknown as Record<string, string | undefined>)[key] = keep === 0 ? undefined : value.slice(0, keep);
    text = asciiJson(m);
  }
  if (text.length > VOLUME_COMMENT_MAX)
    throw invalidArgument(
      `the ownership marker would be ${text.length} characters, over the array's ${VOLUME_COMMENT_MAX}; shorten the driver name or cluster id`,
    );
  return text;
}

/** Reads a marker from a comment; undefined when the comment is absent or not a marker. */
export function parseVolumeMarker(comment: string | undefined): VolumeMarker | undefined {
  if (!comment || !comment.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(comment);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const o = parsed as Record<string, unknown>;
  if (o['v'] !== MARKER_VERSION || typeof o['d'] !== 'string' || typeof o['c'] !== 'string') return undefined;
  return o as unknown as VolumeMarker;
}

/** True when the marker belongs to this driver and cluster. */
export function ownedBy(
  marker: VolumeMarker | undefined,
  driverName: string,
  clusterId: string,
): marker is VolumeMarker {
  return marker !== undefined && marker.d === driverName && marker.c === clusterId;
}

/**
 * The mark on the array's helper snapshots of an online copy the driver stopped, written before
 * the copy's destination is deleted, so that a later call (after a restart cut the cleanup short)
 * can prove the helpers are this cluster's leftovers and delete them: `{"v":1,"hd":driver,
 * "hc":cluster,"h":destination}`. Not a VolumeMarker on purpose: drivers before it read any
 * `{v:1,d,c}` of theirs as a CSI object (a listed, deletable snapshot; an own snapshot that
 * soft-deletes its source), and they must keep seeing the helpers as not theirs.
 */
export interface HelperMarker {
  v: number;
  /** CSI driver name. */
  hd: string;
  /** Cluster id. */
  hc: string;
  /** The array name of the destination whose copy the helpers served. */
  h: string;
}

/** The helper mark for this cluster and the copy into `dest` (at most 31 + 70 + names: within 511). */
export function formatHelperMarker(owner: Owner, dest: string): string {
  const text = asciiJson({ v: MARKER_VERSION, hd: owner.driverName, hc: owner.clusterId, h: dest });
  if (text.length > VOLUME_COMMENT_MAX)
    throw invalidArgument(`the helper mark would be ${text.length} characters, over the array's ${VOLUME_COMMENT_MAX}`);
  return text;
}

/**
 * The helper mark in a comment when it is `owner`'s: the current form (HelperMarker), or the
 * first one (a VolumeMarker of this cluster with `h`), still read. Undefined otherwise.
 */
export function ownHelperMark(comment: string | undefined, owner: Owner): string | undefined {
  if (!comment || !comment.startsWith('{')) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(comment) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || o['v'] !== MARKER_VERSION || typeof o['h'] !== 'string') return undefined;
  const current = o['hd'] === owner.driverName && o['hc'] === owner.clusterId;
  const first = o['d'] === owner.driverName && o['c'] === owner.clusterId;
  return current || first ? o['h'] : undefined;
}

/** A short hash of the values that make two requests "the same" (order-independent for objects). */
export function requestIdentity(value: unknown): string {
  return hash('sha256', canonicalJson(value), 'hex').slice(0, 12);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The host marker's owner tag: the first 16 hex digits of sha256(driverName/clusterId). */
export function hostOwnerTag(driverName: string, clusterId: string): string {
  return hash('sha256', `${driverName}/${clusterId}`, 'hex').slice(0, 16);
}

export interface HostMarker {
  v: number;
  /** Owner tag (hostOwnerTag). */
  o: string;
  /** The node_id the host was created for. */
  n: string;
}

/** The host marker for a node; INVALID_ARGUMENT when it would not fit in 229 characters. */
export function formatHostMarker(owner: string, nodeId: string): string {
  const text = JSON.stringify({ v: MARKER_VERSION, o: owner, n: nodeId });
  if (text.length > HOST_MARKER_MAX)
    throw invalidArgument(`node_id is too long for the host marker (${text.length} > ${HOST_MARKER_MAX} characters)`);
  return text;
}

export function parseHostMarker(comment: string | undefined): HostMarker | undefined {
  if (!comment || !comment.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(comment) as Record<string, unknown>;
    if (o['v'] === MARKER_VERSION && typeof o['o'] === 'string' && typeof o['n'] === 'string')
      return { v: MARKER_VERSION, o: o['o'], n: o['n'] };
  } catch {
    // not a marker
  }
  return undefined;
}
