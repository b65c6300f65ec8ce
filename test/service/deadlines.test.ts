/**
 * Issue 18, case 2: work stops when the caller gives up. A read nobody waits for any more is cut
 * off (also a listing shared by several calls, once all of them have left); a change already sent
 * to the array finishes there, its completion is logged, and the retried call (the sidecars retry with the same
 * name) returns it without making it again. The array holds requests with the simulator's `hang`
 * fault, and the test cancels the call once the request is held: no timing involved.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { Metrics } from '../../src/metrics.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { captureLog, type CapturedLog } from '../helpers/logs.js';
import {
  GiB,
  backendOf,
  iscsiNode,
  mountCap,
  startDriver,
  startSim,
  type Driver,
} from '../helpers/controller-harness.js';
import { waitFor } from '../helpers/wait.js';

let sim: RunningSimulator;
let d: Driver;
let cap: CapturedLog;
let metrics: Metrics;

beforeAll(async () => {
  sim = await startSim();
  cap = captureLog('debug');
  metrics = new Metrics({ processMetrics: false });
  // The RPC wrapper's log lines matter here: the harness's server logs to the captured logger too.
  d = await startDriver([backendOf(sim, 'dl', { defaultCpg: 'CPG1' })], { log: cap.log, metrics });
});
afterAll(async () => {
  await d?.stop();
  await sim?.close();
});

/** Waits for a condition an event makes true (the safety net of helpers/wait.ts reports itself). */
const until = (ok: () => boolean | Promise<boolean>, what: string): Promise<true> =>
  waitFor(what, ok, { intervalMs: 5 });

async function wsapiCount(op: string, outcome: string): Promise<number> {
  const values = (await metrics.registry.getSingleMetric('threepar_csi_wsapi_requests_total')?.get())?.values ?? [];
  return values
    .filter((v) => v.labels['op'] === op && v.labels['outcome'] === outcome)
    .reduce((n, v) => n + v.value, 0);
}

const createReq = (name: string) => ({
  name,
  capacity_range: { required_bytes: String(GiB) },
  volume_capabilities: [mountCap()],
  parameters: { cpg: 'CPG1' },
});

describe('deadlines (issue 18 case 2)', () => {
  it('cuts off the shared VLUN listing of a publish whose caller gave up', async () => {
    const vol = await d.client.call('CreateVolume', createReq('pvc-dl-list'));
    const hang = sim.faults.add({ type: 'hang', match: { method: 'GET', path: '^/api/v1/vluns$' } });
    try {
      const before = await wsapiCount('vluns.list', 'aborted');
      const { call, code } = d.client.cancellable('ControllerPublishVolume', {
        volume_id: vol.volume!.volume_id,
        node_id: iscsiNode('w-dl'),
        volume_capability: mountCap(),
        readonly: false,
      });
      await until(() => sim.faults.held > 0, 'the VLUN listing to be held by the array');
      call.cancel();
      expect(await code).toBe(grpc.status.CANCELLED);
      // The listing nobody waits for is cut off at once, not left running on the array.
      await until(async () => (await wsapiCount('vluns.list', 'aborted')) > before, 'the listing to be cut off');
    } finally {
      sim.faults.remove(hang);
    }
  });

  it('lets a create already sent finish on the array, logs it, and returns it to the retry without creating again', async () => {
    const name = 'pvc-dl-create';
    const creates = (): number =>
      sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes' && r.status === 201).length;
    const createsBefore = creates();
    const hang = sim.faults.add({ type: 'hang', match: { method: 'POST', path: '^/api/v1/volumes$' } });
    let released = false;
    try {
      const { call, code } = d.client.cancellable('CreateVolume', createReq(name));
      await until(() => sim.faults.held > 0, 'the create to be held by the array');
      call.cancel();
      expect(await code).toBe(grpc.status.CANCELLED);
      await until(
        () => cap.lines().some((l) => l.includes('"rpc":"CreateVolume"') && l.includes('the caller gave up')),
        'the driver to see the cancellation',
      );
      sim.faults.remove(hang);
      released = true;
      await until(() => cap.text().includes('finished after the caller gave up'), 'the late change to be logged');
      const line = cap.lines().find((l) => l.includes('finished after the caller gave up'))!;
      expect(JSON.parse(line)).toMatchObject({ rpc: 'CreateVolume', name });
    } finally {
      if (!released) sim.faults.remove(hang);
    }
    const created = cap
      .lines()
      .map((l) => JSON.parse(l) as { msg: string; name?: string; volume?: string })
      .find((l) => l.msg === 'volume created' && l.name === name)!;
    const retry = await d.client.call('CreateVolume', createReq(name));
    // The retry returns the volume the late create made; nothing new was created on the array.
    expect(retry.volume!.volume_id).toBe(`dl/${created.volume}`);
    expect(creates()).toBe(createsBefore + 1);
  });
});
