import { topologyKey } from './context.js';
import { parseStorageClassParameters } from './params.js';
import { accessibleTopology, topologyOn, type ControllerDeps } from './controller-deps.js';
import { CREATE_GRANULARITY_MIB, MAX_VOLUME_MIB, MiB, validateListVolumesRequest } from './controller-validate.js';
import type { _csi_v1_ListVolumesResponse_Entry as ListVolumesResponse_Entry } from '../gen/csi/v1/ListVolumesResponse.js';
import type { ControllerImpl } from './server.js';
import { encodeEntry, encodePage } from './encoded.js';
import type { VolumeStatus } from '../array/storage-array.js';
import type { Topology } from '../gen/csi/v1/Topology.js';

type Handlers = Pick<ControllerImpl, 'ListVolumes' | 'GetCapacity'>;

export function listHandlers(deps: ControllerDeps): Handlers {
  return {
    async ListVolumes(req, ctx) {
      validateListVolumesRequest(req);
      if (req.starting_token !== '') {
        const page = deps.volumeListings.continue(req.starting_token, req.max_entries);
        return encodePage('ListVolumes', page.items, page.next);
      }
      // The cache keeps each entry as the bytes it takes in the answer (encodeEntry), neither
      // the response objects nor the arrays' volume objects: a 10,000-volume listing held for
      // its next pages is some 10,000 small Buffers.
      const entries: Buffer[] = [];
      for (const array of deps.registry.all()) {
        const topology = accessibleTopology(deps, array);
        await array.listVolumes(ctx.signal, (v) => entries.push(encodeEntry('ListVolumes', listEntry(v, topology))));
      }
      const page = deps.volumeListings.start(entries, req.max_entries);
      return encodePage('ListVolumes', page.items, page.next);
    },

    async GetCapacity(req, ctx) {
      // external-provisioner's capacity controller sends the StorageClass's parameters as they
      // are (pkg/capacity/capacity.go), with the csi.storage.k8s.io/ keys Kubernetes reads
      // (fstype, secrets) that CreateVolume never sees: leave those out before checking the rest.
      const params = parseStorageClassParameters(withoutKubernetesKeys(req.parameters));
      let backendId = params.backend;
      const segments = req.accessible_topology?.segments ?? {};
      if (topologyOn(deps) && Object.keys(segments).length > 0) {
        const fromTopology = deps.registry.all().find((b) => segments[topologyKey(deps.driverName, b.id)] === 'true');
        // The class's backend is not in this topology segment: no capacity here.
        if (!fromTopology || (backendId !== undefined && backendId !== fromTopology.id))
          return { available_capacity: '0', maximum_volume_size: null, minimum_volume_size: null };
        backendId = fromTopology.id;
      }
      const freeMiB = await deps.registry.forClass(backendId).capacity(params.cpg, ctx.signal);
      const free = BigInt(Math.max(0, Math.floor(freeMiB))) * BigInt(MiB);
      return {
        available_capacity: String(free),
        maximum_volume_size: {
          value: String(BigInt(Math.min(MAX_VOLUME_MIB, Math.max(0, Math.floor(freeMiB)))) * BigInt(MiB)),
        },
        minimum_volume_size: { value: String(BigInt(CREATE_GRANULARITY_MIB) * BigInt(MiB)) },
      };
    },
  };
}

/** The ListVolumes entry of one listed volume. */
function listEntry(v: VolumeStatus, topology: Topology[]): ListVolumesResponse_Entry {
  const bytes = v.sizeMiB * MiB;
  return {
    volume: {
      volume_id: v.id,
      // The product as a number while it is exact (every size an array has), else as a BigInt.
      capacity_bytes: Number.isSafeInteger(bytes) ? String(bytes) : String(BigInt(v.sizeMiB) * BigInt(MiB)),
      volume_context: {},
      content_source: null,
      accessible_topology: topology,
    },
    status: { published_node_ids: v.publishedNodeIds, volume_condition: v.condition },
  };
}

/** The class parameters without the `csi.storage.k8s.io/` keys Kubernetes reserves for itself. */
function withoutKubernetesKeys(params: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params ?? {}).filter(([k]) => !k.toLowerCase().startsWith('csi.storage.k8s.io/')),
  );
}
