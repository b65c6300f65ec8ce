import { alreadyExists, invalidArgument, notFound, outOfRange } from '../errors.js';
import { ensureCopy } from '../array/copies.js';
import { formatVolumeMarker, requestIdentity, type VolumeMarker } from '../array/marker.js';
import { arrayNameFor, formatId } from '../array/names.js';
import { conditionOfVolume, isSnapshot, ownMarker, requireOwnedSource } from '../array/ops.js';
import { deleteVolume, ensureVolume, expandVolume, getVolume } from '../array/volumes.js';
import { exportsOf } from '../array/exports.js';
import { hostNodeIds, publishedNodeIds } from '../array/listing.js';
import type { Backend } from '../array/backend.js';
import type { CreateVolumeBody } from '../array/client.js';
import { mountFsTypes, parseMutableParameters, parseStorageClassParameters, storageClassIdentity, type StorageClassParameters } from './params.js';
import { applyMutableParameters } from './controller-modify.js';
import { VolumeContext } from './context.js';
import { ControllerVolumeContext, accessibleTopology, chooseBackend, lookupId, opContext, requireId, type ControllerDeps } from './controller-deps.js';
import { MiB, capabilityProblem, expandSizeMiB, fsTypeOf, isSingleNode, sizeFits, validateControllerExpandVolumeRequest, validateControllerGetVolumeRequest, validateCreateVolumeRequest, validateDeleteVolumeRequest, validateValidateVolumeCapabilitiesRequest, volumeSizeMiB } from './controller-validate.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<ControllerImpl, 'CreateVolume' | 'DeleteVolume' | 'ControllerExpandVolume' | 'ControllerGetVolume' | 'ValidateVolumeCapabilities'>;

/** The volume_context the node (and ControllerPublish) reads back from the PV. */
function volumeContext(p: StorageClassParameters, backend: Backend, createdEmpty: boolean): Record<string, string> {
  const out: Record<string, string> = { [VolumeContext.protocol]: p.accessProtocol, [VolumeContext.backend]: backend.id };
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

/** Volume fields of the create request that only the array's firmware decides. */
function provisioning(p: StorageClassParameters, backend: Backend): Pick<CreateVolumeBody, 'tpvv' | 'tdvv' | 'reduce' | 'compression'> {
  const f = backend.features;
  if (p.provisioningType === 'dedup' && !f.tdvv) throw invalidArgument(`parameter "provisioningType": dedup needs 3PAR OS 3.2.1 MU1 (build 30201120) or later; backend ${backend.id} runs an older release`);
  if (p.provisioningType === 'reduce' && !f.reduce) throw invalidArgument(`parameter "provisioningType": reduce needs WSAPI 1.6 or later; backend ${backend.id} has an older release`);
  if (p.compression && !f.compression) throw invalidArgument(`parameter "compression": needs 3PAR OS 3.3.1 (build 30301215) or later; backend ${backend.id} runs an older release`);
  const out: Pick<CreateVolumeBody, 'tpvv' | 'tdvv' | 'reduce' | 'compression'> = {};
  if (p.provisioningType === 'tpvv') out.tpvv = true;
  if (p.provisioningType === 'dedup') out.tdvv = true;
  if (p.provisioningType === 'reduce') out.reduce = true;
  if (p.compression) out.compression = true;
  return out;
}

export function volumeHandlers(deps: ControllerDeps): Handlers {
  return {
    async CreateVolume(req, ctx) {
      validateCreateVolumeRequest(req);
      const params = parseStorageClassParameters(req.parameters, mountFsTypes(req.volume_capabilities));
      applyMutableParameters(params, parseMutableParameters(req.mutable_parameters));
      const src = req.volume_content_source;
      const srcId = src?.type === 'snapshot' ? src.snapshot!.snapshot_id : src?.type === 'volume' ? src.volume!.volume_id : undefined;
      const source = srcId === undefined ? undefined : requireId(deps, srcId, src?.type === 'snapshot' ? 'snapshot' : 'source volume');
      const backend = chooseBackend(deps, params.backend, source?.backend.id, req.accessibility_requirements);
      // A class that names no protocol gets the backend's default (loop on the embedded simulator).
      const protocolGiven = Object.keys(req.parameters ?? {}).some((k) => /^access_?protocol$/i.test(k));
      if (!protocolGiven && backend.config.defaultAccessProtocol) params.accessProtocol = backend.config.defaultAccessProtocol;
      const sizeMiB = volumeSizeMiB(req.capacity_range, fsTypeOf(req.volume_capabilities));
      const singleNode = isSingleNode(req.volume_capabilities);
      const name = arrayNameFor('volume', deps.owner.clusterId, req.name);
      const identity = requestIdentity({ p: storageClassIdentity(params), b: backend.id, s: srcId ?? '', one: singleNode });
      const marker: VolumeMarker = { v: 1, d: deps.driverName, c: deps.owner.clusterId, n: req.name, r: identity, p: params.accessProtocol };
      if (!source) marker.e = 1;
      if (singleNode) marker.one = 1;
      if (params.qosName) marker.q = params.qosName;
      if (params.pvcName) marker.pvc = `${params.pvcNamespace ?? ''}/${params.pvcName}`;
      if (params.pvName) marker.pv = params.pvName;
      if (params.description) marker.desc = params.description;
      const comment = formatVolumeMarker(marker);
      const op = opContext(deps, ctx);
      const finalMiB = await deps.inflight.run([`volume:${backend.id}/${name}`], () =>
        backend.run(`creating volume ${name}`, async (c) => {
          await backend.ensureDescribed();
          const cpg = params.cpg ?? (await backend.defaultCpg(ctx.signal));
          const common = { snapCPG: params.snapCpg ?? cpg, ...provisioning(params, backend) };
          if (!source) {
            const policies = singleNode ? { oneHost: true } : undefined;
            const v = await ensureVolume(c, { body: { name, cpg, sizeMiB, comment, ...common, ...(policies && { policies }) }, identity, ...(params.qosName && { qosName: params.qosName }) }, op);
            backend.owned.set(name, { ...(v.wwn && { wwn: v.wwn }), protocol: params.accessProtocol });
            return v.sizeMiB ?? sizeMiB;
          }
          const sv = await getVolume(c, source.id.arrayName, ctx.signal);
          if ((src?.type === 'snapshot') !== isSnapshot(sv)) throw notFound(`${src?.type} ${srcId} does not exist`);
          // Only this cluster's (or imported) sources, and never a failed one (issue 14 finding 6).
          requireOwnedSource(sv, deps.owner);
          // A copy is at least as large as its source; a larger request grows it after the copy.
          const copyMiB = Math.max(sizeMiB, sv.sizeMiB ?? 0);
          if (!sizeFits(copyMiB, { required_bytes: '0', limit_bytes: req.capacity_range?.limit_bytes ?? '0' })) throw outOfRange(`the source is ${sv.sizeMiB} MiB, above limit_bytes`);
          const size = await ensureCopy(backend, c, { name, source: sv.name, sizeMiB: copyMiB, params: { destCPG: cpg, ...common }, comment, identity, oneHost: singleNode }, sv, op, deps.copyPollIntervalMs);
          backend.owned.set(name, { protocol: params.accessProtocol, copying: true });
          return size;
        }),
      );
      if (!sizeFits(finalMiB, req.capacity_range)) throw alreadyExists(`volume ${req.name} exists with ${finalMiB} MiB, outside the requested range`);
      return {
        volume: {
          volume_id: formatId(backend.id, name),
          capacity_bytes: String(BigInt(finalMiB) * BigInt(MiB)),
          volume_context: volumeContext(params, backend, !source),
          content_source: src ?? null,
          accessible_topology: accessibleTopology(deps, backend),
        },
      };
    },

    async DeleteVolume(req, ctx) {
      validateDeleteVolumeRequest(req);
      const found = lookupId(deps, req.volume_id);
      // DeleteVolume of an id that names nothing this driver knows succeeds.
      if (!found) return {};
      const { backend, id } = found;
      await deps.inflight.run([`volume:${req.volume_id}`], () =>
        deps.volumeLocks.run(req.volume_id, () => backend.run(`deleting volume ${id.arrayName}`, (c) => deleteVolume(backend, c, id.arrayName, opContext(deps, ctx)))),
      );
      backend.owned.delete(id.arrayName);
      return {};
    },

    async ControllerExpandVolume(req, ctx) {
      validateControllerExpandVolumeRequest(req);
      const { backend, id } = requireId(deps, req.volume_id, 'volume');
      const want = expandSizeMiB(req.capacity_range);
      const size = await deps.inflight.run([`volume:${req.volume_id}`], () => backend.run(`expanding volume ${id.arrayName}`, (c) => expandVolume(c, id.arrayName, want, opContext(deps, ctx))));
      // The node must rescan the LUN's paths for block volumes too, and grow the filesystem for mounts.
      return { capacity_bytes: String(BigInt(size) * BigInt(MiB)), node_expansion_required: true };
    },

    async ControllerGetVolume(req, ctx) {
      validateControllerGetVolumeRequest(req);
      const { backend, id } = requireId(deps, req.volume_id, 'volume');
      return backend.run(`reading volume ${id.arrayName}`, async (c) => {
        const v = await getVolume(c, id.arrayName, ctx.signal);
        if (isSnapshot(v) || !ownMarker(v, deps.owner)) throw notFound(`volume ${req.volume_id} does not exist`);
        const vluns = await c.listVluns(ctx.signal);
        const nodes = exportsOf(vluns, v.name).length > 0 ? publishedNodeIds(v.name, vluns, await hostNodeIds(backend, deps.owner, ctx.signal)) : [];
        return {
          volume: { volume_id: req.volume_id, capacity_bytes: String(BigInt(v.sizeMiB ?? 0) * BigInt(MiB)), volume_context: {}, content_source: null, accessible_topology: accessibleTopology(deps, backend) },
          status: { published_node_ids: nodes, volume_condition: conditionOfVolume(v) },
        };
      });
    },

    async ValidateVolumeCapabilities(req, ctx) {
      validateValidateVolumeCapabilitiesRequest(req);
      const { backend, id } = requireId(deps, req.volume_id, 'volume');
      const v = await backend.run(`reading volume ${id.arrayName}`, (c) => getVolume(c, id.arrayName, ctx.signal));
      if (isSnapshot(v) || !ownMarker(v, deps.owner)) throw notFound(`volume ${req.volume_id} does not exist`);
      const problem = req.volume_capabilities.map(capabilityProblem).find((p) => p !== undefined);
      if (problem) return { confirmed: null, message: problem };
      if (v.policies?.oneHost && !isSingleNode(req.volume_capabilities)) return { confirmed: null, message: 'the volume is single-node (policies.oneHost); multi-node access modes are not supported for it' };
      try {
        parseStorageClassParameters(req.parameters, mountFsTypes(req.volume_capabilities));
        parseMutableParameters(req.mutable_parameters);
      } catch (err) {
        return { confirmed: null, message: (err as Error).message };
      }
      return { confirmed: { volume_context: req.volume_context, volume_capabilities: req.volume_capabilities, parameters: req.parameters, mutable_parameters: req.mutable_parameters }, message: '' };
    },
  };
}
