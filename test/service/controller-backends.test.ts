/**
 * Two backends (two simulators): ids route to their array, lists walk both, topology is honoured
 * and reported, GetCapacity follows the topology segment; array facts and health as metrics;
 * bad credentials and an unreachable array as clear UNAVAILABLE errors.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { Metrics } from '../../src/metrics.js';
import { topologyKey } from '../../src/csi/context.js';
import { failureOf, grpcStatus } from '../helpers/grpc.js';
import {
  backendOf,
  DRIVER,
  GiB,
  iscsiNode,
  mountCap,
  startDriver,
  startSim,
  type Driver,
} from '../helpers/controller-harness.js';

let simA: RunningSimulator;
let simB: RunningSimulator;
let d: Driver;
const metrics = new Metrics({ processMetrics: false });
const seg = (id: string) => ({ segments: { [topologyKey(DRIVER, id)]: 'true' } });

beforeAll(async () => {
  [simA, simB] = await Promise.all([startSim(), startSim()]);
  d = await startDriver([backendOf(simA, 'a', { default: true }), backendOf(simB, 'b')], {
    metrics,
    metricsRefreshMs: 50,
  });
});
afterAll(async () => {
  await d.stop();
  await Promise.all([simA.close(), simB.close()]);
});

const create = (name: string, extra: Record<string, unknown> = {}) =>
  d.client
    .call('CreateVolume', {
      name,
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1' },
      ...extra,
    })
    .then((r) => r.volume!);

describe('two backends', () => {
  test('the default backend, the class backend, and the preferred topology place volumes; topology is returned', async () => {
    const onA = await create('pvc-a');
    expect(onA.volume_id).toMatch(/^a\//);
    expect(onA.accessible_topology).toEqual([seg('a')]);
    const onB = await create('pvc-b', { parameters: { cpg: 'CPG1', backend: 'b' } });
    expect(onB.volume_id).toMatch(/^b\//);
    expect(simB.array.volume(onB.volume_id.split('/')[1]!)).toBeDefined();
    expect(simA.array.volume(onB.volume_id.split('/')[1]!)).toBeUndefined();
    const preferred = await create('pvc-pref', {
      accessibility_requirements: { requisite: [seg('a'), seg('b')], preferred: [seg('b')] },
    });
    expect(preferred.volume_id).toMatch(/^b\//);
    const requisite = await create('pvc-req', { accessibility_requirements: { requisite: [seg('b')], preferred: [] } });
    expect(requisite.volume_id).toMatch(/^b\//);
    expect(
      (
        await failureOf(
          create('pvc-conflict', {
            parameters: { cpg: 'CPG1', backend: 'a' },
            accessibility_requirements: { requisite: [seg('b')], preferred: [] },
          }),
        )
      ).code,
    ).toBe(grpcStatus.RESOURCE_EXHAUSTED);
  });

  test('ids route to their array; a clone stays on its backend', async () => {
    const v = await create('pvc-route', { parameters: { cpg: 'CPG1', backend: 'b' } });
    const pub = await d.client.call('ControllerPublishVolume', {
      volume_id: v.volume_id,
      node_id: iscsiNode('n1'),
      volume_capability: mountCap(),
      volume_context: {},
    });
    expect(pub.publish_context['wwn']).toBe(simB.array.volume(v.volume_id.split('/')[1]!)!.wwn);
    expect(simB.array.vluns).toHaveLength(1);
    expect(simA.array.vluns).toHaveLength(0);
    await d.client.call('ControllerUnpublishVolume', { volume_id: v.volume_id, node_id: iscsiNode('n1') });
    const clone = await create('pvc-route-clone', {
      volume_content_source: { volume: { volume_id: v.volume_id } },
      parameters: { cpg: 'CPG1' },
    });
    expect(clone.volume_id).toMatch(/^b\//);
    expect(
      (
        await failureOf(
          create('pvc-route-x', {
            volume_content_source: { volume: { volume_id: v.volume_id } },
            parameters: { cpg: 'CPG1', backend: 'a' },
          }),
        )
      ).code,
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      (
        await failureOf(
          d.client.call('ControllerPublishVolume', {
            volume_id: 'zz/csv-x',
            node_id: iscsiNode('n1'),
            volume_capability: mountCap(),
            volume_context: {},
          }),
        )
      ).code,
    ).toBe(grpcStatus.NOT_FOUND);
    await d.client.call('DeleteVolume', { volume_id: 'zz/csv-x' });
  });

  test('ListVolumes walks both backends in a stable order', async () => {
    const first = await d.client.call('ListVolumes', {});
    const ids = first.entries.map((e) => e.volume!.volume_id);
    expect(ids.some((id) => id.startsWith('a/'))).toBe(true);
    expect(ids.some((id) => id.startsWith('b/'))).toBe(true);
    expect(ids.findIndex((id) => id.startsWith('b/'))).toBeGreaterThan(ids.findLastIndex((id) => id.startsWith('a/')));
    const again = await d.client.call('ListVolumes', {});
    expect(again.entries.map((e) => e.volume!.volume_id)).toEqual(ids);
    const paged: string[] = [];
    let token = '';
    do {
      const page = await d.client.call('ListVolumes', { max_entries: 1, starting_token: token });
      expect(page.entries).toHaveLength(1);
      paged.push(page.entries[0]!.volume!.volume_id);
      token = page.next_token;
    } while (token !== '');
    expect(paged).toEqual(ids);
  });

  test('GetCapacity without a CPG: the only CPG, or the array free space when there are several', async () => {
    const one = await d.client.call('GetCapacity', {});
    expect(Number(one.available_capacity)).toBeGreaterThan(0);
    const sim = await startSim({
      cpgs: [
        { name: 'X', sizeMiB: 1024 * 1024 },
        { name: 'Y', sizeMiB: 1024 * 1024 },
      ],
    });
    const multi = await startDriver([backendOf(sim, 'm')]);
    try {
      const all = await multi.client.call('GetCapacity', {});
      expect(Number(all.available_capacity)).toBeGreaterThan(0);
      const err = await failureOf(
        multi.client.call('CreateVolume', { name: 'pvc-nocpg', volume_capabilities: [mountCap()] }),
      );
      expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    } finally {
      await multi.stop();
    }
    const withDefault = await startDriver([backendOf(sim, 'm', { defaultCpg: 'Y' })]);
    try {
      const res = await withDefault.client.call('CreateVolume', {
        name: 'pvc-defcpg',
        volume_capabilities: [mountCap()],
      });
      expect(sim.array.volume(res.volume!.volume_id.split('/')[1]!)!.userCPG).toBe('Y');
      await withDefault.client.call('DeleteVolume', { volume_id: res.volume!.volume_id });
    } finally {
      await withDefault.stop();
      await sim.close();
    }
  });

  test('GetCapacity follows the topology segment', async () => {
    const a = await d.client.call('GetCapacity', { parameters: { cpg: 'CPG1' }, accessible_topology: seg('a') });
    expect(Number(a.available_capacity)).toBeGreaterThan(0);
    const none = await d.client.call('GetCapacity', {
      parameters: { cpg: 'CPG1', backend: 'a' },
      accessible_topology: seg('b'),
    });
    expect(none.available_capacity).toBe('0');
  });

  test('array facts and health are exported as metrics', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /threepar_csi_backend_info\{backend="a",name="[^"]+",serial="[^"]+",model="[^"]+",os_version="[^"]+",wsapi_version="1\.3\.1"\} 1/,
    );
    expect(text).toContain('threepar_csi_backend_up{backend="b"} 1');
    expect(text).toMatch(/threepar_csi_backend_sessions_in_use\{backend="a"\} [1-9]/);
  });
});

describe('array trouble', () => {
  test('bad credentials → UNAVAILABLE naming the backend, never the password', async () => {
    const sim = await startSim();
    const bad = await startDriver([backendOf(sim, 'badcreds', { password: 'Wr0ngSecretPw' })]);
    try {
      const err = await failureOf(
        bad.client.call('CreateVolume', {
          name: 'pvc-x',
          volume_capabilities: [mountCap()],
          parameters: { cpg: 'CPG1' },
        }),
      );
      expect(err.code).toBe(grpcStatus.UNAVAILABLE);
      expect(err.details).toContain('badcreds');
      expect(err.details).not.toContain('Wr0ngSecretPw');
    } finally {
      await bad.stop();
      await sim.close();
    }
  });

  test('an unreachable array → UNAVAILABLE and backend_up 0; the other backend keeps working', async () => {
    const sim = await startSim();
    const m = new Metrics({ processMetrics: false });
    const two = await startDriver([backendOf(sim, 'gone'), backendOf(simA, 'a', { default: true })], { metrics: m });
    try {
      await sim.close();
      const err = await failureOf(
        two.client.call('CreateVolume', {
          name: 'pvc-y',
          volume_capabilities: [mountCap()],
          parameters: { cpg: 'CPG1', backend: 'gone' },
        }),
      );
      expect(err.code).toBe(grpcStatus.UNAVAILABLE);
      expect(await m.registry.metrics()).toContain('threepar_csi_backend_up{backend="gone"} 0');
      expect(await m.registry.metrics()).toContain('threepar_csi_backend_up{backend="a"} 1');
      const ok = await two.client.call('CreateVolume', {
        name: 'pvc-y',
        volume_capabilities: [mountCap()],
        parameters: { cpg: 'CPG1' },
      });
      await two.client.call('DeleteVolume', { volume_id: ok.volume!.volume_id });
    } finally {
      await two.stop();
    }
  });
});

describe('--topology, one setting for the controller and every node', () => {
  test('on with one backend: volumes carry its segment and the plugin advertises constraints; off with two: no segments', async () => {
    const on = await startDriver([backendOf(simA, 'a')], { topology: 'on' });
    const off = await startDriver([backendOf(simA, 'a', { default: true }), backendOf(simB, 'b')], { topology: 'off' });
    try {
      const v = (
        await on.client.call('CreateVolume', {
          name: 'pvc-topo-on',
          volume_capabilities: [mountCap()],
          parameters: { cpg: 'CPG1' },
        })
      ).volume!;
      expect(v.accessible_topology).toEqual([seg('a')]);
      const w = (
        await off.client.call('CreateVolume', {
          name: 'pvc-topo-off',
          volume_capabilities: [mountCap()],
          parameters: { cpg: 'CPG1', backend: 'b' },
        })
      ).volume!;
      expect(w.volume_id).toMatch(/^b\//);
      expect(w.accessible_topology).toEqual([]);
      await on.client.call('DeleteVolume', { volume_id: v.volume_id });
      await off.client.call('DeleteVolume', { volume_id: w.volume_id });
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  });
});

describe("GetCapacity as external-provisioner's capacity controller calls it", () => {
  // pkg/capacity/capacity.go passes the StorageClass's parameters unchanged (sc.Parameters), so
  // the keys Kubernetes reads (fstype, secrets) arrive too, unlike in CreateVolume.
  test('the class’s csi.storage.k8s.io/ keys are ignored, its driver parameters still checked', async () => {
    const params = {
      cpg: 'CPG1',
      backend: 'b',
      'csi.storage.k8s.io/fstype': 'xfs',
      'csi.storage.k8s.io/node-stage-secret-name': 'chap',
      'csi.storage.k8s.io/node-stage-secret-namespace': 'storage',
    };
    const r = await d.client.call('GetCapacity', {
      parameters: params,
      volume_capabilities: [mountCap()],
      accessible_topology: seg('b'),
    });
    expect(Number(r.available_capacity)).toBeGreaterThan(0);
    expect(
      (await failureOf(d.client.call('GetCapacity', { parameters: { ...params, provisioningType: 'tdvv' } }))).code,
    ).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});
