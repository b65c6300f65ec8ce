import { invalidArgument, outOfRange } from '../errors.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';
import type { CapacityRange__Output } from '../gen/csi/v1/CapacityRange.js';
import type { CreateVolumeRequest__Output } from '../gen/csi/v1/CreateVolumeRequest.js';
import type { DeleteVolumeRequest__Output } from '../gen/csi/v1/DeleteVolumeRequest.js';
import type { ControllerPublishVolumeRequest__Output } from '../gen/csi/v1/ControllerPublishVolumeRequest.js';
import type { ControllerUnpublishVolumeRequest__Output } from '../gen/csi/v1/ControllerUnpublishVolumeRequest.js';
import type { ValidateVolumeCapabilitiesRequest__Output } from '../gen/csi/v1/ValidateVolumeCapabilitiesRequest.js';
import type { CreateSnapshotRequest__Output } from '../gen/csi/v1/CreateSnapshotRequest.js';
import type { DeleteSnapshotRequest__Output } from '../gen/csi/v1/DeleteSnapshotRequest.js';
import type { ControllerExpandVolumeRequest__Output } from '../gen/csi/v1/ControllerExpandVolumeRequest.js';
import type { ControllerGetVolumeRequest__Output } from '../gen/csi/v1/ControllerGetVolumeRequest.js';
import type { GetSnapshotRequest__Output } from '../gen/csi/v1/GetSnapshotRequest.js';
import type { ListVolumesRequest__Output } from '../gen/csi/v1/ListVolumesRequest.js';
import type { ListSnapshotsRequest__Output } from '../gen/csi/v1/ListSnapshotsRequest.js';

/**
 * Request validation for the Controller service (validate*Request, as aws-ebs-csi-driver does)
 * plus the pure rules they rest on: capacity ranges and access modes.
 */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** Size of a volume created without required_bytes. */
export const DEFAULT_VOLUME_BYTES = GiB;
/** mkfs.xfs refuses devices below 300 MB; 512 MiB leaves room for the log. */
export const XFS_MIN_BYTES = 512 * MiB;
/** The array rounds a new volume up to a multiple of 256 MiB (REFERENCE §5.5). */
export const CREATE_GRANULARITY_MIB = 256;
/** Largest volume on 3PAR OS 3.1.x-3.2.x: 16 TiB (REFERENCE §14.2). */
export const MAX_VOLUME_MIB = 16 * 1024 * 1024;
/** Longest CSI name accepted (the spec recommends supporting 128 bytes). */
export const CSI_NAME_MAX_BYTES = 128;
/** Filesystems the node plugin can create; "" means the CO's default. */
export const SUPPORTED_FS_TYPES = ['', 'ext4', 'xfs', 'ext3'] as const;

type Mode = NonNullable<VolumeCapability__Output['access_mode']>['mode'];

/** Modes that confine a volume to one node; such volumes get `policies.oneHost`. */
export const SINGLE_NODE_MODES: readonly Mode[] = [
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
];
/** Modes in which several nodes write: only raw block (no cluster filesystem on the node). */
export const MULTI_WRITER_MODES: readonly Mode[] = ['MULTI_NODE_MULTI_WRITER', 'MULTI_NODE_SINGLE_WRITER'];

/** Why a capability is unsupported, or undefined when it is fine. */
export function capabilityProblem(cap: VolumeCapability__Output): string | undefined {
  const mode = cap.access_mode?.mode;
  if (mode === undefined || mode === 'UNKNOWN') return 'an access mode is required';
  if (!cap.block && !cap.mount) return 'an access type (block or mount) is required';
  if (cap.mount) {
    if (!(SUPPORTED_FS_TYPES as readonly string[]).includes(cap.mount.fs_type))
      return `filesystem "${cap.mount.fs_type}" is not supported (ext4, xfs, ext3)`;
    if (MULTI_WRITER_MODES.includes(mode)) return `${mode} is supported only for raw block volumes`;
  }
  return undefined;
}

/** INVALID_ARGUMENT for a missing or unsupported capability list. */
export function checkCapabilities(caps: readonly VolumeCapability__Output[], field = 'volume_capabilities'): void {
  if (caps.length === 0) throw invalidArgument(`${field} is required`);
  for (const cap of caps) {
    const problem = capabilityProblem(cap);
    if (problem) throw invalidArgument(`${field}: ${problem}`);
  }
}

/** True when every capability confines the volume to one node. */
export function isSingleNode(caps: readonly VolumeCapability__Output[]): boolean {
  return caps.length > 0 && caps.every((c) => c.access_mode !== null && SINGLE_NODE_MODES.includes(c.access_mode.mode));
}

/** The filesystem the capabilities ask for ("" for block or the default). */
export function fsTypeOf(caps: readonly VolumeCapability__Output[]): string {
  return caps.find((c) => c.mount)?.mount?.fs_type ?? '';
}

function bytes(value: string, field: string): bigint {
  if (!/^-?\d+$/.test(value || '0')) throw invalidArgument(`${field} is not an integer`);
  const n = BigInt(value || '0');
  if (n < 0n) throw invalidArgument(`${field} must not be negative`);
  return n;
}

/**
 * The size to create, in MiB: required_bytes (default 1 GiB, xfs at least 512 MiB) rounded up
 * to the array's granularity, never above limit_bytes (OUT_OF_RANGE when rounding would pass it).
 */
export function volumeSizeMiB(
  range: CapacityRange__Output | null,
  fsType: string,
  granularityMiB = CREATE_GRANULARITY_MIB,
): number {
  const required = bytes(range?.required_bytes ?? '0', 'capacity_range.required_bytes');
  const limit = bytes(range?.limit_bytes ?? '0', 'capacity_range.limit_bytes');
  if (limit > 0n && required > limit) throw outOfRange(`required_bytes ${required} is above limit_bytes ${limit}`);
  const floor = BigInt(fsType === 'xfs' ? XFS_MIN_BYTES : 0);
  let want = required > 0n ? required : BigInt(DEFAULT_VOLUME_BYTES);
  if (want < floor) want = floor;
  const unit = BigInt(granularityMiB * MiB);
  let size = ((want + unit - 1n) / unit) * unit;
  if (limit > 0n && size > limit) {
    // Without a requirement, the largest size under the limit is as good as the default.
    const under = (limit / unit) * unit;
    if (required === 0n && under >= floor && under > 0n) size = under;
    else
      throw outOfRange(
        `the smallest size the array can create for this request (${size / BigInt(MiB)} MiB) is above limit_bytes ${limit}`,
      );
  }
  const mib = Number(size / BigInt(MiB));
  if (mib > MAX_VOLUME_MIB) throw outOfRange(`${mib} MiB is above the array's largest volume (${MAX_VOLUME_MIB} MiB)`);
  return mib;
}

/** The MiB a grow must reach: required_bytes rounded up to whole MiB (OUT_OF_RANGE above limit). */
export function expandSizeMiB(range: CapacityRange__Output | null): number {
  const required = bytes(range?.required_bytes ?? '0', 'capacity_range.required_bytes');
  const limit = bytes(range?.limit_bytes ?? '0', 'capacity_range.limit_bytes');
  if (required === 0n) throw invalidArgument('capacity_range.required_bytes is required');
  if (limit > 0n && required > limit) throw outOfRange(`required_bytes ${required} is above limit_bytes ${limit}`);
  const mib = Number((required + BigInt(MiB) - 1n) / BigInt(MiB));
  if (mib > MAX_VOLUME_MIB) throw outOfRange(`${mib} MiB is above the array's largest volume (${MAX_VOLUME_MIB} MiB)`);
  return mib;
}

/** True when `sizeMiB` satisfies the range (for a repeated CreateVolume). */
export function sizeFits(sizeMiB: number, range: CapacityRange__Output | null): boolean {
  const size = BigInt(sizeMiB) * BigInt(MiB);
  const required = BigInt(range?.required_bytes || '0');
  const limit = BigInt(range?.limit_bytes || '0');
  return size >= required && (limit === 0n || size <= limit);
}

function need(value: string, field: string): void {
  if (value === '') throw invalidArgument(`${field} is required`);
}

export function validateCreateVolumeRequest(req: CreateVolumeRequest__Output): void {
  need(req.name, 'name');
  if (Buffer.byteLength(req.name) > CSI_NAME_MAX_BYTES)
    throw invalidArgument(`name is longer than ${CSI_NAME_MAX_BYTES} bytes`);
  checkCapabilities(req.volume_capabilities);
  const src = req.volume_content_source;
  if (src) {
    if (src.type === 'snapshot') need(src.snapshot?.snapshot_id ?? '', 'volume_content_source.snapshot.snapshot_id');
    else if (src.type === 'volume') need(src.volume?.volume_id ?? '', 'volume_content_source.volume.volume_id');
    else throw invalidArgument('volume_content_source names neither a snapshot nor a volume');
  }
}

export function validateDeleteVolumeRequest(req: DeleteVolumeRequest__Output): void {
  need(req.volume_id, 'volume_id');
}

export function validateControllerPublishVolumeRequest(req: ControllerPublishVolumeRequest__Output): void {
  need(req.volume_id, 'volume_id');
  need(req.node_id, 'node_id');
  if (!req.volume_capability) throw invalidArgument('volume_capability is required');
  checkCapabilities([req.volume_capability], 'volume_capability');
}

export function validateControllerUnpublishVolumeRequest(req: ControllerUnpublishVolumeRequest__Output): void {
  need(req.volume_id, 'volume_id');
}

export function validateValidateVolumeCapabilitiesRequest(req: ValidateVolumeCapabilitiesRequest__Output): void {
  need(req.volume_id, 'volume_id');
  if (req.volume_capabilities.length === 0) throw invalidArgument('volume_capabilities is required');
}

export function validateCreateSnapshotRequest(req: CreateSnapshotRequest__Output): void {
  need(req.source_volume_id, 'source_volume_id');
  need(req.name, 'name');
  if (Buffer.byteLength(req.name) > CSI_NAME_MAX_BYTES)
    throw invalidArgument(`name is longer than ${CSI_NAME_MAX_BYTES} bytes`);
}

export function validateDeleteSnapshotRequest(req: DeleteSnapshotRequest__Output): void {
  need(req.snapshot_id, 'snapshot_id');
}

export function validateControllerExpandVolumeRequest(req: ControllerExpandVolumeRequest__Output): void {
  need(req.volume_id, 'volume_id');
  if (!req.capacity_range) throw invalidArgument('capacity_range is required');
  if (req.volume_capability) checkCapabilities([req.volume_capability], 'volume_capability');
}

export function validateControllerGetVolumeRequest(req: ControllerGetVolumeRequest__Output): void {
  need(req.volume_id, 'volume_id');
}

export function validateGetSnapshotRequest(req: GetSnapshotRequest__Output): void {
  need(req.snapshot_id, 'snapshot_id');
}

export function validateListVolumesRequest(req: ListVolumesRequest__Output): void {
  if (req.max_entries < 0) throw invalidArgument('max_entries must not be negative');
}

export function validateListSnapshotsRequest(req: ListSnapshotsRequest__Output): void {
  if (req.max_entries < 0) throw invalidArgument('max_entries must not be negative');
}
