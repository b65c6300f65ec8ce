/**
 * WSAPI requests per RPC on the common path (DESIGN "Sessions and load"). Cached: the array's
 * version and system info (read once at start), the port list (5 min), the CPG names (5 min),
 * node → array host (until the host is deleted or reported missing) and the volumes known to be
 * marked (until deleted). Logins are not counted (one shared session pool).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  arrayRequests,
  backendOf,
  GiB,
  iscsiNode,
  mountCap,
  startDriver,
  startSim,
  type Driver,
} from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let d: Driver;

beforeAll(async () => {
  sim = await startSim();
  d = await startDriver([backendOf(sim, 'sim')]);
});
afterAll(async () => {
  await d.stop();
  await sim.close();
});

async function count(fn: () => Promise<unknown>): Promise<string[]> {
  sim.resetRequests();
  await fn();
  return arrayRequests(sim);
}

test('requests per RPC on the common path', async () => {
  const req = {
    name: 'pvc-count',
    volume_capabilities: [mountCap()],
    capacity_range: { required_bytes: String(GiB) },
    parameters: { cpg: 'CPG1' },
  };
  let id = '';
  expect(await count(async () => (id = (await d.client.call('CreateVolume', req)).volume!.volume_id))).toEqual([
    'POST /api/v1/volumes',
  ]);
  expect(await count(() => d.client.call('CreateVolume', req))).toHaveLength(2);
  const other = (await d.client.call('CreateVolume', { ...req, name: 'pvc-count-2' })).volume!.volume_id;
  const node = iscsiNode('count-node');
  const pub = (v: string) =>
    d.client.call('ControllerPublishVolume', {
      volume_id: v,
      node_id: node,
      volume_capability: mountCap(),
      volume_context: {},
    });
  // First publish to a new node: volume read, host query, host create, VLUN list, create, re-read, ports.
  const first = await count(() => pub(other));
  expect(first.length).toBeLessThanOrEqual(7);
  // To a host the driver knows: VLUN list, create, re-read (+ the volume read the first time this process sees it).
  expect((await count(() => pub(id))).length).toBeLessThanOrEqual(4);
  expect(await count(() => pub(id))).toEqual(['GET /api/v1/vluns']);
  expect(
    (await count(() => d.client.call('ControllerUnpublishVolume', { volume_id: id, node_id: node }))).length,
  ).toBeLessThanOrEqual(3);
  expect(
    (await count(() => d.client.call('ControllerUnpublishVolume', { volume_id: other, node_id: node }))).length,
  ).toBeLessThanOrEqual(3);
  expect(
    (
      await count(() =>
        d.client.call('ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: String(2 * GiB) } }),
      )
    ).length,
  ).toBe(2);
  let snap = '';
  expect(
    (
      await count(
        async () =>
          (snap = (await d.client.call('CreateSnapshot', { name: 'snap-count', source_volume_id: id })).snapshot!
            .snapshot_id),
      )
    ).length,
  ).toBe(2);
  expect((await count(() => d.client.call('DeleteSnapshot', { snapshot_id: snap }))).length).toBe(2);
  // A backend's first DeleteVolume in a process also sweeps its tombstones (one volume listing, once).
  expect(await count(() => d.client.call('DeleteVolume', { volume_id: id }))).toEqual([
    `GET /api/v1/volumes/${id.split('/')[1]}`,
    'GET /api/v1/volumes',
    `DELETE /api/v1/volumes/${id.split('/')[1]}`,
  ]);
  // Two the first time (the CPG list, cached 5 min, says whether the CPG has a growth limit), then one.
  expect((await count(() => d.client.call('GetCapacity', { parameters: { cpg: 'CPG1' } }))).length).toBeLessThanOrEqual(
    2,
  );
  expect((await count(() => d.client.call('GetCapacity', { parameters: { cpg: 'CPG1' } }))).length).toBe(1);
  expect((await count(() => d.client.call('ListVolumes', {}))).length).toBe(3);
  expect((await count(() => d.client.call('ListSnapshots', {}))).length).toBe(1);
  expect((await count(() => d.client.call('ControllerGetVolume', { volume_id: other }))).length).toBeLessThanOrEqual(3);
  expect(
    (
      await count(() =>
        d.client.call('ValidateVolumeCapabilities', { volume_id: other, volume_capabilities: [mountCap()] }),
      )
    ).length,
  ).toBe(1);
  // Every later one: read, delete.
  expect((await count(() => d.client.call('DeleteVolume', { volume_id: other }))).length).toBe(2);
});
