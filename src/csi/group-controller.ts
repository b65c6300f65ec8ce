import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { ArrayGroup } from '../array/storage-array.js';
import { parseGroupSnapshotClassParameters } from './params.js';
import { lookupId, requireId, type ControllerDeps } from './controller-deps.js';
import { snapshotLabels, toSnapshot } from './controller-snapshots.js';
import { CSI_NAME_MAX_BYTES } from './controller-validate.js';
import type { GroupControllerImpl } from './server.js';
import type { VolumeGroupSnapshot } from '../gen/csi/v1/VolumeGroupSnapshot.js';
import type { GroupControllerServiceCapability } from '../gen/csi/v1/GroupControllerServiceCapability.js';

/**
 * The GroupController service (DESIGN "Groups"): crash-consistent snapshots of several volumes of
 * one backend, taken as one VV-set snapshot. group_snapshot_id = `<backendId>/<groupName>`; the
 * members are ordinary snapshots (restorable, listed) that carry the group id, and are deleted
 * only with their group.
 */

const CAPABILITIES: GroupControllerServiceCapability[] = [{ rpc: { type: 'CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT' } }];

function checkName(name: string): void {
  if (name === '') throw invalidArgument('name is required');
  if (Buffer.byteLength(name) > CSI_NAME_MAX_BYTES)
    throw invalidArgument(`name is longer than ${CSI_NAME_MAX_BYTES} bytes`);
}

/** The CSI message of a group: every member as a Snapshot carrying the group id. */
function toGroup(group: ArrayGroup): VolumeGroupSnapshot {
  const snapshots = group.snapshots.map(toSnapshot);
  return {
    group_snapshot_id: group.id,
    snapshots,
    creation_time: snapshots[0]?.creation_time ?? null,
    ready_to_use: true,
  };
}

export function createGroupControllerService(deps: ControllerDeps): GroupControllerImpl {
  return {
    async GroupControllerGetCapabilities() {
      return { capabilities: CAPABILITIES };
    },

    async CreateVolumeGroupSnapshot(req, ctx) {
      checkName(req.name);
      if (req.source_volume_ids.length === 0) throw invalidArgument('source_volume_ids is required');
      if (new Set(req.source_volume_ids).size !== req.source_volume_ids.length)
        throw invalidArgument('source_volume_ids names a volume twice');
      const params = parseGroupSnapshotClassParameters(req.parameters);
      const sources = req.source_volume_ids.map((id) => requireId(deps, id, 'source volume'));
      const array = sources[0]!.array;
      if (sources.some((s) => s.array !== array))
        throw failedPrecondition(
          'the source volumes are on different backends; a group snapshot is taken on one array',
        );
      const spec = {
        name: req.name,
        sources: sources.map((s) => s.name),
        readOnly: params.readOnly,
        ...(params.expirationHours !== undefined && { expirationHours: params.expirationHours }),
        labels: snapshotLabels(params),
      };
      const group = await deps.inflight.run([`group:${array.idFor('group', req.name)}`], () =>
        array.groupSnapshot(spec, ctx),
      );
      return { group_snapshot: toGroup(group) };
    },

    async DeleteVolumeGroupSnapshot(req, ctx) {
      if (req.group_snapshot_id === '') throw invalidArgument('group_snapshot_id is required');
      const found = lookupId(deps, req.group_snapshot_id);
      // DeleteVolumeGroupSnapshot of an id that names nothing this driver knows succeeds.
      if (!found) return {};
      await deps.inflight.run([`group:${req.group_snapshot_id}`], () =>
        found.array.deleteGroupSnapshot(found.name, req.snapshot_ids, ctx),
      );
      return {};
    },

    async GetVolumeGroupSnapshot(req, ctx) {
      if (req.group_snapshot_id === '') throw invalidArgument('group_snapshot_id is required');
      const found = lookupId(deps, req.group_snapshot_id);
      if (!found) throw notFound(`group snapshot ${req.group_snapshot_id} does not exist`);
      return { group_snapshot: toGroup(await found.array.getGroupSnapshot(found.name, req.snapshot_ids, ctx)) };
    },
  };
}
