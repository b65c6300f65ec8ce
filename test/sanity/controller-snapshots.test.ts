/**
 * Conformance: snapshots and copies — CreateSnapshot / DeleteSnapshot / GetSnapshot /
 * ListSnapshots, and CreateVolume from a snapshot or from a volume (clone), against the full
 * driver and its embedded array. Checked by gRPC status code and by the array's objects.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { arrayName, eventually, GiB, MiB, startSanity, type Obj, type Sanity } from './harness.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';
import type { Snapshot__Output as Snapshot } from '../../src/gen/csi/v1/Snapshot.js';

let s: Sanity;
beforeAll(async () => {
  s = await startSanity();
});
afterAll(async () => {
  await s.close();
});

const create = (name: string, extra: Obj = {}) => s.createVolume(name, extra);
const delVolume = (id: string) => s.controller.call('DeleteVolume', { volume_id: id });
const snap = (name: string, source: string) =>
  s.controller.call('CreateSnapshot', { name, source_volume_id: source }).then((r) => r.snapshot!);
const delSnap = (id: string) => s.controller.call('DeleteSnapshot', { snapshot_id: id });
const list = (req: Obj = {}) => s.controller.call('ListSnapshots', req);
const activeTasks = () => s.sim.array.tasks.filter((t) => t.status === 2).length;
const MISSING_VOL = 'sim/csv-aaaaaaaaaaaaaaaaaaaa';
const MISSING_SNAP = 'sim/css-aaaaaaaaaaaaaaaaaaaa';

/** A snapshot as the spec describes it: an id, its source, a creation time, a size. */
function expectWellFormed(sn: Snapshot, sourceId: string): void {
  expect(sn.snapshot_id).not.toBe('');
  expect(Buffer.byteLength(sn.snapshot_id)).toBeLessThanOrEqual(128);
  expect(sn.source_volume_id).toBe(sourceId);
  expect(Number(sn.creation_time?.seconds ?? 0)).toBeGreaterThan(0);
  expect(Number(sn.size_bytes)).toBeGreaterThan(0);
}

describe('CreateSnapshot', () => {
  let source: Volume;
  beforeAll(async () => {
    source = await create('sanity-snap-source');
  });
  afterAll(async () => {
    await delVolume(source.volume_id);
  });

  test('cuts a snapshot on the array, ready to use, well formed', async () => {
    const sn = await snap('sanity-snap-1', source.volume_id);
    expectWellFormed(sn, source.volume_id);
    // A 3PAR virtual copy is usable at once: ready_to_use with no upload phase.
    expect(sn.ready_to_use).toBe(true);
    expect(Number(sn.size_bytes)).toBe(Number(source.capacity_bytes));
    const rec = s.sim.array.volume(arrayName(sn.snapshot_id));
    expect(rec).toBeDefined();
    expect(rec!.readOnly).toBe(true);
    await delSnap(sn.snapshot_id);
    expect(s.sim.array.volume(arrayName(sn.snapshot_id))).toBeUndefined();
  });

  test('a repeat with the same name and source returns the same snapshot (same creation time) and cuts nothing more', async () => {
    const a = await snap('sanity-snap-twice', source.volume_id);
    const count = s.sim.array.volumes.length;
    const b = await snap('sanity-snap-twice', source.volume_id);
    expect(b.snapshot_id).toBe(a.snapshot_id);
    expect(b.creation_time).toEqual(a.creation_time);
    expect(s.sim.array.volumes.length).toBe(count);
    await delSnap(a.snapshot_id);
  });

  test('the same name from another source → ALREADY_EXISTS', async () => {
    const other = await create('sanity-snap-other-source');
    const a = await snap('sanity-snap-clash', source.volume_id);
    expect(await codeOf(snap('sanity-snap-clash', other.volume_id))).toBe(grpcStatus.ALREADY_EXISTS);
    await delSnap(a.snapshot_id);
    await delVolume(other.volume_id);
  });

  test('a name of 128 bytes works, twice', async () => {
    const name = `sanity-snap-maxlen-${'b'.repeat(128 - 'sanity-snap-maxlen-'.length)}`;
    const a = await snap(name, source.volume_id);
    expect((await snap(name, source.volume_id)).snapshot_id).toBe(a.snapshot_id);
    await delSnap(a.snapshot_id);
  });

  test('no name, or no source_volume_id → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('CreateSnapshot', { source_volume_id: source.volume_id }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(await codeOf(s.controller.call('CreateSnapshot', { name: 'sanity-snap-nosource' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('a source volume that does not exist → NOT_FOUND', async () => {
    for (const id of [MISSING_VOL, 'testId', 'nobackend/csv-x'])
      expect(await codeOf(snap('sanity-snap-missing', id))).toBe(grpcStatus.NOT_FOUND);
  });
});

describe('DeleteSnapshot', () => {
  test('no snapshot_id → INVALID_ARGUMENT; an unknown or malformed id succeeds; a repeat succeeds', async () => {
    expect(await codeOf(s.controller.call('DeleteSnapshot', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    for (const id of ['reallyfakesnapshotid', MISSING_SNAP, 'nobackend/css-x']) await delSnap(id);
    const v = await create('sanity-delsnap');
    const sn = await snap('sanity-delsnap-1', v.volume_id);
    await delSnap(sn.snapshot_id);
    await delSnap(sn.snapshot_id);
    expect(s.sim.array.volume(arrayName(sn.snapshot_id))).toBeUndefined();
    await delVolume(v.volume_id);
  });

  test('DeleteSnapshot given a volume id deletes no volume', async () => {
    const v = await create('sanity-delsnap-volid');
    // The spec names no code for this; what matters is that the volume survives.
    const code = await codeOf(delSnap(v.volume_id)).catch(() => grpcStatus.OK);
    expect([
      grpcStatus.OK,
      grpcStatus.NOT_FOUND,
      grpcStatus.INVALID_ARGUMENT,
      grpcStatus.FAILED_PRECONDITION,
    ]).toContain(code);
    expect(s.sim.array.volume(arrayName(v.volume_id))).toBeDefined();
    await delVolume(v.volume_id);
  });
});

describe('GetSnapshot', () => {
  test('returns the snapshot; no id → INVALID_ARGUMENT; unknown → NOT_FOUND', async () => {
    const v = await create('sanity-getsnap');
    const sn = await snap('sanity-getsnap-1', v.volume_id);
    const got = await s.controller.call('GetSnapshot', { snapshot_id: sn.snapshot_id });
    expect(got.snapshot!.snapshot_id).toBe(sn.snapshot_id);
    expectWellFormed(got.snapshot!, v.volume_id);
    expect(await codeOf(s.controller.call('GetSnapshot', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    for (const id of [MISSING_SNAP, 'none-exist-id'])
      expect(await codeOf(s.controller.call('GetSnapshot', { snapshot_id: id }))).toBe(grpcStatus.NOT_FOUND);
    await delSnap(sn.snapshot_id);
    expect(await codeOf(s.controller.call('GetSnapshot', { snapshot_id: sn.snapshot_id }))).toBe(grpcStatus.NOT_FOUND);
    await delVolume(v.volume_id);
  });
});

describe('ListSnapshots', () => {
  const volumes: Volume[] = [];
  const snaps: Snapshot[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const v = await create(`sanity-listsnap-vol-${i}`);
      volumes.push(v);
      snaps.push(await snap(`sanity-listsnap-${i}`, v.volume_id));
    }
    // Two more of the last volume, for paging.
    snaps.push(await snap('sanity-listsnap-3', volumes[2]!.volume_id));
    snaps.push(await snap('sanity-listsnap-4', volumes[2]!.volume_id));
  });
  afterAll(async () => {
    for (const sn of snaps) await delSnap(sn.snapshot_id);
    for (const v of volumes) await delVolume(v.volume_id);
  });

  test('without filters: every snapshot, well formed, no next_token', async () => {
    const res = await list();
    expect(res.next_token).toBe('');
    expect(res.entries.map((e) => e.snapshot!.snapshot_id).sort()).toEqual(snaps.map((x) => x.snapshot_id).sort());
    for (const e of res.entries) expect(e.snapshot!.ready_to_use).toBe(true);
    for (const e of res.entries) expect(Number(e.snapshot!.creation_time?.seconds ?? 0)).toBeGreaterThan(0);
  });

  test('by snapshot_id: exactly that one', async () => {
    const res = await list({ snapshot_id: snaps[1]!.snapshot_id });
    expect(res.entries.map((e) => e.snapshot!.snapshot_id)).toEqual([snaps[1]!.snapshot_id]);
    expectWellFormed(res.entries[0]!.snapshot!, volumes[1]!.volume_id);
  });

  test('by source_volume_id: exactly that volume’s snapshots', async () => {
    const res = await list({ source_volume_id: volumes[0]!.volume_id });
    expect(res.entries.map((e) => e.snapshot!.snapshot_id)).toEqual([snaps[0]!.snapshot_id]);
    const three = await list({ source_volume_id: volumes[2]!.volume_id });
    expect(three.entries).toHaveLength(3);
    for (const e of three.entries) expect(e.snapshot!.source_volume_id).toBe(volumes[2]!.volume_id);
  });

  test('an unknown snapshot_id or source_volume_id: an empty list, not an error', async () => {
    for (const req of [
      { snapshot_id: 'none-exist-id' },
      { snapshot_id: MISSING_SNAP },
      { source_volume_id: MISSING_VOL },
      { source_volume_id: 'fake-vol-id-0123456789' },
    ]) {
      expect((await list(req)).entries).toEqual([]);
    }
  });

  test('max_entries pages through every snapshot exactly once; the rest comes without max_entries', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const res = await list({ max_entries: 2, starting_token: token });
      expect(res.entries.length).toBeLessThanOrEqual(2);
      seen.push(...res.entries.map((e) => e.snapshot!.snapshot_id));
      token = res.next_token;
      pages++;
    } while (token !== '' && pages < 50);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(snaps.map((x) => x.snapshot_id).sort());
    const first = await list({ max_entries: 2 });
    const rest = await list({ starting_token: first.next_token });
    expect(rest.entries).toHaveLength(snaps.length - 2);
  });

  test('a starting_token the driver never issued → ABORTED; negative max_entries → INVALID_ARGUMENT', async () => {
    expect(await codeOf(list({ starting_token: 'invalid-token' }))).toBe(grpcStatus.ABORTED);
    expect(await codeOf(list({ max_entries: -1 }))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('a new snapshot appears and a deleted one disappears', async () => {
    const before = (await list()).entries.length;
    const sn = await snap('sanity-listsnap-new', volumes[0]!.volume_id);
    expect((await list()).entries).toHaveLength(before + 1);
    await delSnap(sn.snapshot_id);
    const after = await list();
    expect(after.entries).toHaveLength(before);
    expect(after.entries.map((e) => e.snapshot!.snapshot_id)).not.toContain(sn.snapshot_id);
  });
});

describe('CreateVolume from a snapshot (restore)', () => {
  test('a new volume, reported with its content source, independent of the snapshot; idempotent', async () => {
    const v = await create('sanity-restore-src');
    const sn = await snap('sanity-restore-snap', v.volume_id);
    const req = { volume_content_source: { snapshot: { snapshot_id: sn.snapshot_id } } };
    const restored = await create('sanity-restore', req);
    expect(restored.content_source?.snapshot?.snapshot_id).toBe(sn.snapshot_id);
    expect(Number(restored.capacity_bytes)).toBeGreaterThanOrEqual(Number(sn.size_bytes));
    expect(s.sim.array.volume(arrayName(restored.volume_id))).toBeDefined();
    expect((await create('sanity-restore', req)).volume_id).toBe(restored.volume_id);
    await eventually(() => activeTasks() === 0);
    // The restored volume outlives its snapshot and source.
    await delSnap(sn.snapshot_id);
    await delVolume(v.volume_id);
    expect(s.sim.array.volume(arrayName(restored.volume_id))).toBeDefined();
    await delVolume(restored.volume_id);
  });

  test('a larger size than the snapshot is honoured', async () => {
    const v = await create('sanity-restore-big-src', { capacity_range: { required_bytes: String(GiB) } });
    const sn = await snap('sanity-restore-big-snap', v.volume_id);
    const restored = await create('sanity-restore-big', {
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_content_source: { snapshot: { snapshot_id: sn.snapshot_id } },
    });
    expect(Number(restored.capacity_bytes)).toBeGreaterThanOrEqual(2 * GiB);
    await eventually(() => activeTasks() === 0);
    expect(s.sim.array.volume(arrayName(restored.volume_id))!.sizeMiB * MiB).toBe(Number(restored.capacity_bytes));
    await delVolume(restored.volume_id);
    await delSnap(sn.snapshot_id);
    await delVolume(v.volume_id);
  });

  test('a size smaller than the snapshot → OUT_OF_RANGE, nothing created', async () => {
    const v = await create('sanity-restore-small-src', { capacity_range: { required_bytes: String(2 * GiB) } });
    const sn = await snap('sanity-restore-small-snap', v.volume_id);
    const before = s.sim.array.volumes.length;
    const code = await codeOf(
      create('sanity-restore-small', {
        capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
        volume_content_source: { snapshot: { snapshot_id: sn.snapshot_id } },
      }),
    );
    expect(code).toBe(grpcStatus.OUT_OF_RANGE);
    expect(s.sim.array.volumes.length).toBe(before);
    await delSnap(sn.snapshot_id);
    await delVolume(v.volume_id);
  });

  test('the same name with another source snapshot → ALREADY_EXISTS', async () => {
    const v = await create('sanity-restore-clash-src');
    const a = await snap('sanity-restore-clash-a', v.volume_id);
    const b = await snap('sanity-restore-clash-b', v.volume_id);
    const restored = await create('sanity-restore-clash', {
      volume_content_source: { snapshot: { snapshot_id: a.snapshot_id } },
    });
    expect(
      await codeOf(
        create('sanity-restore-clash', { volume_content_source: { snapshot: { snapshot_id: b.snapshot_id } } }),
      ),
    ).toBe(grpcStatus.ALREADY_EXISTS);
    expect(await codeOf(create('sanity-restore-clash'))).toBe(grpcStatus.ALREADY_EXISTS);
    await eventually(() => activeTasks() === 0);
    await delVolume(restored.volume_id);
    await delSnap(a.snapshot_id);
    await delSnap(b.snapshot_id);
    await delVolume(v.volume_id);
  });
});

describe('CreateVolume from a volume (clone)', () => {
  test('a new volume with the source as content source, at least the source’s size; idempotent', async () => {
    const v = await create('sanity-clone-src', { capacity_range: { required_bytes: String(GiB) } });
    const req = { volume_content_source: { volume: { volume_id: v.volume_id } } };
    const clone = await create('sanity-clone', req);
    expect(clone.content_source?.volume?.volume_id).toBe(v.volume_id);
    expect(Number(clone.capacity_bytes)).toBeGreaterThanOrEqual(GiB);
    expect(clone.volume_id).not.toBe(v.volume_id);
    expect((await create('sanity-clone', req)).volume_id).toBe(clone.volume_id);
    await eventually(() => activeTasks() === 0);
    // The clone is independent: deleting the source leaves it.
    await delVolume(v.volume_id);
    expect(s.sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
    expect(s.sim.array.volume(arrayName(clone.volume_id))).toBeDefined();
    await delVolume(clone.volume_id);
  });

  test('a size smaller than the source → OUT_OF_RANGE', async () => {
    const v = await create('sanity-clone-small-src', { capacity_range: { required_bytes: String(2 * GiB) } });
    expect(
      await codeOf(
        create('sanity-clone-small', {
          capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
          volume_content_source: { volume: { volume_id: v.volume_id } },
        }),
      ),
    ).toBe(grpcStatus.OUT_OF_RANGE);
    await delVolume(v.volume_id);
  });

  test('a snapshot id given as source volume → NOT_FOUND', async () => {
    const v = await create('sanity-clone-of-snapid-src');
    const sn = await snap('sanity-clone-of-snapid', v.volume_id);
    expect(
      await codeOf(
        create('sanity-clone-of-snapid', { volume_content_source: { volume: { volume_id: sn.snapshot_id } } }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    await delSnap(sn.snapshot_id);
    await delVolume(v.volume_id);
  });
});

describe('deleting a volume that has snapshots', () => {
  test('succeeds; the volume leaves every list and get, the snapshot stays usable, the last snapshot delete removes all', async () => {
    const v = await create('sanity-softdel');
    const sn = await snap('sanity-softdel-snap', v.volume_id);
    await delVolume(v.volume_id);
    expect(await codeOf(s.controller.call('ControllerGetVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    const listed = await s.controller.call('ListVolumes', {});
    expect(listed.entries.map((e) => e.volume!.volume_id)).not.toContain(v.volume_id);
    await delVolume(v.volume_id);
    const restored = await create('sanity-softdel-restore', {
      volume_content_source: { snapshot: { snapshot_id: sn.snapshot_id } },
    });
    await eventually(() => activeTasks() === 0);
    await delVolume(restored.volume_id);
    // The name may be reused at once for a new, unrelated volume.
    const again = await create('sanity-softdel');
    expect(s.sim.array.volume(arrayName(again.volume_id))).toBeDefined();
    await delVolume(again.volume_id);
    await delSnap(sn.snapshot_id);
    expect(s.sim.array.volumes.map((x) => x.name)).toEqual([]);
  });
});

describe('at the end', () => {
  test('the array holds no volume, snapshot or running task this file created', async () => {
    await eventually(() => activeTasks() === 0);
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
  });
});
