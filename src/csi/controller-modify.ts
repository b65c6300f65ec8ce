import { invalidArgument } from '../errors.js';
import type { VolumeChange } from '../array/storage-array.js';
import { parseMutableParameters, type MutableParameters, type StorageClassParameters } from './params.js';
import { requireId, type ControllerDeps } from './controller-deps.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<ControllerImpl, 'ControllerModifyVolume'>;

/**
 * A VolumeAttributesClass's values override the StorageClass's at CreateVolume (the CO passes
 * them as `mutable_parameters`); "" for qosName means no VV set.
 */
export function applyMutableParameters(params: StorageClassParameters, m: MutableParameters): void {
  if (m.provisioningType !== undefined) params.provisioningType = m.provisioningType;
  if (m.cpg !== undefined) params.cpg = m.cpg;
  if (m.snapCpg !== undefined) params.snapCpg = m.snapCpg;
  if (m.compression !== undefined) params.compression = m.compression;
  if (m.qosName === '') delete params.qosName;
  else if (m.qosName !== undefined) params.qosName = m.qosName;
  if (m.description !== undefined) params.description = m.description;
  if (params.compression && params.provisioningType === 'full')
    throw invalidArgument('parameter "compression" needs a thin provisioningType (tpvv, dedup or reduce)');
}

export function modifyHandlers(deps: ControllerDeps): Handlers {
  return {
    async ControllerModifyVolume(req, ctx) {
      if (req.volume_id === '') throw invalidArgument('volume_id is required');
      const change: VolumeChange = parseMutableParameters(req.mutable_parameters);
      const { array, name } = requireId(deps, req.volume_id, 'volume');
      await deps.inflight.run([`volume:${req.volume_id}`], () => array.modify(name, change, ctx));
      return {};
    },
  };
}
