import type { Logger } from '../log.js';
import { notFound, invalidArgument, resourceExhausted } from '../errors.js';
import type { BackendRegistry } from '../array/registry.js';
import type { StorageArray } from '../array/storage-array.js';
import type { InFlight } from '../util/inflight.js';
import type { ListingCache } from './listing-cache.js';
import { topologyKey } from './context.js';
import type { TopologyRequirement__Output } from '../gen/csi/v1/TopologyRequirement.js';
import type { Topology } from '../gen/csi/v1/Topology.js';

/** Controller-only volume_context keys: what ControllerPublish needs from the StorageClass. */
export const ControllerVolumeContext = {
  /** Comma-separated iSCSI portal IPs the class allows (absent: all ready iSCSI ports). */
  iscsiPortalIps: 'iscsiPortalIps',
  /** Comma-separated FC port positions n:s:p the class allows (absent: all ready FC ports). */
  fcPortsList: 'fcPortsList',
  /** "false" when the class wants one VLUN per target port instead of one host-sees VLUN. */
  hostSeesVLUN: 'hostSeesVLUN',
} as const;

/** What every controller handler shares. */
export interface ControllerDeps {
  driverName: string;
  /** The arrays: the only way into src/array (StorageArray). */
  registry: BackendRegistry;
  log: Logger;
  /** Duplicate requests for a resource that is busy → ABORTED. */
  inflight: InFlight;
  /** ListVolumes pages not served yet: each entry as its bytes in the answer (encoded.ts). */
  volumeListings: ListingCache<Buffer>;
  /** ListSnapshots pages not served yet: each entry as its bytes in the answer (encoded.ts). */
  snapshotListings: ListingCache<Buffer>;
  /** Topology advertised (the controller's `--topology`, resolved at start). */
  topology: boolean;
}

/** The array and array name an id names; undefined when it names nothing this driver knows. */
export function lookupId(deps: ControllerDeps, id: string): { array: StorageArray; name: string } | undefined {
  return deps.registry.lookup(id);
}

/** Like lookupId, NOT_FOUND when the id names nothing. */
export function requireId(deps: ControllerDeps, id: string, what: string): { array: StorageArray; name: string } {
  const found = lookupId(deps, id);
  if (!found) throw notFound(`${what} ${id} does not exist (unknown id or backend)`);
  return found;
}

/** True when topology is advertised (DESIGN "Topology"; `--topology`, auto: two or more backends). */
export function topologyOn(deps: ControllerDeps): boolean {
  return deps.topology;
}

export function accessibleTopology(deps: ControllerDeps, array: StorageArray): Topology[] {
  return topologyOn(deps) ? [{ segments: { [topologyKey(deps.driverName, array.id)]: 'true' } }] : [];
}

/** The backend ids a topology list allows. */
function idsIn(deps: ControllerDeps, list: readonly { segments: Record<string, string> }[]): string[] {
  const ids: string[] = [];
  for (const t of list)
    for (const b of deps.registry.all())
      if (t.segments[topologyKey(deps.driverName, b.id)] === 'true' && !ids.includes(b.id)) ids.push(b.id);
  return ids;
}

/**
 * The array a new volume goes to: the class's (or the content source's) backend, which must
 * be allowed by the requisite topology; otherwise the first preferred, then requisite, backend;
 * otherwise the default. RESOURCE_EXHAUSTED when the requirements cannot be met.
 */
export function chooseArray(
  deps: ControllerDeps,
  classBackend: string | undefined,
  sourceBackend: string | undefined,
  req: TopologyRequirement__Output | null,
): StorageArray {
  if (classBackend !== undefined && sourceBackend !== undefined && classBackend !== sourceBackend) {
    throw invalidArgument(
      `the content source is on backend ${sourceBackend} but the StorageClass names backend ${classBackend}; copies stay on their array`,
    );
  }
  const fixed = classBackend ?? sourceBackend;
  if (!topologyOn(deps) || !req) return deps.registry.forClass(fixed);
  const requisite = idsIn(deps, req.requisite);
  const preferred = idsIn(deps, req.preferred);
  if (fixed !== undefined) {
    const b = deps.registry.forClass(fixed);
    if (req.requisite.length > 0 && !requisite.includes(b.id))
      throw resourceExhausted(`backend ${b.id} is not reachable from the requisite topology`);
    return b;
  }
  const pick = preferred.find((id) => requisite.length === 0 || requisite.includes(id)) ?? requisite[0];
  if (pick !== undefined) return deps.registry.forClass(pick);
  if (req.requisite.length > 0) throw resourceExhausted('no configured backend matches the requisite topology');
  return deps.registry.forClass(undefined);
}
