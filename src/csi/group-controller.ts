import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import { requestIdentity, type VolumeMarker } from '../array/marker.js';
import { arrayNameFor, formatId, isTombstoneName } from '../array/names.js';
import { deleteGroupSnapshot, ensureGroupSnapshot, memberName, readGroup, type GroupSnapshot } from '../array/groups.js';
import { originalName } from '../array/listing.js';
import { ownMarker } from '../array/ops.js';
import type { Backend } from '../array/backend.js';
import type { ArrayClient } from '../array/client.js';
import type { Volume } from '../wsapi/types.js';
import { parseGroupSnapshotClassParameters } from './params.js';
import { lookupId, opContext, requireId, type ControllerDeps } from './controller-deps.js';
import { toSnapshot } from './controller-snapshots.js';
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
  if (Buffer.byteLength(name) > CSI_NAME_MAX_BYTES) throw invalidArgument(`name is longer than ${CSI_NAME_MAX_BYTES} bytes`);
}

/** The CSI message of a group: every member as a Snapshot carrying the group id. */
async function toGroup(backend: Backend, c: ArrayClient, deps: ControllerDeps, name: string, members: Volume[], signal: AbortSignal): Promise<VolumeGroupSnapshot> {
  const snapshots = [];
  for (const m of members) {
    // A member of a soft-deleted volume keeps naming the volume the CO deleted.
    const source = m.copyOf && isTombstoneName(m.copyOf) ? originalName(await c.getVolume(m.copyOf, signal), deps.owner) : undefined;
    snapshots.push(toSnapshot(backend, m, ownMarker(m, deps.owner), source ?? m.copyOf));
  }
  return { group_snapshot_id: formatId(backend.id, name), snapshots, creation_time: snapshots[0]?.creation_time ?? null, ready_to_use: true };
}

/**
 * INVALID_ARGUMENT unless `ids` are exactly the group's members (the spec asks the plugin to
 * report a mismatch it can detect). An empty list is not checked: the driver does not need it.
 */
function checkMemberIds(backend: Backend, group: GroupSnapshot, ids: readonly string[]): void {
  if (ids.length === 0) return;
  const expected = group.members.map((_, i) => formatId(backend.id, memberName(group.name, i))).sort();
  const given = [...new Set(ids)].sort();
  if (given.length !== expected.length || given.some((id, i) => id !== expected[i])) {
    throw invalidArgument(`snapshot_ids do not match the ${expected.length} members of group snapshot ${formatId(backend.id, group.name)}`);
  }
}

/** The backend and group a group_snapshot_id names, or undefined. */
function lookupGroup(deps: ControllerDeps, id: string): { backend: Backend; name: string } | undefined {
  const found = lookupId(deps, id);
  return found ? { backend: found.backend, name: found.id.arrayName } : undefined;
}

export function createGroupControllerService(deps: ControllerDeps): GroupControllerImpl {
  return {
    async GroupControllerGetCapabilities() {
      return { capabilities: CAPABILITIES };
    },

    async CreateVolumeGroupSnapshot(req, ctx) {
      checkName(req.name);
      if (req.source_volume_ids.length === 0) throw invalidArgument('source_volume_ids is required');
      if (new Set(req.source_volume_ids).size !== req.source_volume_ids.length) throw invalidArgument('source_volume_ids names a volume twice');
      const params = parseGroupSnapshotClassParameters(req.parameters);
      const sources = req.source_volume_ids.map((id) => requireId(deps, id, 'source volume'));
      const backend = sources[0]!.backend;
      if (sources.some((s) => s.backend !== backend)) throw failedPrecondition('the source volumes are on different backends; a group snapshot is taken on one array');
      const name = arrayNameFor('group', deps.owner.clusterId, req.name);
      const identity = requestIdentity({ s: [...req.source_volume_ids].sort(), ro: params.readOnly, x: params.expirationHours });
      const marker: VolumeMarker = { v: 1, d: deps.driverName, c: deps.owner.clusterId, n: req.name, r: identity };
      if (params.snapshotName) marker.pvc = `${params.snapshotNamespace ?? ''}/${params.snapshotName}`;
      if (params.contentName) marker.pv = params.contentName;
      if (params.description) marker.desc = params.description;
      const spec = { name, sources: sources.map((s) => s.id.arrayName), marker, readOnly: params.readOnly, ...(params.expirationHours !== undefined && { expirationHours: params.expirationHours }) };
      const group = await deps.inflight.run([`group:${backend.id}/${name}`], () =>
        backend.run(`creating group snapshot ${name}`, async (c) => toGroup(backend, c, deps, name, await ensureGroupSnapshot(c, spec, opContext(deps, ctx)), ctx.signal)),
      );
      return { group_snapshot: group };
    },

    async DeleteVolumeGroupSnapshot(req, ctx) {
      if (req.group_snapshot_id === '') throw invalidArgument('group_snapshot_id is required');
      const found = lookupGroup(deps, req.group_snapshot_id);
      // DeleteVolumeGroupSnapshot of an id that names nothing this driver knows succeeds.
      if (!found) return {};
      const { backend, name } = found;
      await deps.inflight.run([`group:${req.group_snapshot_id}`], () =>
        backend.run(`deleting group snapshot ${name}`, async (c) => {
          const op = opContext(deps, ctx);
          const group = await readGroup(c, name, op);
          // A group snapshot that no longer exists is deleted already.
          if (!group) return;
          checkMemberIds(backend, group, req.snapshot_ids);
          await deleteGroupSnapshot(c, group, op);
        }),
      );
      return {};
    },

    async GetVolumeGroupSnapshot(req, ctx) {
      if (req.group_snapshot_id === '') throw invalidArgument('group_snapshot_id is required');
      const found = lookupGroup(deps, req.group_snapshot_id);
      if (!found) throw notFound(`group snapshot ${req.group_snapshot_id} does not exist`);
      const { backend, name } = found;
      return backend.run(`reading group snapshot ${name}`, async (c) => {
        const group = await readGroup(c, name, opContext(deps, ctx));
        if (!group) throw notFound(`group snapshot ${req.group_snapshot_id} does not exist`);
        checkMemberIds(backend, group, req.snapshot_ids);
        if (group.members.some((m) => m === undefined)) throw notFound(`group snapshot ${req.group_snapshot_id} is being deleted`);
        return { group_snapshot: await toGroup(backend, c, deps, name, group.members as Volume[], ctx.signal) };
      });
    },
  };
}
