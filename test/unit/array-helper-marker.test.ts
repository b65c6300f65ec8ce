/**
 * The mark the driver writes on a stopped copy's helper snapshots (claimCopyHelpers) before it
 * deletes the copy's destination. A driver of an earlier version (before the mark, bf0c854 and
 * older) reads a volume's comment with parseVolumeMarker + ownedBy and nothing else: whatever
 * passes is "this cluster's" there, a CSI snapshot it lists (ListSnapshots), finds (GetSnapshot),
 * deletes (DeleteSnapshot), and an "own snapshot" under a source it soft-deletes instead of
 * refusing (a tombstone nothing ever removes). During an upgrade or a rollback both run against
 * one array, so the mark must not pass that older reading, while this version proves it its own.
 */
import { describe, expect, test } from '@jest/globals';
import type { ArrayClient } from '../../src/array/client.js';
import { claimCopyHelpers } from '../../src/array/copies.js';
import { ownedBy, parseVolumeMarker } from '../../src/array/marker.js';
import { childrenOf } from '../../src/array/tombstones.js';
import type { OpContext } from '../../src/array/ops.js';
import type { Volume } from '../../src/wsapi/types.js';

const owner = { driverName: 'csi.example.com', clusterId: 'c1' };
const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const ctx = { owner, log: quiet, signal: new AbortController().signal } as unknown as OpContext;

/** The source, the array's helpers of a copy into `dst`, and the destination (what the array lists). */
function arrayWithHelpers(): Map<string, Volume> {
  const vols: Volume[] = [
    { name: 'v', copyType: 1 },
    { name: 'v.ro', copyOf: 'v', copyType: 3, readOnly: true },
    { name: 'v.ro.rw', copyOf: 'v.ro', copyType: 3, readOnly: false },
    { name: 'dst', copyOf: 'v.ro.rw', copyType: 2, additionalStates: [13] },
  ];
  return new Map(vols.map((v) => [v.name, v]));
}

/** An ArrayClient over `vols` answering the two calls claimCopyHelpers makes (GET, PUT comment). */
function clientOf(vols: Map<string, Volume>): ArrayClient {
  const noVolume = () => Object.assign(new Error('no such volume'), { status: 404, code: 23 });
  return {
    getVolume: async (name: string) => {
      const v = vols.get(name);
      if (!v) throw noVolume();
      return { ...v };
    },
    modifyVolume: async (name: string, body: { comment?: string }) => {
      const v = vols.get(name);
      if (!v) throw noVolume();
      if (body.comment !== undefined) v.comment = body.comment;
    },
  } as unknown as ArrayClient;
}

describe("the mark on a stopped copy's helper snapshots", () => {
  test('is no marker a driver of an earlier version reads as this cluster’s; this version proves the helpers its own', async () => {
    const vols = arrayWithHelpers();
    const helpers = await claimCopyHelpers(clientOf(vols), 'v.ro.rw', 'dst', ctx);
    expect(helpers.map((h) => h.name)).toEqual(['v.ro.rw', 'v.ro']);
    for (const name of ['v.ro.rw', 'v.ro']) {
      const comment = vols.get(name)!.comment;
      expect(comment).toContain('"h":"dst"');
      // What bf0c854's ownMarker was: a match here is a CSI snapshot of this cluster there.
      expect(ownedBy(parseVolumeMarker(comment), owner.driverName, owner.clusterId)).toBe(false);
    }
    // This version: the helpers of a copy whose destination is gone are its to delete.
    vols.delete('dst');
    expect(childrenOf([...vols.values()], 'v', owner)).toMatchObject({
      own: [],
      copying: [],
      foreign: [],
      stale: ['v.ro.rw', 'v.ro'],
    });
    // Another cluster's driver (same name) sees another owner's object.
    expect(childrenOf([...vols.values()], 'v', { ...owner, clusterId: 'c2' })).toMatchObject({
      foreign: ['v.ro'],
      stale: [],
    });
  });
});
