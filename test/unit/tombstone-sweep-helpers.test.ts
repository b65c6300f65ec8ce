/**
 * A tombstone (a soft-deleted source) can end up with a stopped copy's helper snapshots under it,
 * marked by this cluster and with nothing below them: removeStaleHelpers stops at "has children"
 * when a soft delete races it, or a driver of the first helper-mark form soft-deleted the source
 * because it read the marked helpers as its own snapshots. The sweep took only tombstones with no
 * child at all, so such a tombstone stayed on the array for ever, found by nothing.
 */
import { describe, expect, test } from '@jest/globals';
import type { ArrayClient } from '../../src/array/client.js';
import { formatHelperMarker, formatVolumeMarker, ownerMarker } from '../../src/array/marker.js';
import type { OpContext } from '../../src/array/ops.js';
import { sweepTombstones } from '../../src/array/tombstones.js';
import type { VolumeSummary } from '../../src/wsapi/resources/volumes.js';

const owner = { driverName: 'csi.example.com', clusterId: 'c1' };
const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const ctx = { owner, log: quiet, signal: new AbortController().signal } as unknown as OpContext;

/** A tombstone of this cluster and, under it, what `helperComment` marks as helpers of a copy into `dst`. */
function listing(helperComment: (dest: string) => string): VolumeSummary[] {
  return [
    { name: 'csx-t1', comment: formatVolumeMarker(ownerMarker(owner, { t: 1 })), copyType: 1 },
    { name: 'csx-t1.ro', copyOf: 'csx-t1', copyType: 3, readOnly: true, comment: helperComment('dst') },
    { name: 'csx-t1.ro.rw', copyOf: 'csx-t1.ro', copyType: 3, readOnly: false, comment: helperComment('dst') },
  ] as unknown as VolumeSummary[];
}

/** Deletes as the array does: a volume with a child is refused (409, HAS_CHILD). */
function arrayOf(all: VolumeSummary[]): { client: ArrayClient; deleted: string[] } {
  const live = new Map(all.map((v) => [v.name, v]));
  const deleted: string[] = [];
  const client = {
    deleteVolume: async (name: string) => {
      if (![...live.values()].every((v) => v.copyOf !== name))
        throw Object.assign(new Error('has child'), { status: 409, code: 32 });
      live.delete(name);
      deleted.push(name);
    },
  } as unknown as ArrayClient;
  return { client, deleted };
}

describe('the tombstone sweep', () => {
  test("removes a tombstone whose only children are this cluster's stale helper snapshots, helpers first", async () => {
    const all = listing((dest) => formatHelperMarker(owner, dest));
    const { client, deleted } = arrayOf(all);
    expect(await sweepTombstones(client, all, ctx)).toBe(1);
    expect(deleted).toEqual(['csx-t1.ro.rw', 'csx-t1.ro', 'csx-t1']);
  });

  test('leaves a tombstone whose helper-shaped children are unmarked or another cluster’s', async () => {
    const other = { ...owner, clusterId: 'c2' };
    for (const comment of [() => '', (dest: string) => formatHelperMarker(other, dest)]) {
      const all = listing(comment);
      const { client, deleted } = arrayOf(all);
      expect(await sweepTombstones(client, all, ctx)).toBe(0);
      expect(deleted).toEqual([]);
    }
  });
});
