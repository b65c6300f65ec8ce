import { alreadyExists } from '../errors.js';
import type { ArrayVolume, StorageArray } from '../array/storage-array.js';
import {
  mountFsTypes,
  parseMutableParameters,
  parseStorageClassParameters,
  type StorageClassParameters,
} from './params.js';
import { planCreateVolume } from './create-plan.js';
import { VolumeContext } from './context.js';
import {
  ControllerVolumeContext,
  accessibleTopology,
  chooseArray,
  lookupId,
  requireId,
  type ControllerDeps,
} from './controller-deps.js';
import {
  MiB,
  capabilityProblem,
  expandSizeMiB,
  isSingleNode,
  sizeFits,
  validateControllerExpandVolumeRequest,
  validateControllerGetVolumeRequest,
  validateCreateVolumeRequest,
  validateDeleteVolumeRequest,
  validateValidateVolumeCapabilitiesRequest,
} from './controller-validate.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<
  ControllerImpl,
  'CreateVolume' | 'DeleteVolume' | 'ControllerExpandVolume' | 'ControllerGetVolume' | 'ValidateVolumeCapabilities'
>;

/** The volume_context the node (and ControllerPublish) reads back from the PV. */
function volumeContext(
  p: StorageClassParameters,
  array: StorageArray,
  volume: ArrayVolume,
  createdEmpty: boolean,
): Record<string, string> {
  const out: Record<string, string> = {
    [VolumeContext.protocol]: volume.protocol ?? '',
    [VolumeContext.backend]: array.id,
  };
  if (createdEmpty) out[VolumeContext.createdEmpty] = 'true';
  else out[VolumeContext.isCopy] = 'true';
  if (p.fsCreateOptions) out[VolumeContext.fsCreateOptions] = p.fsCreateOptions;
  if (p.fsOwner) out[VolumeContext.fsOwner] = p.fsOwner;
  if (p.fsMode) out[VolumeContext.fsMode] = p.fsMode;
  if (p.iscsiPortalIps) out[ControllerVolumeContext.iscsiPortalIps] = p.iscsiPortalIps.join(',');
  if (p.fcPortsList) out[ControllerVolumeContext.fcPortsList] = p.fcPortsList.join(',');
  if (!p.hostSeesVLUN) out[ControllerVolumeContext.hostSeesVLUN] = 'false';
  return out;
}

const bytesOf = (mib: number): string => String(BigInt(mib) * BigInt(MiB));

/** CreateVolume: validate, plan (pure), pick the array, create (one at a time per name), answer. */
const createVolume =
  (deps: ControllerDeps): Handlers['CreateVolume'] =>
  async (req, ctx) => {
    validateCreateVolumeRequest(req);
    const params = parseStorageClassParameters(req.parameters, mountFsTypes(req.volume_capabilities));
    const spec = planCreateVolume(req, params);
    const source =
      spec.source && requireId(deps, spec.source.id, spec.source.kind === 'snapshot' ? 'snapshot' : 'source volume');
    const array = chooseArray(deps, spec.backend, source?.array.id, req.accessibility_requirements);
    const volume = await deps.inflight.run([`volume:${array.idFor('volume', req.name)}`], () =>
      array.createVolume(spec, ctx),
    );
    if (!sizeFits(volume.sizeMiB, req.capacity_range))
      throw alreadyExists(`volume ${req.name} exists with ${volume.sizeMiB} MiB, outside the requested range`);
    return {
      volume: {
        volume_id: volume.id,
        capacity_bytes: bytesOf(volume.sizeMiB),
        volume_context: volumeContext(params, array, volume, !spec.source),
        content_source: req.volume_content_source ?? null,
        accessible_topology: accessibleTopology(deps, array),
      },
    };
  };

const deleteVolume =
  (deps: ControllerDeps): Handlers['DeleteVolume'] =>
  async (req, ctx) => {
    validateDeleteVolumeRequest(req);
    const found = lookupId(deps, req.volume_id);
    // DeleteVolume of an id that names nothing this driver knows succeeds.
    if (!found) return {};
    await deps.inflight.run([`volume:${req.volume_id}`], () => found.array.deleteVolume(found.name, ctx));
    return {};
  };

const controllerExpandVolume =
  (deps: ControllerDeps): Handlers['ControllerExpandVolume'] =>
  async (req, ctx) => {
    validateControllerExpandVolumeRequest(req);
    const { array, name } = requireId(deps, req.volume_id, 'volume');
    const want = expandSizeMiB(req.capacity_range);
    const size = await deps.inflight.run([`volume:${req.volume_id}`], () => array.expand(name, want, ctx));
    // The node must rescan the LUN's paths for block volumes too, and grow the filesystem for mounts.
    return { capacity_bytes: bytesOf(size), node_expansion_required: true };
  };

const controllerGetVolume =
  (deps: ControllerDeps): Handlers['ControllerGetVolume'] =>
  async (req, ctx) => {
    validateControllerGetVolumeRequest(req);
    const { array, name } = requireId(deps, req.volume_id, 'volume');
    const v = await array.volumeStatus(name, ctx);
    return {
      volume: {
        volume_id: req.volume_id,
        capacity_bytes: bytesOf(v.sizeMiB),
        volume_context: {},
        content_source: null,
        accessible_topology: accessibleTopology(deps, array),
      },
      status: { published_node_ids: v.publishedNodeIds, volume_condition: v.condition },
    };
  };

const validateVolumeCapabilities =
  (deps: ControllerDeps): Handlers['ValidateVolumeCapabilities'] =>
  async (req, ctx) => {
    validateValidateVolumeCapabilitiesRequest(req);
    const { array, name } = requireId(deps, req.volume_id, 'volume');
    const v = await array.getVolume(name, ctx);
    const problem = req.volume_capabilities.map(capabilityProblem).find((p) => p !== undefined);
    if (problem) return { confirmed: null, message: problem };
    if (v.singleNode && !isSingleNode(req.volume_capabilities))
      return {
        confirmed: null,
        message: 'the volume is single-node (policies.oneHost); multi-node access modes are not supported for it',
      };
    try {
      parseStorageClassParameters(req.parameters, mountFsTypes(req.volume_capabilities));
      parseMutableParameters(req.mutable_parameters);
    } catch (err) {
      return { confirmed: null, message: (err as Error).message };
    }
    return {
      confirmed: {
        volume_context: req.volume_context,
        volume_capabilities: req.volume_capabilities,
        parameters: req.parameters,
        mutable_parameters: req.mutable_parameters,
      },
      message: '',
    };
  };

export function volumeHandlers(deps: ControllerDeps): Handlers {
  return {
    CreateVolume: createVolume(deps),
    DeleteVolume: deleteVolume(deps),
    ControllerExpandVolume: controllerExpandVolume(deps),
    ControllerGetVolume: controllerGetVolume(deps),
    ValidateVolumeCapabilities: validateVolumeCapabilities(deps),
  };
}
