import { CopyType } from '../wsapi/enums.js';
import type { Vlun } from '../wsapi/types.js';
import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';
import { exportsOf } from './exports.js';
import { hostOwnerTag, parseHostMarker, type VolumeMarker } from './marker.js';
import { arrayNameFor, isCopySourceName, isTombstoneName } from './names.js';
import { ownMarker, type Owner } from './ops.js';

/** A marked volume or snapshot of one backend, with what the list RPCs report about it. */
export interface Listed {
  backend: Backend;
  /** The array's volume, reduced to what the listings read (ArrayClient.listVolumes). */
  volume: VolumeSummary;
  marker: VolumeMarker;
  /** Exact node_ids read back from the markers of the hosts it is exported to. */
  publishedNodeIds: string[];
  /** Snapshots: the source's array name as the CO knew it (a tombstone's original name). */
  sourceName?: string;
}

/** The name a soft-deleted volume had before it became a tombstone (from its marker). */
export function originalName(tomb: VolumeSummary, owner: Owner): string | undefined {
  const m = ownMarker(tomb, owner);
  return m?.n !== undefined ? arrayNameFor('volume', owner.clusterId, m.n) : undefined;
}

/** Node ids of the hosts `name` is exported to (hosts without this cluster's marker are skipped). */
export function publishedNodeIds(
  name: string,
  vluns: Parameters<typeof exportsOf>[0],
  hostNodes: ReadonlyMap<string, string>,
): string[] {
  // Most listed volumes are exported nowhere: no sets and arrays made for each of 10,000 of them.
  if (vluns.length === 0) return [];
  const ids = exportsOf(vluns, name)
    .map((l) => hostNodes.get(l.hostname ?? ''))
    .filter((n): n is string => n !== undefined);
  return [...new Set(ids)].sort();
}

/** Array host name → node_id, from host markers of this cluster. */
export async function hostNodeIds(b: Backend, owner: Owner, signal?: AbortSignal): Promise<Map<string, string>> {
  const tag = hostOwnerTag(owner.driverName, owner.clusterId);
  const out = new Map<string, string>();
  for (const h of await b.client.listHosts(signal)) {
    const m = parseHostMarker(h.descriptors?.comment);
    if (m?.o === tag) out.set(h.name, m.n);
  }
  return out;
}

/** What one backend's listing read: its marked volumes and what their entries need besides. */
interface BackendListing {
  /** The marked volumes (or snapshots), in name order. */
  marked: VolumeSummary[];
  vlunsByVolume: Map<string, Vlun[]>;
  hosts: Map<string, string>;
  /** The soft-deleted volumes, by name (a snapshot of one keeps naming the volume the CO deleted). */
  tombstones: Map<string, VolumeSummary>;
}

/**
 * Every marked volume (kind "volume") or snapshot (kind "snapshot") on every backend, in a stable
 * order (backend order, then name), handed to `each` one at a time. Tombstones are hidden. Three
 * requests per backend for volumes (volumes, VLUNs, hosts), one for snapshots.
 *
 * Only the marked volumes' summaries are kept through the VLUN and host requests, not their
 * parsed markers (read again as each entry is made) nor the other volumes; each entry is made
 * and handed over once every request of its backend is answered, so a caller that turns it into
 * something small at once (ListVolumes: its encoded bytes) keeps no 10,000 entries alive (with
 * a small young generation, whatever a listing holds reaches the old generation:
 * docs/performance.md, issue 21, fourth part).
 */
export async function collect(
  backends: readonly Backend[],
  owner: Owner,
  kind: 'volume' | 'snapshot',
  each: (entry: Listed) => void,
  signal?: AbortSignal,
): Promise<void> {
  for (const b of backends) {
    const read = await b.run(`listing ${kind}s`, (c) => readBackend(c, b, owner, kind, signal));
    for (const v of read.marked) {
      const entry: Listed = {
        backend: b,
        volume: v,
        // Owned: readBackend kept only the volumes ownMarker accepts.
        marker: ownMarker(v, owner)!,
        publishedNodeIds:
          kind === 'volume' ? publishedNodeIds(v.name, read.vlunsByVolume.get(v.name) ?? [], read.hosts) : [],
      };
      // Snapshots of a soft-deleted volume keep naming the volume the CO deleted.
      const tomb = v.copyOf !== undefined ? read.tombstones.get(v.copyOf) : undefined;
      const original = tomb ? originalName(tomb, owner) : undefined;
      if (original) entry.sourceName = original;
      each(entry);
    }
  }
}

/** One backend's requests of a listing (collect). */
async function readBackend(
  c: ArrayClient,
  b: Backend,
  owner: Owner,
  kind: 'volume' | 'snapshot',
  signal?: AbortSignal,
): Promise<BackendListing> {
  // One pass over the volumes: the marked ones of this kind, and the tombstones.
  const marked: VolumeSummary[] = [];
  const tombstones = new Map<string, VolumeSummary>();
  for (const v of await c.listVolumes(signal)) {
    if (isTombstoneName(v.name)) tombstones.set(v.name, v);
    if ((v.copyType === CopyType.VIRTUAL_COPY) !== (kind === 'snapshot')) continue;
    if (isTombstoneName(v.name) || isCopySourceName(v.name)) continue;
    if (ownMarker(v, owner) !== undefined) marked.push(v);
  }
  // VLUNs grouped by volume once: a listing beside tens of thousands of VLUNs must not scan
  // the whole VLUN list once per volume.
  const vlunsByVolume = new Map<string, Vlun[]>();
  let hosts = new Map<string, string>();
  if (kind === 'volume' && marked.length > 0) {
    for (const l of await c.listVluns(signal)) {
      const list = vlunsByVolume.get(l.volumeName);
      if (list) list.push(l);
      else vlunsByVolume.set(l.volumeName, [l]);
    }
    hosts = await hostNodeIds(b, owner, signal);
  }
  marked.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return { marked, vlunsByVolume, hosts, tombstones };
}
