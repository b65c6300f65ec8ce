/**
 * What depends on a volume the driver deletes (issue 16 item 8): this cluster's snapshots, an
 * online copy's helper snapshots (running, or left by a stopped copy), and anything else.
 */
import { describe, expect, test } from '@jest/globals';
import { childrenOf } from '../../src/array/tombstones.js';
import type { Volume } from '../../src/wsapi/types.js';

const owner = { driverName: 'csi.example.com', clusterId: 'c1' };
const mark = JSON.stringify({ v: 1, d: owner.driverName, c: owner.clusterId, n: 'x' });
const snap = (name: string, copyOf: string, readOnly: boolean, comment?: string): Volume => ({
  name,
  copyOf,
  copyType: 3,
  readOnly,
  ...(comment !== undefined && { comment }),
});
const copy = (name: string, copyOf: string): Volume => ({ name, copyOf, copyType: 2, additionalStates: [13] });
const names = (vs: readonly { name: string }[]) => vs.map((v) => v.name);

describe('childrenOf', () => {
  test('own snapshots only → soft delete; nothing else listed', () => {
    const k = childrenOf([{ name: 'v' }, snap('s1', 'v', true, mark), snap('other', 'w', true)], 'v', owner);
    expect(names(k.own)).toEqual(['s1']);
    expect([k.copying, k.foreign]).toEqual([[], []]);
  });

  test('a running copy through helpers, and a direct one (no helper model)', () => {
    const all = [snap('v.ro', 'v', true), snap('v.ro.rw', 'v.ro', false), copy('dst', 'v.ro.rw'), copy('dst2', 'v')];
    expect(childrenOf(all, 'v', owner)).toMatchObject({ own: [], copying: ['dst', 'dst2'], foreign: [] });
  });

  test("a read-only snapshot with a writable child and nothing below is foreign: a stopped copy's helpers or an admin's pair look the same", () => {
    const k = childrenOf(
      [snap('v.ro', 'v', true), snap('v.ro.rw', 'v.ro', false), snap('s1', 'v', true, mark)],
      'v',
      owner,
    );
    expect(k.foreign).toEqual(['v.ro']);
    expect(names(k.own)).toEqual(['s1']);
    expect(k.copying).toEqual([]);
  });

  test('helpers whose read-write child has a child that is no copy (a snapshot of it) are foreign, not a running copy', () => {
    const k = childrenOf(
      [snap('v.ro', 'v', true), snap('v.ro.rw', 'v.ro', false), snap('under', 'v.ro.rw', true)],
      'v',
      owner,
    );
    expect([k.copying, k.foreign]).toEqual([[], ['v.ro']]);
  });

  test("a lone unmarked snapshot, a commented one, another cluster's, or a helper chain with a marked child are not the driver's", () => {
    const other = JSON.stringify({ v: 1, d: owner.driverName, c: 'c2', n: 'y' });
    const all = [
      snap('lone', 'v', true),
      snap('noted', 'v', true, 'admin backup'),
      snap('theirs', 'v', true, other),
      snap('v.ro', 'v', true),
      snap('v.ro.mine', 'v.ro', false, mark),
      { name: 'offline', copyOf: 'v', copyType: 1 },
    ];
    expect(childrenOf(all, 'v', owner).foreign.sort()).toEqual(['lone', 'noted', 'offline', 'theirs', 'v.ro'].sort());
  });

  describe("helpers the driver marked (`h`) before it deleted their copy's destination", () => {
    const helper = (c = owner.clusterId, d = owner.driverName) => JSON.stringify({ v: 1, d, c, h: 'dst' });

    test('with nothing below: stale, read-write before read-only; a lone marked read-only one too', () => {
      const all = [
        snap('v.ro', 'v', true, helper()),
        snap('v.ro.rw', 'v.ro', false, helper()),
        snap('v.ro0', 'v', true, helper()),
        snap('s1', 'v', true, mark),
      ];
      const k = childrenOf(all, 'v', owner);
      expect(k.stale).toEqual(['v.ro.rw', 'v.ro', 'v.ro0']);
      expect(names(k.own)).toEqual(['s1']);
      expect([k.copying, k.foreign]).toEqual([[], []]);
    });

    test('still read by a running copy (marked before a cancel that did not stop it in time): copying', () => {
      const all = [snap('v.ro', 'v', true, helper()), snap('v.ro.rw', 'v.ro', false, helper()), copy('dst', 'v.ro.rw')];
      expect(childrenOf(all, 'v', owner)).toMatchObject({ copying: ['dst'], foreign: [], stale: [] });
    });

    test("half marked (a kill while marking, the destination still there), another cluster's or driver's mark, or a snapshot below: never stale", () => {
      const cases: Volume[][] = [
        [snap('v.ro', 'v', true, helper()), snap('v.ro.rw', 'v.ro', false)],
        [snap('v.ro', 'v', true), snap('v.ro.rw', 'v.ro', false, helper())],
        [snap('v.ro', 'v', true, helper('c2')), snap('v.ro.rw', 'v.ro', false, helper('c2'))],
        [
          snap('v.ro', 'v', true, helper(owner.clusterId, 'other.example.com')),
          snap('v.ro.rw', 'v.ro', false, helper()),
        ],
        [snap('v.ro', 'v', true, helper()), snap('v.ro.rw', 'v.ro', false, helper()), snap('under', 'v.ro.rw', true)],
      ];
      for (const all of cases) expect(childrenOf(all, 'v', owner)).toMatchObject({ foreign: ['v.ro'], stale: [] });
    });
  });
});
