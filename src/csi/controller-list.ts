import { collect, type Listed } from '../array/listing.js';
import { formatId } from '../array/names.js';
import { conditionOfVolume } from '../array/ops.js';
import { topologyKey } from './context.js';
import { parseStorageClassParameters } from './params.js';
import { accessibleTopology, topologyOn, type ControllerDeps } from './controller-deps.js';
import { CREATE_GRANULARITY_MIB, MAX_VOLUME_MIB, MiB, validateListVolumesRequest } from './controller-validate.js';
import type { ControllerImpl } from './server.js';

type Handlers = Pick<ControllerImpl, 'ListVolumes' | 'GetCapacity'>;

export function listHandlers(deps: ControllerDeps): Handlers {
  return {
    async ListVolumes(req, ctx) {
      validateListVolumesRequest(req);
      let listing: { id: string; items: Listed[]; offset: number };
      if (req.starting_token !== '') {
        listing = deps.volumeListings.resolve(req.starting_token);
      } else {
        const items = await collect(deps.registry.all(), deps.owner, 'volume', ctx.signal);
        listing = { id: deps.volumeListings.put(items), items, offset: 0 };
      }
      const page = deps.volumeListings.page(listing.id, listing.items, listing.offset, req.max_entries);
      return {
        entries: page.items.map((l) => ({
          volume: { volume_id: formatId(l.backend.id, l.volume.name), capacity_bytes: String(BigInt(l.volume.sizeMiB ?? 0) * BigInt(MiB)), volume_context: {}, content_source: null, accessible_topology: accessibleTopology(deps, l.backend) },
          status: { published_node_ids: l.publishedNodeIds, volume_condition: conditionOfVolume(l.volume) },
        })),
        next_token: page.next,
      };
    },

    async GetCapacity(req, ctx) {
      // external-provisioner's capacity controller passes the StorageClass parameters verbatim,
      // with the `csi.storage.k8s.io/` keys Kubernetes reads itself (fstype, secret names) that
      // CreateVolume never sees (seen with the real v6.3.0 sidecar in test/k8s): they are not ours.
      const params = parseStorageClassParameters(Object.fromEntries(Object.entries(req.parameters ?? {}).filter(([k]) => !k.startsWith('csi.storage.k8s.io/'))));
      let backendId = params.backend;
      const segments = req.accessible_topology?.segments ?? {};
      if (topologyOn(deps) && Object.keys(segments).length > 0) {
        const fromTopology = deps.registry.all().find((b) => segments[topologyKey(deps.driverName, b.id)] === 'true');
        // The class's backend is not in this topology segment: no capacity here.
        if (!fromTopology || (backendId !== undefined && backendId !== fromTopology.id)) return { available_capacity: '0', maximum_volume_size: null, minimum_volume_size: null };
        backendId = fromTopology.id;
      }
      const backend = deps.registry.forClass(backendId);
      const freeMiB = await backend.run('reading CPG free space', async (c) => {
        const cpg = params.cpg ?? (await backend.onlyCpg(ctx.signal));
        // A class without a CPG on an array with several: the array's free space as a whole.
        if (cpg === undefined) return (await c.getSystem()).freeCapacityMiB ?? 0;
        return (await c.getCpgFreeSpace(cpg, ctx.signal)).usableFreeMiB;
      });
      const free = BigInt(Math.max(0, Math.floor(freeMiB))) * BigInt(MiB);
      return {
        available_capacity: String(free),
        maximum_volume_size: { value: String(BigInt(Math.min(MAX_VOLUME_MIB, Math.max(0, Math.floor(freeMiB)))) * BigInt(MiB)) },
        minimum_volume_size: { value: String(BigInt(CREATE_GRANULARITY_MIB) * BigInt(MiB)) },
      };
    },
  };
}
