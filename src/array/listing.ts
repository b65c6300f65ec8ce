import { CopyType } from '../wsapi/enums.js';
import type { Vlun } from '../wsapi/types.js';
import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import type { Backend } from './backend.js';
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

/**
 * Every marked volume (kind "volume") or snapshot (kind "snapshot") on every backend, in a stable
 * order (backend order, then name). Tombstones are hidden. Three requests per backend for
 * volumes (volumes, VLUNs, hosts), one for snapshots.
 */
export async function collect(
  backends: readonly Backend[],
  owner: Owner,
  kind: 'volume' | 'snapshot',
  signal?: AbortSignal,
): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const b of backends) {
    await b.run(`listing ${kind}s`, async (c) => {
      const volumes = await c.listVolumes(signal);
      // One pass, one array (a listing goes through tens of thousands of volumes).
      const marked: { v: VolumeSummary; m: VolumeMarker }[] = [];
      for (const v of volumes) {
        if ((v.copyType === CopyType.VIRTUAL_COPY) !== (kind === 'snapshot')) continue;
        if (isTombstoneName(v.name) || isCopySourceName(v.name)) continue;
        const m = ownMarker(v, owner);
        if (m !== undefined) marked.push({ v, m });
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
      for (const { v, m } of marked.sort((x, y) => (x.v.name < y.v.name ? -1 : x.v.name > y.v.name ? 1 : 0))) {
        const entry: Listed = {
          backend: b,
          volume: v,
          marker: m,
          publishedNodeIds: kind === 'volume' ? publishedNodeIds(v.name, vlunsByVolume.get(v.name) ?? [], hosts) : [],
        };
        // Snapshots of a soft-deleted volume keep naming the volume the CO deleted.
        const tomb =
          v.copyOf !== undefined && isTombstoneName(v.copyOf) ? volumes.find((x) => x.name === v.copyOf) : undefined;
        const original = tomb ? originalName(tomb, owner) : undefined;
        if (original) entry.sourceName = original;
        out.push(entry);
      }
    });
  }
  return out;
}
