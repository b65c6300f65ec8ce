import type { VolumeSpec } from '../array/storage-array.js';
import type { CreateVolumeRequest__Output } from '../gen/csi/v1/CreateVolumeRequest.js';
import { MiB, fsTypeOf, isSingleNode, volumeSizeMiB } from './controller-validate.js';
import { applyMutableParameters } from './controller-modify.js';
import { parseMutableParameters, storageClassIdentity, type StorageClassParameters } from './params.js';

/**
 * The plan of a CreateVolume, from the request and its StorageClass's parsed parameters alone
 * (no array, no backend): the size (rounded up, xfs's floor), the content source, the access
 * mode, the VolumeAttributesClass's overrides, and what the marker records. The handler picks
 * the array; `StorageArray.createVolume(spec)` carries it out.
 */
export function planCreateVolume(
  req: CreateVolumeRequest__Output,
  parameters: Readonly<StorageClassParameters>,
): VolumeSpec {
  const p: StorageClassParameters = { ...parameters };
  applyMutableParameters(p, parseMutableParameters(req.mutable_parameters));
  const src = req.volume_content_source;
  const source =
    src?.type === 'snapshot'
      ? { kind: 'snapshot' as const, id: src.snapshot!.snapshot_id }
      : src?.type === 'volume'
        ? { kind: 'volume' as const, id: src.volume!.volume_id }
        : undefined;
  const limit = BigInt(req.capacity_range?.limit_bytes || '0');
  const labels = {
    ...(p.pvcName && { claim: `${p.pvcNamespace ?? ''}/${p.pvcName}` }),
    ...(p.pvName && { content: p.pvName }),
    ...(p.description && { description: p.description }),
  };
  return {
    name: req.name,
    sizeMiB: volumeSizeMiB(req.capacity_range, fsTypeOf(req.volume_capabilities)),
    ...(limit > 0n && { maxMiB: Number(limit / BigInt(MiB)) }),
    singleNode: isSingleNode(req.volume_capabilities),
    ...(source && { source }),
    ...(p.backend !== undefined && { backend: p.backend }),
    ...(p.cpg !== undefined && { cpg: p.cpg }),
    ...(p.snapCpg !== undefined && { snapCpg: p.snapCpg }),
    provisioning: p.provisioningType,
    compression: p.compression,
    ...(p.accessProtocol !== undefined && { protocol: p.accessProtocol }),
    ...(p.qosName !== undefined && { qosName: p.qosName }),
    labels,
    requestKey: storageClassIdentity(p),
  };
}
