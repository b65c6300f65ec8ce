/**
 * Controller service over the real gRPC server and the simulator: CreateVolume / DeleteVolume /
 * Expand / GetVolume / ValidateVolumeCapabilities / GetCapacity / capabilities — success,
 * idempotent repeats, the spec's error codes, and WSAPI requests per RPC.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import {
  arrayRequests,
  backendOf,
  blockCap,
  CLUSTER,
  DRIVER,
  GiB,
  MiB,
  mountCap,
  startDriver,
  type Driver,
  startOnSim,
} from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim());
});
afterAll(() => stop());

const create = (name: string, extra: Record<string, unknown> = {}) =>
  d.client.call('CreateVolume', {
    name,
    volume_capabilities: [mountCap()],
    capacity_range: { required_bytes: String(GiB) },
    parameters: { cpg: 'CPG1' },
    ...extra,
  });

describe('capabilities', () => {
  test('advertises the controller capabilities (read-only publish withheld by default)', async () => {
    const res = await d.client.call('ControllerGetCapabilities');
    const types = res.capabilities.map((c) => c.rpc!.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'CREATE_DELETE_VOLUME',
        'PUBLISH_UNPUBLISH_VOLUME',
        'LIST_VOLUMES',
        'GET_CAPACITY',
        'CREATE_DELETE_SNAPSHOT',
        'LIST_SNAPSHOTS',
        'CLONE_VOLUME',
        'EXPAND_VOLUME',
        'VOLUME_CONDITION',
        'GET_VOLUME',
        'SINGLE_NODE_MULTI_WRITER',
        'GET_SNAPSHOT',
        'LIST_VOLUMES_PUBLISHED_NODES',
      ]),
    );
    expect(types).not.toContain('PUBLISH_READONLY');
  });
});

describe('CreateVolume', () => {
  test('creates a marked volume in one WSAPI request; the repeat returns it in two', async () => {
    sim.resetRequests();
    const res = await create('pvc-one', {
      parameters: {
        cpg: 'CPG1',
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'ns1',
        fsOwner: '1000:1000',
      },
    });
    expect(arrayRequests(sim)).toEqual(['POST /api/v1/volumes']);
    expect(res.volume!.volume_id).toMatch(/^sim\/csv-[a-z2-7]{20}$/);
    expect(res.volume!.capacity_bytes).toBe(String(GiB));
    expect(res.volume!.volume_context).toMatchObject({
      protocol: 'iscsi',
      createdEmpty: 'true',
      backend: 'sim',
      fsOwner: '1000:1000',
    });
    const name = res.volume!.volume_id.split('/')[1]!;
    const rec = sim.array.volume(name)!;
    expect(rec.policies.oneHost).toBe(true);
    expect(JSON.parse(rec.comment!)).toMatchObject({
      v: 1,
      d: DRIVER,
      c: CLUSTER,
      n: 'pvc-one',
      e: 1,
      pvc: 'ns1/data',
    });
    sim.resetRequests();
    const again = await create('pvc-one', {
      parameters: {
        cpg: 'CPG1',
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'ns1',
        fsOwner: '1000:1000',
      },
    });
    expect(again.volume!.volume_id).toBe(res.volume!.volume_id);
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
  });

  test('an incompatible repeat is ALREADY_EXISTS', async () => {
    await create('pvc-incompat');
    expect(await codeOf(create('pvc-incompat', { parameters: { cpg: 'CPG1', provisioningType: 'full' } }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
    expect(await codeOf(create('pvc-incompat', { capacity_range: { required_bytes: String(2 * GiB) } }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
  });

  test.each([
    ['no name', { name: '' }],
    ['no capabilities', { volume_capabilities: [] }],
    ['multi-node writer on a filesystem', { volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] }],
    ['an unknown parameter', { parameters: { cpg: 'CPG1', colour: 'blue' } }],
    ['a bad provisioning type', { parameters: { cpg: 'CPG1', provisioningType: 'thick' } }],
    ['dedup on a 3.1.3 array', { parameters: { cpg: 'CPG1', provisioningType: 'dedup' } }],
    ['an unknown CPG', { parameters: { cpg: 'NOPE' } }],
    ['an unknown backend', { parameters: { cpg: 'CPG1', backend: 'other' } }],
  ])('%s → INVALID_ARGUMENT', async (_what, extra) => {
    expect(await codeOf(create('pvc-bad', extra))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('limit below what the array can create → OUT_OF_RANGE', async () => {
    expect(
      await codeOf(create('pvc-range', { capacity_range: { required_bytes: '1', limit_bytes: String(100 * MiB) } })),
    ).toBe(grpcStatus.OUT_OF_RANGE);
  });

  test('a fully provisioned volume larger than the CPG → RESOURCE_EXHAUSTED', async () => {
    expect(
      await codeOf(
        create('pvc-huge', {
          parameters: { cpg: 'CPG1', provisioningType: 'full' },
          capacity_range: { required_bytes: String(8 * 1024 * GiB) },
        }),
      ),
    ).toBe(grpcStatus.RESOURCE_EXHAUSTED);
  });

  test('multi-node writer raw block volumes are not single-host', async () => {
    const res = await create('pvc-rwx-block', { volume_capabilities: [blockCap('MULTI_NODE_MULTI_WRITER')] });
    expect(sim.array.volume(res.volume!.volume_id.split('/')[1]!)!.policies.oneHost).toBe(false);
  });

  test('xfs volumes are at least 512 MiB; the default size is 1 GiB', async () => {
    const xfs = await create('pvc-xfs', {
      volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'xfs')],
      capacity_range: { required_bytes: String(10 * MiB) },
    });
    expect(xfs.volume!.capacity_bytes).toBe(String(512 * MiB));
    const def = await create('pvc-default', { capacity_range: null });
    expect(def.volume!.capacity_bytes).toBe(String(GiB));
  });
});

describe('qosName', () => {
  test('the volume joins the VV set and leaves it before delete; a missing set leaves nothing', async () => {
    await wsapi.volumeSets.create('gold');
    const res = await create('pvc-qos', { parameters: { cpg: 'CPG1', qosName: 'gold' } });
    const rec = sim.array.volume(res.volume!.volume_id.split('/')[1]!)!;
    expect(sim.array.volumeSet('gold')!.members).toEqual([rec.id]);
    await d.client.call('DeleteVolume', { volume_id: res.volume!.volume_id });
    expect(sim.array.volume(rec.name)).toBeUndefined();
    expect(sim.array.volumeSet('gold')!.members).toEqual([]);
    await wsapi.volumeSets.delete('gold');
    const before = sim.array.volumes.length;
    expect(await codeOf(create('pvc-qos-missing', { parameters: { cpg: 'CPG1', qosName: 'silver' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(sim.array.volumes.length).toBe(before);
  });
});

describe('sessions', () => {
  test('expired array sessions are renewed transparently', async () => {
    sim.faults.expireSessions();
    const res = await create('pvc-after-expiry');
    expect(res.volume!.volume_id).toMatch(/^sim\//);
  });
});

describe('concurrency', () => {
  test('a duplicate CreateVolume while the first runs → ABORTED; one volume results', async () => {
    // The first call is held at the array's POST /volumes, so it is surely still running.
    const hold = sim.faults.hold({ method: 'POST', path: '^/api/v1/volumes$' });
    try {
      const first = create('pvc-dup');
      await hold.arrived();
      expect(await codeOf(create('pvc-dup'))).toBe(grpcStatus.ABORTED);
      hold.release();
      expect((await first).volume!.volume_id).toMatch(/^sim\//);
    } finally {
      hold.release();
    }
    expect((await create('pvc-dup')).volume!.volume_id).toMatch(/^sim\//);
  });
});

describe('DeleteVolume', () => {
  test('deletes in two WSAPI requests; unknown ids and repeats succeed', async () => {
    const res = await create('pvc-del');
    sim.resetRequests();
    await d.client.call('DeleteVolume', { volume_id: res.volume!.volume_id });
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    expect(sim.array.volume(res.volume!.volume_id.split('/')[1]!)).toBeUndefined();
    await d.client.call('DeleteVolume', { volume_id: res.volume!.volume_id });
    await d.client.call('DeleteVolume', { volume_id: 'nobackend/csv-x' });
    await d.client.call('DeleteVolume', { volume_id: 'garbage' });
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: '' }))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('a volume without this cluster marker is never deleted', async () => {
    const other = await startDriver([backendOf(sim, 'sim')], { clusterId: 'cluster-b' });
    try {
      const res = await other.client.call('CreateVolume', {
        name: 'pvc-foreign',
        volume_capabilities: [mountCap()],
        parameters: { cpg: 'CPG1' },
      });
      expect(await codeOf(d.client.call('DeleteVolume', { volume_id: res.volume!.volume_id }))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      expect(
        await codeOf(
          d.client.call('ControllerExpandVolume', {
            volume_id: res.volume!.volume_id,
            capacity_range: { required_bytes: String(4 * GiB) },
          }),
        ),
      ).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(
        await codeOf(
          d.client.call('ControllerPublishVolume', {
            volume_id: res.volume!.volume_id,
            node_id: 'n1;i=iqn.2020-01.com.example:n1',
            volume_capability: mountCap(),
            volume_context: {},
          }),
        ),
      ).toBe(grpcStatus.FAILED_PRECONDITION);
      const listed = await d.client.call('ListVolumes', {});
      expect(listed.entries.map((e) => e.volume!.volume_id)).not.toContain(res.volume!.volume_id);
      const rec = sim.array.volume(res.volume!.volume_id.split('/')[1]!)!;
      expect(rec.sizeMiB).toBe(1024);
      expect(sim.array.vluns.filter((l) => l.volumeId === rec.id)).toHaveLength(0);
      await other.client.call('DeleteVolume', { volume_id: res.volume!.volume_id });
    } finally {
      await other.stop();
    }
  });
});

describe('ControllerExpandVolume', () => {
  test('grows to the requested size; already large enough succeeds unchanged', async () => {
    const res = await create('pvc-grow');
    sim.resetRequests();
    const grown = await d.client.call('ControllerExpandVolume', {
      volume_id: res.volume!.volume_id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: mountCap(),
    });
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    expect(grown).toEqual({ capacity_bytes: String(2 * GiB), node_expansion_required: true });
    expect(sim.array.volume(res.volume!.volume_id.split('/')[1]!)!.sizeMiB).toBe(2048);
    const same = await d.client.call('ControllerExpandVolume', {
      volume_id: res.volume!.volume_id,
      capacity_range: { required_bytes: String(GiB) },
    });
    expect(same.capacity_bytes).toBe(String(2 * GiB));
    expect(
      await codeOf(
        d.client.call('ControllerExpandVolume', {
          volume_id: 'sim/csv-nothere',
          capacity_range: { required_bytes: String(GiB) },
        }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(d.client.call('ControllerExpandVolume', { volume_id: res.volume!.volume_id }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });
});

describe('ControllerGetVolume and ValidateVolumeCapabilities', () => {
  test('report the volume, its condition, and confirm supported capabilities', async () => {
    const res = await create('pvc-get');
    const got = await d.client.call('ControllerGetVolume', { volume_id: res.volume!.volume_id });
    expect(got.volume!.volume_id).toBe(res.volume!.volume_id);
    expect(got.status).toMatchObject({ published_node_ids: [], volume_condition: { abnormal: false } });
    expect(await codeOf(d.client.call('ControllerGetVolume', { volume_id: 'sim/csv-nothere' }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    const ok = await d.client.call('ValidateVolumeCapabilities', {
      volume_id: res.volume!.volume_id,
      volume_capabilities: [mountCap()],
    });
    expect(ok.confirmed).not.toBeNull();
    const multi = await d.client.call('ValidateVolumeCapabilities', {
      volume_id: res.volume!.volume_id,
      volume_capabilities: [mountCap('MULTI_NODE_READER_ONLY')],
    });
    expect(multi.confirmed).toBeNull();
    expect(
      await codeOf(
        d.client.call('ValidateVolumeCapabilities', {
          volume_id: 'sim/csv-nothere',
          volume_capabilities: [mountCap()],
        }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    expect(
      await codeOf(
        d.client.call('ValidateVolumeCapabilities', { volume_id: res.volume!.volume_id, volume_capabilities: [] }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});

describe('GetCapacity', () => {
  test('reports the CPG free space in one request (two while the CPG list is not cached)', async () => {
    sim.resetRequests();
    const cap = await d.client.call('GetCapacity', { parameters: { cpg: 'CPG1' }, volume_capabilities: [mountCap()] });
    expect(Number(cap.available_capacity)).toBeGreaterThan(0);
    // The CPG list (cached 5 min) tells whether the CPG has a growth limit (issue 16 item 13).
    expect(arrayRequests(sim).sort()).toEqual(['GET /api/v1/cpgs', 'POST /api/v1/spacereporter']);
    sim.resetRequests();
    await d.client.call('GetCapacity', { parameters: { cpg: 'CPG1' }, volume_capabilities: [mountCap()] });
    expect(arrayRequests(sim)).toEqual(['POST /api/v1/spacereporter']);
    expect(await codeOf(d.client.call('GetCapacity', { parameters: { cpg: 'CPG1', bogus: 'x' } }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });
});

describe('the end of the suite', () => {
  test('deleting every listed volume leaves nothing of this cluster on the array', async () => {
    const res = await d.client.call('ListVolumes', {});
    for (const e of res.entries) await d.client.call('DeleteVolume', { volume_id: e.volume!.volume_id });
    expect(sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(sim.array.vluns).toHaveLength(0);
    expect(sim.array.hosts).toHaveLength(0);
  });
});
