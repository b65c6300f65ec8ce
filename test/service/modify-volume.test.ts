/**
 * ControllerModifyVolume (VolumeAttributesClass) over gRPC against the simulator: each mutable
 * parameter (cpg and provisioningType through the array's tune, a tracked task; snapCpg;
 * compression where the firmware has it; qosName as VV-set membership; description in the
 * marker), absent keys untouched, repeats at one GET, infeasible requests refused with nothing
 * applied, ABORTED while the array still applies a tune, and a tune found again after a driver
 * restart. CreateVolume takes the same keys as `mutable_parameters`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { until } from '../simulator/helpers.js';
import {
  arrayRequests,
  backendOf,
  CLUSTER,
  GiB,
  mountCap,
  startDriver,
  startSim,
  type Driver,
  startOnSim,
} from '../helpers/controller-harness.js';

const CPGS = [
  { name: 'CPG1', sizeMiB: 4 * 1024 * 1024 },
  { name: 'CPG2', sizeMiB: 4 * 1024 * 1024 },
];

let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim({ sim: { cpgs: CPGS } }));
  await wsapi.volumeSets.create('qos-gold');
  await wsapi.volumeSets.create('qos-silver');
});
afterAll(() => stop());

const arrayName = (id: string) => id.split('/')[1]!;
const rec = (id: string) => sim.array.volume(arrayName(id))!;
const marker = (id: string) => JSON.parse(rec(id).comment!) as Record<string, unknown>;
const setsOf = (id: string) =>
  sim.array.state.volumeSets.filter((s) => s.members.includes(rec(id).id)).map((s) => s.name);
async function volume(
  name: string,
  parameters: Record<string, string> = { cpg: 'CPG1' },
  mutable: Record<string, string> = {},
  drv: Driver = d,
): Promise<string> {
  const res = await drv.client.call('CreateVolume', {
    name,
    volume_capabilities: [mountCap()],
    capacity_range: { required_bytes: String(GiB) },
    parameters,
    mutable_parameters: mutable,
  });
  return res.volume!.volume_id;
}
const modify = (id: string, mutable: Record<string, string>, drv: Driver = d, deadlineMs?: number) =>
  drv.client.call(
    'ControllerModifyVolume',
    { volume_id: id, mutable_parameters: mutable },
    deadlineMs ? { deadlineMs } : {},
  );

describe('each mutable parameter', () => {
  test('MODIFY_VOLUME is advertised', async () => {
    const caps = await d.client.call('ControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toContain('MODIFY_VOLUME');
  });

  test('description: the marker only (GET + PUT); the repeat is one GET', async () => {
    const id = await volume('pvc-mod-desc', { cpg: 'CPG1', description: 'old' });
    sim.resetRequests();
    await modify(id, { description: 'new text' });
    expect(arrayRequests(sim)).toEqual([
      `GET /api/v1/volumes/${arrayName(id)}`,
      `PUT /api/v1/volumes/${arrayName(id)}`,
    ]);
    expect(marker(id)).toMatchObject({ c: CLUSTER, n: 'pvc-mod-desc', desc: 'new text' });
    sim.resetRequests();
    await modify(id, { description: 'new text' });
    expect(arrayRequests(sim)).toEqual([`GET /api/v1/volumes/${arrayName(id)}`]);
    await modify(id, { description: '' });
    expect(marker(id)['desc']).toBeUndefined();
  });

  test('snapCpg: set at once, absent keys untouched', async () => {
    const id = await volume('pvc-mod-snapcpg');
    await modify(id, { snapCpg: 'CPG2' });
    expect(rec(id)).toMatchObject({ snapCPG: 'CPG2', userCPG: 'CPG1', provisioningType: 2 });
    expect(marker(id)['n']).toBe('pvc-mod-snapcpg');
  });

  test('cpg: the tune moves the user space; the call returns once the task is done', async () => {
    const id = await volume('pvc-mod-cpg');
    sim.resetRequests();
    await modify(id, { cpg: 'CPG2' });
    const requests = arrayRequests(sim);
    // GET the volume, GET the CPG names (cached 5 minutes), PUT the tune, then task polls until done.
    const name = arrayName(id);
    const uncached = requests.filter((r) => r !== 'GET /api/v1/cpgs');
    expect(requests.length - uncached.length).toBeLessThanOrEqual(1);
    expect(uncached.slice(0, 2)).toEqual([`GET /api/v1/volumes/${name}`, `PUT /api/v1/volumes/${name}`]);
    expect(uncached.slice(2).every((r) => /^GET \/api\/v1\/tasks\/\d+$/.test(r))).toBe(true);
    expect(requests.filter((r) => r.startsWith('PUT'))).toEqual([`PUT /api/v1/volumes/${arrayName(id)}`]);
    expect(requests.filter((r) => r.startsWith('GET /api/v1/tasks/')).length).toBeGreaterThanOrEqual(1);
    expect(rec(id).userCPG).toBe('CPG2');
    expect(sim.array.tasks.filter((t) => t.name === arrayName(id) && t.kind === 'tune').map((t) => t.status)).toEqual([
      1,
    ]);
    sim.resetRequests();
    await modify(id, { cpg: 'CPG2' });
    expect(arrayRequests(sim)).toEqual([`GET /api/v1/volumes/${arrayName(id)}`]);
  });

  test('provisioningType: thin → full → thin by conversion, with a CPG move in the same tune', async () => {
    const id = await volume('pvc-mod-prov');
    await modify(id, { provisioningType: 'full' });
    expect(rec(id)).toMatchObject({ provisioningType: 1, userCPG: 'CPG1' });
    await modify(id, { provisioningType: 'tpvv', cpg: 'CPG2' });
    expect(rec(id)).toMatchObject({ provisioningType: 2, userCPG: 'CPG2' });
    expect(sim.array.tasks.filter((t) => t.name === arrayName(id)).map((t) => t.tune)).toEqual([
      { userCPG: 'CPG1', conversion: 2 },
      { userCPG: 'CPG2', conversion: 1 },
    ]);
  });

  test('qosName: joins the VV set, moves to another, leaves with ""; DeleteVolume still works', async () => {
    const id = await volume('pvc-mod-qos');
    await modify(id, { qosName: 'qos-gold' });
    expect(setsOf(id)).toEqual(['qos-gold']);
    expect(marker(id)['q']).toBe('qos-gold');
    await modify(id, { qos_name: 'qos-silver' });
    expect(setsOf(id)).toEqual(['qos-silver']);
    expect(marker(id)['q']).toBe('qos-silver');
    sim.resetRequests();
    await modify(id, { qosName: 'qos-silver' });
    expect(arrayRequests(sim)).toHaveLength(1);
    await modify(id, { qosName: '' });
    expect(setsOf(id)).toEqual([]);
    expect(marker(id)['q']).toBeUndefined();
    await modify(id, { qosName: 'qos-gold' });
    await d.client.call('DeleteVolume', { volume_id: id });
    expect(sim.array.volume(arrayName(id))).toBeUndefined();
  });

  test('CreateVolume applies mutable_parameters over the StorageClass', async () => {
    const id = await volume(
      'pvc-mod-create',
      { cpg: 'CPG1', description: 'class' },
      { cpg: 'CPG2', snapCpg: 'CPG2', qosName: 'qos-gold', description: 'vac' },
    );
    expect(rec(id)).toMatchObject({ userCPG: 'CPG2', snapCPG: 'CPG2' });
    expect(setsOf(id)).toEqual(['qos-gold']);
    expect(marker(id)).toMatchObject({ q: 'qos-gold', desc: 'vac' });
    expect(await codeOf(volume('pvc-mod-create-bad', { cpg: 'CPG1' }, { fsType: 'xfs' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    // Nothing to change: the volume already has what the class asks.
    sim.resetRequests();
    await modify(id, { cpg: 'CPG2', snapCpg: 'CPG2', qosName: 'qos-gold', description: 'vac' });
    expect(arrayRequests(sim)).toHaveLength(1);
  });
});

describe('infeasible requests change nothing', () => {
  test('INVALID_ARGUMENT: unknown key, bad value, unknown CPG or VV set, firmware without the feature, compression on full', async () => {
    const id = await volume('pvc-mod-bad', { cpg: 'CPG1', description: 'keep' });
    const before = JSON.stringify(rec(id));
    const requests: Record<string, string>[] = [
      { size: '2Gi' },
      { provisioningType: 'fat' },
      { cpg: 'NOPE', description: 'changed' },
      { snapCpg: 'NOPE', description: 'changed' },
      { qosName: 'qos-none', description: 'changed' },
      { provisioningType: 'dedup', description: 'changed' },
      { compression: 'true', description: 'changed' },
      { provisioningType: 'full', compression: 'true' },
    ];
    for (const bad of requests) {
      expect([bad, await codeOf(modify(id, bad))]).toEqual([bad, grpcStatus.INVALID_ARGUMENT]);
    }
    expect(JSON.stringify(rec(id))).toBe(before);
    expect(sim.array.tasks.filter((t) => t.name === arrayName(id))).toEqual([]);
  });

  test('NOT_FOUND for an unknown volume, INVALID_ARGUMENT without volume_id', async () => {
    expect(await codeOf(modify('sim/csv-aaaaaaaaaaaaaaaaaaaa', { description: 'x' }))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(modify('nobackend/csv-x', { description: 'x' }))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(modify('', { description: 'x' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    const v = await volume('pvc-mod-snapsrc');
    const snap = await d.client.call('CreateSnapshot', { name: 'snap-mod', source_volume_id: v });
    expect(await codeOf(modify(snap.snapshot!.snapshot_id, { description: 'x' }))).toBe(grpcStatus.NOT_FOUND);
  });
});

describe('a tune the array is still applying', () => {
  test('ABORTED at the deadline; the retry after a driver restart finds the task and succeeds', async () => {
    const id = await volume('pvc-mod-slow', { cpg: 'CPG1', provisioningType: 'full' });
    // The tune is held (it would take days at this rate) until the test releases it below.
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      // The server answers ABORTED at the deadline; the client may see its own deadline first.
      const pending = [grpcStatus.ABORTED, grpcStatus.DEADLINE_EXCEEDED];
      expect(pending).toContain(await codeOf(modify(id, { cpg: 'CPG2' }, d, 600)));
      expect(rec(id).userCPG).toBe('CPG1');
      // Other changes wait too: the volume is busy.
      expect(pending).toContain(await codeOf(modify(id, { description: 'meanwhile' }, d, 300)));
      expect(marker(id)['desc']).toBeUndefined();
      // Operations the array refuses during a tune answer ABORTED.
      expect(
        await codeOf(
          d.client.call('ControllerExpandVolume', {
            volume_id: id,
            capacity_range: { required_bytes: String(2 * GiB) },
          }),
        ),
      ).toBe(grpcStatus.ABORTED);
      // A new driver process (no memory of the task) finds it by the volume's name.
      const d2 = await startDriver([backendOf(sim, 'sim')]);
      try {
        sim.resetRequests();
        const retry = modify(id, { cpg: 'CPG2', description: 'meanwhile' }, d2, 20_000);
        // Released once the new process found the task by name and follows it.
        await until(() => arrayRequests(sim).includes('GET /api/v1/tasks'));
        sim.faults.set({ copyRateMiBps: 1_000_000 });
        await retry;
        expect(rec(id).userCPG).toBe('CPG2');
        expect(marker(id)['desc']).toBe('meanwhile');
        expect(sim.array.tasks.filter((t) => t.name === arrayName(id))).toHaveLength(1);
      } finally {
        await d2.stop();
      }
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
  });

  test('a tune that fails on the array → INTERNAL; the volume keeps its settings and the retry tunes again', async () => {
    const id = await volume('pvc-mod-fail', { cpg: 'CPG1', provisioningType: 'full' });
    sim.faults.set({ copyRateMiBps: 2000 });
    try {
      sim.faults.failFutureTasks(arrayName(id), 10, 1);
      expect(await codeOf(modify(id, { cpg: 'CPG2' }))).toBe(grpcStatus.INTERNAL);
      expect(rec(id).userCPG).toBe('CPG1');
      await modify(id, { cpg: 'CPG2' });
      expect(rec(id).userCPG).toBe('CPG2');
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
  });
});

describe('compression where the firmware has it (3.3.1 profile)', () => {
  let sim3: RunningSimulator;
  let d3: Driver;
  beforeAll(async () => {
    sim3 = await startSim({ cpgs: CPGS, profile: '3.3.1' });
    d3 = await startDriver([backendOf(sim3, 'sim')]);
  });
  afterAll(async () => {
    await d3.stop();
    await sim3.close();
  });

  test('compression on and off, reduce and dedup by conversion', async () => {
    const id = await volume('pvc-mod-compr', { cpg: 'CPG1' }, {}, d3);
    const r = () => sim3.array.volume(arrayName(id))!;
    await modify(id, { compression: 'true' }, d3);
    expect(r()).toMatchObject({ compression: true, provisioningType: 2 });
    await modify(id, { compression: 'false' }, d3);
    expect(r().compression).toBe(false);
    await modify(id, { provisioningType: 'reduce' }, d3);
    expect(r()).toMatchObject({ compression: true, provisioningType: 6 });
    sim3.resetRequests();
    await modify(id, { provisioningType: 'reduce', compression: 'true' }, d3);
    expect(arrayRequests(sim3)).toHaveLength(1);
    await modify(id, { provisioningType: 'full' }, d3);
    expect(r().provisioningType).toBe(1);
    expect(r().compression).toBeUndefined();
    expect(await codeOf(modify(id, { compression: 'true' }, d3))).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});
