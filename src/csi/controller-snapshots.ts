import { notFound } from '../errors.js';
import { formatVolumeMarker, type VolumeMarker } from '../array/marker.js';
import { arrayNameFor, formatId, isTombstoneName, parseId } from '../array/names.js';
import { collect, originalName } from '../array/listing.js';
import { isSnapshot, ownMarker } from '../array/ops.js';
import { deleteSnapshot, ensureSnapshot } from '../array/snapshots.js';
import { checkSnapshotSource, getVolume } from '../array/volumes.js';
import type { Backend } from '../array/backend.js';
import type { Volume } from '../wsapi/types.js';
import { parseSnapshotClassParameters } from './params.js';
import { lookupId, opContext, requireId, type ControllerDeps } from './controller-deps.js';
import { MiB, validateCreateSnapshotRequest, validateDeleteSnapshotRequest, validateGetSnapshotRequest, validateListSnapshotsRequest } from './controller-validate.js';
import type { ControllerImpl } from './server.js';
import type { Snapshot } from '../gen/csi/v1/Snapshot.js';

type Handlers = Pick<ControllerImpl, 'CreateSnapshot' | 'DeleteSnapshot' | 'ListSnapshots' | 'GetSnapshot'>;

/** The CSI Snapshot of an array snapshot (ready at once: a virtual copy needs no copying). */
export function toSnapshot(backend: Backend, snap: Volume, marker: VolumeMarker | undefined, sourceName = snap.copyOf): Snapshot {
  const seconds = snap.creationTimeSec ?? Math.floor(Date.parse(snap.creationTime8601 ?? '') / 1000);
  return {
    snapshot_id: formatId(backend.id, snap.name),
    source_volume_id: sourceName ? formatId(backend.id, sourceName) : '',
    size_bytes: String(BigInt(snap.sizeMiB ?? 0) * BigInt(MiB)),
    creation_time: Number.isFinite(seconds) ? { seconds: String(seconds), nanos: 0 } : null,
    ready_to_use: true,
    group_snapshot_id: marker?.g ? formatId(backend.id, marker.g) : '',
  };
}

export function snapshotHandlers(deps: ControllerDeps): Handlers {
  return {
    async CreateSnapshot(req, ctx) {
      validateCreateSnapshotRequest(req);
      const params = parseSnapshotClassParameters(req.parameters);
      const { backend, id } = requireId(deps, req.source_volume_id, 'source volume');
      const name = arrayNameFor('snapshot', deps.owner.clusterId, req.name);
      const marker: VolumeMarker = { v: 1, d: deps.driverName, c: deps.owner.clusterId, n: req.name };
      if (params.snapshotName) marker.pvc = `${params.snapshotNamespace ?? ''}/${params.snapshotName}`;
      if (params.contentName) marker.pv = params.contentName;
      if (params.description) marker.desc = params.description;
      const snap = await deps.inflight.run([`snapshot:${backend.id}/${name}`], () =>
        backend.run(`creating snapshot ${name}`, async (c) => {
          const op = opContext(deps, ctx);
          await checkSnapshotSource(backend, c, id.arrayName, op);
          return ensureSnapshot(c, id.arrayName, { name, readOnly: params.readOnly, comment: formatVolumeMarker(marker), ...(params.expirationHours !== undefined && { expirationHours: params.expirationHours }) }, op);
        }),
      );
      return { snapshot: toSnapshot(backend, snap, marker) };
    },

    async DeleteSnapshot(req, ctx) {
      validateDeleteSnapshotRequest(req);
      const found = lookupId(deps, req.snapshot_id);
      // DeleteSnapshot of an id that names nothing this driver knows succeeds.
      if (!found) return {};
      const { backend, id } = found;
      await deps.inflight.run([`snapshot:${req.snapshot_id}`], () => backend.run(`deleting snapshot ${id.arrayName}`, (c) => deleteSnapshot(c, id.arrayName, opContext(deps, ctx))));
      return {};
    },

    async GetSnapshot(req, ctx) {
      validateGetSnapshotRequest(req);
      const { backend, id } = requireId(deps, req.snapshot_id, 'snapshot');
      return backend.run(`reading snapshot ${id.arrayName}`, async (c) => {
        const snap = await getVolume(c, id.arrayName, ctx.signal);
        const marker = ownMarker(snap, deps.owner);
        if (!isSnapshot(snap) || !marker) throw notFound(`snapshot ${req.snapshot_id} does not exist`);
        // A snapshot of a soft-deleted volume keeps naming the volume the CO deleted.
        const source = snap.copyOf && isTombstoneName(snap.copyOf) ? originalName(await getVolume(c, snap.copyOf, ctx.signal), deps.owner) : undefined;
        return { snapshot: toSnapshot(backend, snap, marker, source ?? snap.copyOf) };
      });
    },

    async ListSnapshots(req, ctx) {
      validateListSnapshotsRequest(req);
      if (req.starting_token !== '') {
        const page = deps.snapshotListings.continue(req.starting_token, req.max_entries);
        return { entries: page.items, next_token: page.next };
      }
      const byId = req.snapshot_id !== '' ? parseId(req.snapshot_id) : undefined;
      const bySource = req.source_volume_id !== '' ? parseId(req.source_volume_id) : undefined;
      // A filter naming nothing this driver could have made matches nothing.
      const impossible = (req.snapshot_id !== '' && !byId) || (req.source_volume_id !== '' && !bySource);
      const backendId = byId?.backendId ?? bySource?.backendId;
      const backends = backendId !== undefined ? deps.registry.all().filter((b) => b.id === backendId) : deps.registry.all();
      const all = impossible ? [] : await collect(backends, deps.owner, 'snapshot', ctx.signal);
      const items = all.filter((l) => (!byId || l.volume.name === byId.arrayName) && (!bySource || (l.backend.id === bySource.backendId && (l.sourceName ?? l.volume.copyOf) === bySource.arrayName)));
      // The cache keeps the response entries, not the arrays' volume objects.
      const page = deps.snapshotListings.start(
        items.map((l) => ({ snapshot: toSnapshot(l.backend, l.volume, l.marker, l.sourceName ?? l.volume.copyOf) })),
        req.max_entries,
      );
      return { entries: page.items, next_token: page.next };
    },
  };
}
