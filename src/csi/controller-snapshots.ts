import type { ArraySnapshot, ObjectLabels } from '../array/storage-array.js';
import { parseId } from '../array/storage-array.js';
import { parseSnapshotClassParameters, type SnapshotClassParameters } from './params.js';
import { lookupId, requireId, type ControllerDeps } from './controller-deps.js';
import {
  MiB,
  validateCreateSnapshotRequest,
  validateDeleteSnapshotRequest,
  validateGetSnapshotRequest,
  validateListSnapshotsRequest,
} from './controller-validate.js';
import type { ControllerImpl } from './server.js';
import { encodeEntry, encodePage } from './encoded.js';
import type { Snapshot } from '../gen/csi/v1/Snapshot.js';
import type { ListSnapshotsRequest__Output } from '../gen/csi/v1/ListSnapshotsRequest.js';

type Handlers = Pick<ControllerImpl, 'CreateSnapshot' | 'DeleteSnapshot' | 'ListSnapshots' | 'GetSnapshot'>;

/** The CSI Snapshot of an array snapshot (ready at once: a virtual copy needs no copying). */
export function toSnapshot(snap: ArraySnapshot): Snapshot {
  return {
    snapshot_id: snap.id,
    source_volume_id: snap.sourceId,
    size_bytes: String(BigInt(snap.sizeMiB) * BigInt(MiB)),
    creation_time: snap.createdAt !== undefined ? { seconds: String(snap.createdAt), nanos: 0 } : null,
    ready_to_use: true,
    group_snapshot_id: snap.groupId ?? '',
  };
}

/** What a snapshot's marker records of the VolumeSnapshot (or VolumeGroupSnapshot) and its class. */
export function snapshotLabels(params: SnapshotClassParameters): ObjectLabels {
  return {
    ...(params.snapshotName && { claim: `${params.snapshotNamespace ?? ''}/${params.snapshotName}` }),
    ...(params.contentName && { content: params.contentName }),
    ...(params.description && { description: params.description }),
  };
}

/**
 * The snapshots ListSnapshots filters by id or source (a filter naming nothing this driver could have made matches
 * nothing).
 */
async function listSnapshots(
  deps: ControllerDeps,
  req: ListSnapshotsRequest__Output,
  signal: AbortSignal,
): Promise<Snapshot[]> {
  const byId = req.snapshot_id !== '' ? parseId(req.snapshot_id) : undefined;
  const bySource = req.source_volume_id !== '' ? parseId(req.source_volume_id) : undefined;
  if ((req.snapshot_id !== '' && !byId) || (req.source_volume_id !== '' && !bySource)) return [];
  const backendId = byId?.backendId ?? bySource?.backendId;
  const out: Snapshot[] = [];
  for (const array of deps.registry.all()) {
    if (backendId !== undefined && array.id !== backendId) continue;
    for (const s of await array.listSnapshots(signal)) {
      if ((!byId || s.id === req.snapshot_id) && (!bySource || s.sourceId === req.source_volume_id))
        out.push(toSnapshot(s));
    }
  }
  return out;
}

export function snapshotHandlers(deps: ControllerDeps): Handlers {
  return {
    async CreateSnapshot(req, ctx) {
      validateCreateSnapshotRequest(req);
      const params = parseSnapshotClassParameters(req.parameters);
      const { array, name } = requireId(deps, req.source_volume_id, 'source volume');
      const spec = {
        name: req.name,
        readOnly: params.readOnly,
        ...(params.expirationHours !== undefined && { expirationHours: params.expirationHours }),
        labels: snapshotLabels(params),
      };
      const snap = await deps.inflight.run([`snapshot:${array.idFor('snapshot', req.name)}`], () =>
        array.snapshot(name, spec, ctx),
      );
      return { snapshot: toSnapshot(snap) };
    },

    async DeleteSnapshot(req, ctx) {
      validateDeleteSnapshotRequest(req);
      const found = lookupId(deps, req.snapshot_id);
      // DeleteSnapshot of an id that names nothing this driver knows succeeds.
      if (!found) return {};
      await deps.inflight.run([`snapshot:${req.snapshot_id}`], () => found.array.deleteSnapshot(found.name, ctx));
      return {};
    },

    async GetSnapshot(req, ctx) {
      validateGetSnapshotRequest(req);
      const { array, name } = requireId(deps, req.snapshot_id, 'snapshot');
      return { snapshot: toSnapshot(await array.getSnapshot(name, ctx)) };
    },

    async ListSnapshots(req, ctx) {
      validateListSnapshotsRequest(req);
      // The cache keeps each entry as the bytes it takes in the answer (encodeEntry).
      const page =
        req.starting_token !== ''
          ? deps.snapshotListings.continue(req.starting_token, req.max_entries)
          : deps.snapshotListings.start(
              (await listSnapshots(deps, req, ctx.signal)).map((snapshot) =>
                encodeEntry('ListSnapshots', { snapshot }),
              ),
              req.max_entries,
            );
      return encodePage('ListSnapshots', page.items, page.next);
    },
  };
}
