import type { Export, NodeRef, PublishOptions } from '../array/storage-array.js';
import type { ControllerPublishVolumeRequest__Output } from '../gen/csi/v1/ControllerPublishVolumeRequest.js';
import { decodeNodeId } from '../nodeid.js';
import { PublishContext, VolumeContext } from './context.js';
import { ControllerVolumeContext, lookupId, requireId, type ControllerDeps } from './controller-deps.js';
import {
  SINGLE_NODE_MODES,
  validateControllerPublishVolumeRequest,
  validateControllerUnpublishVolumeRequest,
} from './controller-validate.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<ControllerImpl, 'ControllerPublishVolume' | 'ControllerUnpublishVolume'>;

function list(value: string | undefined): string[] | undefined {
  return value ? value.split(',').filter((s) => s !== '') : undefined;
}

/** How the request (and the volume_context the CO keeps from CreateVolume) wants the volume exported. */
function publishOptions(req: ControllerPublishVolumeRequest__Output): PublishOptions {
  const vc = req.volume_context;
  // volume_context is OPTIONAL (CSI): without it the protocol comes from the volume's marker,
  // else the backend's defaultAccessProtocol.
  const protocol = vc[VolumeContext.protocol];
  const iscsiPortalIps = list(vc[ControllerVolumeContext.iscsiPortalIps]);
  const fcPorts = list(vc[ControllerVolumeContext.fcPortsList]);
  return {
    readonly: req.readonly,
    singleNode: SINGLE_NODE_MODES.includes(req.volume_capability!.access_mode!.mode),
    ...(protocol !== undefined && { protocol }),
    import: vc[VolumeContext.import] === 'true',
    ports: {
      ...(iscsiPortalIps && { iscsiPortalIps }),
      ...(fcPorts && { fcPorts }),
      oneVlunPerPort: vc[ControllerVolumeContext.hostSeesVLUN] === 'false',
    },
  };
}

/** publish_context: where the node finds the LUN, and `readonly` for a read-only publish (the node enforces it). */
function publishContext(exported: Export, readonly: boolean): Record<string, string> {
  const pc: Record<string, string> = {
    [PublishContext.protocol]: exported.protocol,
    [PublishContext.lun]: String(exported.lun),
    [PublishContext.wwn]: exported.wwn,
  };
  if (exported.protocol === 'iscsi') {
    pc[PublishContext.targetIqns] = exported.iqns.join(',');
    pc[PublishContext.targetPortals] = exported.portals.join(',');
  } else if (exported.protocol === 'fc') {
    pc[PublishContext.targetWwns] = exported.wwns.join(',');
  }
  if (readonly) pc[PublishContext.readonly] = 'true';
  return pc;
}

export function publishHandlers(deps: ControllerDeps): Handlers {
  return {
    async ControllerPublishVolume(req, ctx) {
      validateControllerPublishVolumeRequest(req);
      const { array, name } = requireId(deps, req.volume_id, 'volume');
      const node: NodeRef = { nodeId: req.node_id, node: decodeNodeId(req.node_id) };
      const mode = req.volume_capability!.access_mode!.mode;
      const readonly = req.readonly || mode === 'MULTI_NODE_READER_ONLY' || mode === 'SINGLE_NODE_READER_ONLY';
      const options = publishOptions(req);
      const exported = await deps.inflight.run([`publish:${req.volume_id}:${node.node.hostName}`], () =>
        array.publish(name, node, options, ctx),
      );
      return { publish_context: publishContext(exported, readonly) };
    },

    async ControllerUnpublishVolume(req, ctx) {
      validateControllerUnpublishVolumeRequest(req);
      const found = lookupId(deps, req.volume_id);
      // ControllerUnpublish of an unknown volume succeeds: nothing is exported.
      if (!found) return {};
      let node: NodeRef | undefined;
      if (req.node_id !== '') {
        try {
          node = { nodeId: req.node_id, node: decodeNodeId(req.node_id) };
        } catch {
          // A node_id this driver never issued has no host: nothing to unpublish.
          return {};
        }
      }
      await deps.inflight.run([`unpublish:${req.volume_id}:${node?.node.hostName ?? '*'}`], () =>
        found.array.unpublish(found.name, node, ctx),
      );
      return {};
    },
  };
}
