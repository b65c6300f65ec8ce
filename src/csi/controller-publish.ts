import { alreadyExists, notFound } from '../errors.js';
import { exportVolume, selectTargets, unexportVolume } from '../array/exports.js';
import { ownMarker } from '../array/ops.js';
import { getVolume, publishableVolume, setReadOnlyExports } from '../array/volumes.js';
import type { NodeRef } from '../array/hosts.js';
import { decodeNodeId } from './nodeid.js';
import { PublishContext, VolumeContext } from './context.js';
import { ControllerVolumeContext, lookupId, opContext, requireId, type ControllerDeps } from './controller-deps.js';
import { SINGLE_NODE_MODES, validateControllerPublishVolumeRequest, validateControllerUnpublishVolumeRequest } from './controller-validate.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<ControllerImpl, 'ControllerPublishVolume' | 'ControllerUnpublishVolume'>;

function list(value: string | undefined): string[] | undefined {
  return value ? value.split(',').filter((s) => s !== '') : undefined;
}

export function publishHandlers(deps: ControllerDeps): Handlers {
  return {
    async ControllerPublishVolume(req, ctx) {
      validateControllerPublishVolumeRequest(req);
      const { backend, id } = requireId(deps, req.volume_id, 'volume');
      const node = decodeNodeId(req.node_id);
      const mode = req.volume_capability!.access_mode!.mode;
      const singleNode = SINGLE_NODE_MODES.includes(mode);
      const readonly = req.readonly || mode === 'MULTI_NODE_READER_ONLY' || mode === 'SINGLE_NODE_READER_ONLY';
      const ref: NodeRef = { nodeId: req.node_id, node };
      const op = opContext(deps, ctx);
      // volume_context is OPTIONAL (CSI): the protocol comes from it, else the volume's marker,
      // else the backend's defaultAccessProtocol.
      const given = req.volume_context[VolumeContext.protocol];
      const importSpec = req.volume_context[VolumeContext.import] === 'true' ? { oneHost: singleNode, ...(given !== undefined && { protocol: given }) } : undefined;
      const exported = await deps.inflight.run([`publish:${req.volume_id}:${node.hostName}`], () =>
        deps.volumeLocks.run(req.volume_id, () =>
          backend.run(`publishing ${id.arrayName} to ${node.hostName}`, async (c) => {
            const known = await publishableVolume(backend, c, id.arrayName, importSpec, op);
            const protocol = given ?? known.protocol ?? backend.config.defaultAccessProtocol ?? 'iscsi';
            // Without a volume_context, a loop node cannot be told from one that does not exist:
            // only the nodes known to share the simulator's data plane are reachable then.
            const loopReachable = given !== undefined || !deps.loopNodes || deps.loopNodes.includes(node.hostName);
            const hasInitiator = protocol === 'loop' ? loopReachable : protocol === 'fc' ? node.wwpns.length > 0 : node.iqns.length > 0;
            if (!hasInitiator) throw notFound(`node ${req.node_id} has no ${protocol} initiator; it cannot reach volume ${req.volume_id}`);
            const remembered = known;
            // CSI ControllerPublish: published with an incompatible readonly flag → ALREADY_EXISTS.
            // A VLUN cannot be read-only, so the flag of the volume's exports lives in its marker.
            const readonlyGuard = async (exported: boolean): Promise<void> => {
              if ((remembered.ro ?? false) === req.readonly) return;
              if (!exported) {
                await setReadOnlyExports(c, id.arrayName, req.readonly, deps.owner, ctx.signal);
                remembered.ro = req.readonly;
                return;
              }
              // The remembered flag may be stale (another driver process): the marker decides.
              remembered.ro = ownMarker(await getVolume(c, id.arrayName, ctx.signal), deps.owner)?.ro === 1;
              if (remembered.ro !== req.readonly) throw alreadyExists(`volume ${req.volume_id} is published ${remembered.ro ? 'read-only' : 'read-write'}; unpublish it everywhere before publishing it ${req.readonly ? 'read-only' : 'read-write'}`);
            };
            const ports = protocol === 'loop' ? [] : await backend.ports(ctx.signal);
            const targets = selectTargets(ports, protocol, list(req.volume_context[ControllerVolumeContext.iscsiPortalIps]), list(req.volume_context[ControllerVolumeContext.fcPortsList]));
            const perPort = req.volume_context[ControllerVolumeContext.hostSeesVLUN] === 'false' && targets.positions.length > 0;
            const out = await exportVolume(backend, c, { name: id.arrayName, ref, protocol, singleNode, readonlyGuard, maxVolumes: deps.maxVolumesPerNode, ...(perPort && { ports: targets.positions }) }, op);
            const wwn = out.wwn ?? known.wwn ?? (await getVolume(c, id.arrayName, ctx.signal)).wwn ?? '';
            backend.owned.set(id.arrayName, { ...remembered, wwn });
            return { lun: out.lun, wwn, targets, protocol };
          }),
        ),
      );
      const protocol = exported.protocol;
      const pc: Record<string, string> = { [PublishContext.protocol]: protocol, [PublishContext.lun]: String(exported.lun), [PublishContext.wwn]: exported.wwn };
      if (protocol === 'iscsi') {
        pc[PublishContext.targetIqns] = exported.targets.iqns.join(',');
        pc[PublishContext.targetPortals] = exported.targets.portals.join(',');
      } else if (protocol === 'fc') {
        pc[PublishContext.targetWwns] = exported.targets.wwns.join(',');
      }
      if (readonly) pc[PublishContext.readonly] = 'true';
      return { publish_context: pc };
    },

    async ControllerUnpublishVolume(req, ctx) {
      validateControllerUnpublishVolumeRequest(req);
      const found = lookupId(deps, req.volume_id);
      // ControllerUnpublish of an unknown volume succeeds: nothing is exported.
      if (!found) return {};
      const { backend, id } = found;
      let ref: NodeRef | undefined;
      if (req.node_id !== '') {
        try {
          ref = { nodeId: req.node_id, node: decodeNodeId(req.node_id) };
        } catch {
          // A node_id this driver never issued has no host: nothing to unpublish.
          return {};
        }
      }
      await deps.inflight.run([`unpublish:${req.volume_id}:${ref?.node.hostName ?? '*'}`], () =>
        deps.volumeLocks.run(req.volume_id, () => backend.run(`unpublishing ${id.arrayName}`, (c) => unexportVolume(backend, c, id.arrayName, ref, opContext(deps, ctx)))),
      );
      return {};
    },
  };
}
