/**
 * Conformance: the Controller's volume RPCs against the full driver and its embedded array —
 * CreateVolume / DeleteVolume / ValidateVolumeCapabilities / ControllerGetVolume /
 * ControllerExpandVolume / ListVolumes / GetCapacity / ControllerGetCapabilities, each checked
 * against the CSI v1.12 spec's MUST and SHOULD lines (and what csi-sanity checks), by gRPC
 * status code and by what the array holds afterwards. Requests carry no class parameters, as a
 * conformance tool sends them: the simulator backend's defaults apply.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { arrayName, eventually, GiB, MiB, mountCap, blockCap, startSanity, type Obj, type Sanity } from './harness.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';

let s: Sanity;
beforeAll(async () => {
  s = await startSanity();
});
afterAll(async () => {
  await s.close();
});

const create = (name: string, extra: Obj = {}) => s.createVolume(name, extra);
const del = (volumeId: string) => s.controller.call('DeleteVolume', { volume_id: volumeId });
const onArray = (v: Volume) => s.sim.array.volume(arrayName(v.volume_id));
/** An id in the driver's own format that names no volume. */
const MISSING = 'sim/csv-aaaaaaaaaaaaaaaaaaaa';

describe('ControllerGetCapabilities', () => {
  test('only known RPC capability types, each once', async () => {
    const res = await s.controller.call('ControllerGetCapabilities');
    const types = res.capabilities.map((c) => c.rpc!.type);
    const known = [
      'CREATE_DELETE_VOLUME',
      'PUBLISH_UNPUBLISH_VOLUME',
      'LIST_VOLUMES',
      'GET_CAPACITY',
      'CREATE_DELETE_SNAPSHOT',
      'LIST_SNAPSHOTS',
      'CLONE_VOLUME',
      'PUBLISH_READONLY',
      'EXPAND_VOLUME',
      'LIST_VOLUMES_PUBLISHED_NODES',
      'VOLUME_CONDITION',
      'GET_VOLUME',
      'SINGLE_NODE_MULTI_WRITER',
      'MODIFY_VOLUME',
      'GET_SNAPSHOT',
    ];
    for (const t of types) expect(known).toContain(t);
    expect(new Set(types).size).toBe(types.length);
  });

  test('the capabilities this suite relies on are advertised', async () => {
    const res = await s.controller.call('ControllerGetCapabilities');
    expect(res.capabilities.map((c) => c.rpc!.type)).toEqual(
      expect.arrayContaining([
        'CREATE_DELETE_VOLUME',
        'PUBLISH_UNPUBLISH_VOLUME',
        'LIST_VOLUMES',
        'GET_CAPACITY',
        'CREATE_DELETE_SNAPSHOT',
        'LIST_SNAPSHOTS',
        'CLONE_VOLUME',
        'EXPAND_VOLUME',
        'GET_VOLUME',
      ]),
    );
  });

  test('ControllerModifyVolume (MODIFY_VOLUME advertised): the spec’s errors', async () => {
    const res = await s.controller.call('ControllerGetCapabilities');
    expect(res.capabilities.map((c) => c.rpc!.type)).toContain('MODIFY_VOLUME');
    // As csi-sanity checks them: no id → INVALID_ARGUMENT, unknown volume → NOT_FOUND, unknown
    // mutable parameter → INVALID_ARGUMENT (on modify and on create), the volume unchanged.
    expect(await codeOf(s.controller.call('ControllerModifyVolume', { mutable_parameters: {} }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(
      await codeOf(
        s.controller.call('ControllerModifyVolume', { volume_id: 'non-existing-volume-id', mutable_parameters: {} }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    expect(
      await codeOf(s.controller.call('ControllerModifyVolume', { volume_id: MISSING, mutable_parameters: {} })),
    ).toBe(grpcStatus.NOT_FOUND);
    const v = await create('sanity-modify');
    const before = JSON.stringify(onArray(v));
    expect(
      await codeOf(
        s.controller.call('ControllerModifyVolume', {
          volume_id: v.volume_id,
          mutable_parameters: { XXX_FakeKey: 'XXX_FakeValue' },
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(JSON.stringify(onArray(v))).toBe(before);
    expect(await codeOf(create('sanity-modify-create', { mutable_parameters: { XXX_FakeKey: 'XXX_FakeValue' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    // An empty change is a no-op that succeeds.
    await s.controller.call('ControllerModifyVolume', { volume_id: v.volume_id, mutable_parameters: {} });
    await del(v.volume_id);
  });
});

describe('CreateVolume', () => {
  test('without parameters or capacity: a volume of a positive size on the array, id within 128 bytes', async () => {
    const v = await create('sanity-plain');
    expect(v.volume_id).not.toBe('');
    expect(Buffer.byteLength(v.volume_id)).toBeLessThanOrEqual(128);
    expect(Number(v.capacity_bytes)).toBeGreaterThan(0);
    expect(onArray(v)).toBeDefined();
    await del(v.volume_id);
  });

  test('capacity_bytes is at least required_bytes and at most limit_bytes', async () => {
    const v = await create('sanity-range', {
      capacity_range: { required_bytes: String(300 * MiB), limit_bytes: String(GiB) },
    });
    expect(Number(v.capacity_bytes)).toBeGreaterThanOrEqual(300 * MiB);
    expect(Number(v.capacity_bytes)).toBeLessThanOrEqual(GiB);
    expect(onArray(v)!.sizeMiB * MiB).toBe(Number(v.capacity_bytes));
    await del(v.volume_id);
  });

  test('required equal to limit is honoured exactly when the array can make that size', async () => {
    const v = await create('sanity-exact', {
      capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
    });
    expect(v.capacity_bytes).toBe(String(GiB));
    await del(v.volume_id);
  });

  test('a repeat with the same name and arguments returns the same volume and creates nothing more', async () => {
    const req = { capacity_range: { required_bytes: String(GiB) } };
    const a = await create('sanity-twice', req);
    const count = s.sim.array.volumes.length;
    const b = await create('sanity-twice', req);
    expect(b.volume_id).toBe(a.volume_id);
    expect(b.capacity_bytes).toBe(a.capacity_bytes);
    expect(s.sim.array.volumes.length).toBe(count);
    await del(a.volume_id);
  });

  test('a repeat with the same name but an incompatible size → ALREADY_EXISTS, the volume unchanged', async () => {
    const a = await create('sanity-twice-different', {
      capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
    });
    const code = await codeOf(
      create('sanity-twice-different', {
        capacity_range: { required_bytes: String(2 * GiB), limit_bytes: String(2 * GiB) },
      }),
    );
    expect(code).toBe(grpcStatus.ALREADY_EXISTS);
    expect(onArray(a)!.sizeMiB).toBe(1024);
    await del(a.volume_id);
  });

  test('a repeat with the same name but an incompatible access mode → ALREADY_EXISTS', async () => {
    const a = await create('sanity-twice-mode', { volume_capabilities: [blockCap('SINGLE_NODE_WRITER')] });
    expect(
      await codeOf(create('sanity-twice-mode', { volume_capabilities: [blockCap('MULTI_NODE_MULTI_WRITER')] })),
    ).toBe(grpcStatus.ALREADY_EXISTS);
    await del(a.volume_id);
  });

  test('concurrent identical requests: each succeeds with the one volume or is ABORTED (operation pending); one volume on the array', async () => {
    const before = s.sim.array.volumes.length;
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => create('sanity-concurrent')));
    const ids = new Set<string>();
    for (const r of results) {
      if (r.status === 'fulfilled') ids.add(r.value.volume_id);
      else expect((r.reason as { code: number }).code).toBe(grpcStatus.ABORTED);
    }
    expect(ids.size).toBeLessThanOrEqual(1);
    const v = await create('sanity-concurrent');
    if (ids.size === 1) expect([...ids][0]).toBe(v.volume_id);
    expect(s.sim.array.volumes.length).toBe(before + 1);
    const deletes = await Promise.allSettled(Array.from({ length: 4 }, () => del(v.volume_id)));
    for (const r of deletes)
      if (r.status === 'rejected') expect((r.reason as { code: number }).code).toBe(grpcStatus.ABORTED);
    await del(v.volume_id);
    expect(onArray(v)).toBeUndefined();
  });

  test('a call that times out on a slow array is retried (as the provisioner does) into the one volume', async () => {
    const before = s.sim.array.volumes.length;
    // The array holds the create until the call's deadline has passed.
    const hold = s.sim.faults.hold({ method: 'POST', path: '^/api/v1/volumes$' });
    try {
      expect(
        await codeOf(
          s.controller.call(
            'CreateVolume',
            { name: 'sanity-timeout', volume_capabilities: [mountCap()] },
            { deadlineMs: 300 },
          ),
        ),
      ).toBe(grpcStatus.DEADLINE_EXCEEDED);
    } finally {
      hold.release();
    }
    // While the first attempt still runs, a retry may be ABORTED; then it succeeds.
    let v: Volume | undefined;
    await eventually(async () => {
      try {
        v = await create('sanity-timeout');
        return true;
      } catch (err) {
        expect((err as { code: number }).code).toBe(grpcStatus.ABORTED);
        return false;
      }
    });
    expect(s.sim.array.volumes.length).toBe(before + 1);
    await del(v!.volume_id);
  });

  test('a name of 128 bytes (the length the spec asks SPs to support) works', async () => {
    const name = `sanity-maxlen-${'a'.repeat(128 - 'sanity-maxlen-'.length)}`;
    expect(Buffer.byteLength(name)).toBe(128);
    const v = await create(name);
    expect((await create(name)).volume_id).toBe(v.volume_id);
    await del(v.volume_id);
  });

  test('names differing only in case or far apart in length map to different volumes', async () => {
    const a = await create('Sanity-Case');
    const b = await create('sanity-case');
    expect(a.volume_id).not.toBe(b.volume_id);
    await del(a.volume_id);
    await del(b.volume_id);
  });

  test.each<[string, Obj]>([
    ['no name', { name: '' }],
    ['no volume_capabilities', { volume_capabilities: [] }],
    ['a capability without access mode', { volume_capabilities: [{ mount: { fs_type: '' } }] }],
    ['a capability without access type', { volume_capabilities: [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }],
    ['a content source naming neither a snapshot nor a volume', { volume_content_source: {} }],
    ['a snapshot source without id', { volume_content_source: { snapshot: { snapshot_id: '' } } }],
    ['a volume source without id', { volume_content_source: { volume: { volume_id: '' } } }],
  ])('%s → INVALID_ARGUMENT, nothing created', async (_what, extra) => {
    const before = s.sim.array.volumes.length;
    expect(
      await codeOf(
        s.controller.call('CreateVolume', { name: 'sanity-invalid', volume_capabilities: [mountCap()], ...extra }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(s.sim.array.volumes.length).toBe(before);
  });

  test('a filesystem volume for several writers (an unsupported capability) → INVALID_ARGUMENT', async () => {
    const code = await codeOf(create('sanity-rwx-fs', { volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] }));
    expect(code).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('limit_bytes below required_bytes → OUT_OF_RANGE (or INVALID_ARGUMENT), nothing created', async () => {
    const before = s.sim.array.volumes.length;
    const code = await codeOf(
      create('sanity-inverted', { capacity_range: { required_bytes: String(2 * GiB), limit_bytes: String(GiB) } }),
    );
    expect([grpcStatus.OUT_OF_RANGE, grpcStatus.INVALID_ARGUMENT]).toContain(code);
    expect(s.sim.array.volumes.length).toBe(before);
  });

  test('a range the array cannot satisfy → OUT_OF_RANGE, nothing created', async () => {
    const before = s.sim.array.volumes.length;
    expect(
      await codeOf(create('sanity-tiny', { capacity_range: { required_bytes: '1', limit_bytes: String(MiB) } })),
    ).toBe(grpcStatus.OUT_OF_RANGE);
    expect(await codeOf(create('sanity-huge', { capacity_range: { required_bytes: String(1024 * 1024 * GiB) } }))).toBe(
      grpcStatus.OUT_OF_RANGE,
    );
    expect(s.sim.array.volumes.length).toBe(before);
  });

  test('a negative size → INVALID_ARGUMENT or OUT_OF_RANGE', async () => {
    const code = await codeOf(create('sanity-negative', { capacity_range: { required_bytes: '-1' } }));
    expect([grpcStatus.INVALID_ARGUMENT, grpcStatus.OUT_OF_RANGE]).toContain(code);
  });

  test('a source snapshot that does not exist → NOT_FOUND (ids of any shape)', async () => {
    for (const id of ['non-existing-snapshot-id', 'sim/css-aaaaaaaaaaaaaaaaaaaa', 'nobackend/css-x']) {
      expect(
        await codeOf(create('sanity-from-missing-snap', { volume_content_source: { snapshot: { snapshot_id: id } } })),
      ).toBe(grpcStatus.NOT_FOUND);
    }
  });

  test('a source volume that does not exist → NOT_FOUND (ids of any shape)', async () => {
    for (const id of ['fake-vol-id-0123456789', MISSING, 'nobackend/csv-x']) {
      expect(
        await codeOf(create('sanity-from-missing-vol', { volume_content_source: { volume: { volume_id: id } } })),
      ).toBe(grpcStatus.NOT_FOUND);
    }
  });

  test('an unknown class parameter → INVALID_ARGUMENT', async () => {
    expect(await codeOf(create('sanity-bad-param', { parameters: { 'no-such-parameter': 'x' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('the sidecars’ csi.storage.k8s.io/* metadata parameters are accepted', async () => {
    const v = await create('sanity-metadata', {
      parameters: {
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'ns',
        'csi.storage.k8s.io/pv/name': 'pvc-123',
      },
    });
    await del(v.volume_id);
  });
});

describe('DeleteVolume', () => {
  test('deletes the volume from the array; a repeat succeeds', async () => {
    const v = await create('sanity-delete');
    await del(v.volume_id);
    expect(onArray(v)).toBeUndefined();
    await del(v.volume_id);
  });

  test('an id that names no volume, or is malformed, succeeds', async () => {
    for (const id of [MISSING, 'fake-vol-id', 'nobackend/csv-x', 'sim/', '/']) await del(id);
  });

  test('no volume_id → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('DeleteVolume', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});

describe('ValidateVolumeCapabilities', () => {
  let v: Volume;
  beforeAll(async () => {
    v = await create('sanity-validate');
  });
  afterAll(async () => {
    await del(v.volume_id);
  });

  test('confirms a supported capability and echoes the confirmed capabilities', async () => {
    const res = await s.controller.call('ValidateVolumeCapabilities', {
      volume_id: v.volume_id,
      volume_capabilities: [mountCap()],
    });
    expect(res.confirmed).not.toBeNull();
    expect(res.confirmed!.volume_capabilities.length).toBeGreaterThan(0);
  });

  test('does not confirm an unsupported capability (no error: confirmed is empty)', async () => {
    const res = await s.controller.call('ValidateVolumeCapabilities', {
      volume_id: v.volume_id,
      volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')],
    });
    expect(res.confirmed).toBeNull();
  });

  test('no volume_id, or no capabilities → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('ValidateVolumeCapabilities', { volume_capabilities: [mountCap()] }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(await codeOf(s.controller.call('ValidateVolumeCapabilities', { volume_id: v.volume_id }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('a volume that does not exist → NOT_FOUND (ids of any shape)', async () => {
    for (const id of [MISSING, 'fake-vol-id-0123456789', 'nobackend/csv-x']) {
      expect(
        await codeOf(
          s.controller.call('ValidateVolumeCapabilities', { volume_id: id, volume_capabilities: [mountCap()] }),
        ),
      ).toBe(grpcStatus.NOT_FOUND);
    }
  });
});

describe('ControllerGetVolume', () => {
  test('reports the volume with its size and an unpublished, normal status', async () => {
    const v = await create('sanity-get');
    const res = await s.controller.call('ControllerGetVolume', { volume_id: v.volume_id });
    expect(res.volume!.volume_id).toBe(v.volume_id);
    expect(res.volume!.capacity_bytes).toBe(v.capacity_bytes);
    expect(res.status!.published_node_ids).toEqual([]);
    expect(res.status!.volume_condition?.abnormal ?? false).toBe(false);
    await del(v.volume_id);
  });

  test('no volume_id → INVALID_ARGUMENT; a volume that does not exist → NOT_FOUND', async () => {
    expect(await codeOf(s.controller.call('ControllerGetVolume', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    for (const id of [MISSING, 'fake-vol-id-0123456789', 'nobackend/csv-x']) {
      expect(await codeOf(s.controller.call('ControllerGetVolume', { volume_id: id }))).toBe(grpcStatus.NOT_FOUND);
    }
  });

  test('a deleted volume → NOT_FOUND', async () => {
    const v = await create('sanity-get-deleted');
    await del(v.volume_id);
    expect(await codeOf(s.controller.call('ControllerGetVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.NOT_FOUND,
    );
  });
});

describe('ControllerExpandVolume', () => {
  test('grows the volume on the array to at least the requested size; node expansion is required for a filesystem', async () => {
    const v = await create('sanity-expand', { capacity_range: { required_bytes: String(GiB) } });
    const res = await s.controller.call('ControllerExpandVolume', {
      volume_id: v.volume_id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: mountCap(),
    });
    expect(Number(res.capacity_bytes)).toBeGreaterThanOrEqual(2 * GiB);
    expect(res.node_expansion_required).toBe(true);
    expect(onArray(v)!.sizeMiB * MiB).toBe(Number(res.capacity_bytes));
    await del(v.volume_id);
  });

  test('csi-sanity asks for exactly size + 1 GiB and expects exactly that back', async () => {
    const v = await create('sanity-expand-exact', {
      capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
    });
    const res = await s.controller.call('ControllerExpandVolume', {
      volume_id: v.volume_id,
      capacity_range: { required_bytes: String(2 * GiB) },
    });
    expect(res.capacity_bytes).toBe(String(2 * GiB));
    await del(v.volume_id);
  });

  test('a repeat, or a request for a size the volume already has, succeeds without shrinking', async () => {
    const v = await create('sanity-expand-twice', { capacity_range: { required_bytes: String(GiB) } });
    const req = { volume_id: v.volume_id, capacity_range: { required_bytes: String(2 * GiB) } };
    const a = await s.controller.call('ControllerExpandVolume', req);
    const b = await s.controller.call('ControllerExpandVolume', req);
    expect(b.capacity_bytes).toBe(a.capacity_bytes);
    const smaller = await s.controller.call('ControllerExpandVolume', {
      volume_id: v.volume_id,
      capacity_range: { required_bytes: String(GiB) },
    });
    expect(smaller.capacity_bytes).toBe(a.capacity_bytes);
    expect(onArray(v)!.sizeMiB * MiB).toBe(Number(a.capacity_bytes));
    await del(v.volume_id);
  });

  test('a raw block volume grows on the array too', async () => {
    const v = await create('sanity-expand-block', {
      volume_capabilities: [blockCap()],
      capacity_range: { required_bytes: String(GiB) },
    });
    const res = await s.controller.call('ControllerExpandVolume', {
      volume_id: v.volume_id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: blockCap(),
    });
    expect(Number(res.capacity_bytes)).toBeGreaterThanOrEqual(2 * GiB);
    await del(v.volume_id);
  });

  test('no volume_id, or no capacity_range → INVALID_ARGUMENT', async () => {
    expect(
      await codeOf(
        s.controller.call('ControllerExpandVolume', { capacity_range: { required_bytes: String(2 * GiB) } }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    const v = await create('sanity-expand-invalid');
    expect(await codeOf(s.controller.call('ControllerExpandVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    await del(v.volume_id);
  });

  test('a volume that does not exist → NOT_FOUND', async () => {
    for (const id of [MISSING, 'fake-vol-id-0123456789']) {
      expect(
        await codeOf(
          s.controller.call('ControllerExpandVolume', {
            volume_id: id,
            capacity_range: { required_bytes: String(2 * GiB) },
          }),
        ),
      ).toBe(grpcStatus.NOT_FOUND);
    }
  });

  test('a size the array cannot reach → OUT_OF_RANGE, the volume unchanged', async () => {
    const v = await create('sanity-expand-huge', { capacity_range: { required_bytes: String(GiB) } });
    expect(
      await codeOf(
        s.controller.call('ControllerExpandVolume', {
          volume_id: v.volume_id,
          capacity_range: { required_bytes: String(1024 * 1024 * GiB) },
        }),
      ),
    ).toBe(grpcStatus.OUT_OF_RANGE);
    expect(onArray(v)!.sizeMiB).toBe(1024);
    await del(v.volume_id);
  });
});

describe('ListVolumes', () => {
  const ids: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) ids.push((await create(`sanity-list-${i}`)).volume_id);
  });
  afterAll(async () => {
    for (const id of ids) await del(id);
  });

  const listAll = async (maxEntries = 0): Promise<{ pages: number; ids: string[] }> => {
    const out: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const res = await s.controller.call('ListVolumes', { max_entries: maxEntries, starting_token: token });
      if (maxEntries > 0) expect(res.entries.length).toBeLessThanOrEqual(maxEntries);
      out.push(...res.entries.map((e) => e.volume!.volume_id));
      token = res.next_token;
      pages++;
    } while (token !== '' && pages < 100);
    return { pages, ids: out };
  };

  test('without max_entries: every volume, each with an id, and no next_token', async () => {
    const res = await s.controller.call('ListVolumes', {});
    expect(res.next_token).toBe('');
    for (const e of res.entries) expect(e.volume!.volume_id).not.toBe('');
    expect(res.entries.map((e) => e.volume!.volume_id)).toEqual(expect.arrayContaining(ids));
  });

  test('max_entries pages through every volume exactly once', async () => {
    const all = await listAll();
    const paged = await listAll(2);
    expect(paged.pages).toBeGreaterThanOrEqual(3);
    expect(new Set(paged.ids).size).toBe(paged.ids.length);
    expect([...paged.ids].sort()).toEqual([...all.ids].sort());
  });

  test('a page of max_entries, then the rest from next_token without max_entries', async () => {
    const total = (await listAll()).ids.length;
    const first = await s.controller.call('ListVolumes', { max_entries: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.next_token).not.toBe('');
    const rest = await s.controller.call('ListVolumes', { starting_token: first.next_token });
    expect(rest.entries).toHaveLength(total - 2);
    expect(rest.next_token).toBe('');
  });

  test('a token stays usable when volumes are created or deleted between pages; no entry twice, none invented', async () => {
    const first = await s.controller.call('ListVolumes', { max_entries: 2 });
    expect(first.next_token).not.toBe('');
    const extra = await create('sanity-list-between');
    const victim = await create('sanity-list-victim');
    await del(victim.volume_id);
    const seen = first.entries.map((e) => e.volume!.volume_id);
    let token = first.next_token;
    while (token !== '') {
      const res = await s.controller.call('ListVolumes', { max_entries: 2, starting_token: token });
      seen.push(...res.entries.map((e) => e.volume!.volume_id));
      token = res.next_token;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const existing = new Set((await listAll()).ids);
    // Entries may be stale (the deleted one) or miss the new one, but all were real volumes.
    for (const id of seen) expect(existing.has(id) || id === victim.volume_id).toBe(true);
    for (const id of ids) expect(seen).toContain(id);
    await del(extra.volume_id);
  });

  test('a starting_token the driver never issued → ABORTED', async () => {
    expect(await codeOf(s.controller.call('ListVolumes', { starting_token: 'invalid-token' }))).toBe(
      grpcStatus.ABORTED,
    );
  });

  test('negative max_entries → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('ListVolumes', { max_entries: -1 }))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('a new volume appears and a deleted one disappears', async () => {
    const before = (await listAll()).ids.length;
    const v = await create('sanity-list-new');
    expect((await listAll()).ids).toContain(v.volume_id);
    expect((await listAll()).ids.length).toBe(before + 1);
    await del(v.volume_id);
    const after = (await listAll()).ids;
    expect(after).not.toContain(v.volume_id);
    expect(after.length).toBe(before);
  });

  test('entries carry the published-node status the capability promises', async () => {
    const res = await s.controller.call('ListVolumes', {});
    for (const e of res.entries) expect(e.status?.published_node_ids).toEqual([]);
  });
});

describe('GetCapacity', () => {
  test('without parameters: the default pool’s free space, and it shrinks after a fully provisioned create', async () => {
    const a = await s.controller.call('GetCapacity', {});
    expect(Number(a.available_capacity)).toBeGreaterThan(0);
    const v = await create('sanity-capacity-full', {
      parameters: { provisioningType: 'full' },
      capacity_range: { required_bytes: String(4 * GiB) },
    });
    const b = await s.controller.call('GetCapacity', {});
    expect(Number(b.available_capacity)).toBeLessThan(Number(a.available_capacity));
    await del(v.volume_id);
  });

  test('with capabilities and parameters of a class', async () => {
    const res = await s.controller.call('GetCapacity', {
      volume_capabilities: [mountCap()],
      parameters: { cpg: 'FC_r6' },
    });
    expect(Number(res.available_capacity)).toBeGreaterThan(0);
    if (res.maximum_volume_size)
      expect(Number(res.maximum_volume_size.value)).toBeLessThanOrEqual(Number(res.available_capacity));
  });

  test('an unknown parameter → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('GetCapacity', { parameters: { 'no-such-parameter': 'x' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });
});

describe('at the end', () => {
  test('the array holds no volume this file created', () => {
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
  });
});
