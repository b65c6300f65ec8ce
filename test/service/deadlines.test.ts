/**
 * Issue 18, case 2: work stops when the caller gives up. A read nobody waits for any more is cut
 * off (also a listing shared by several calls, once all of them have left); a change already sent
 * to the array finishes there, its completion is logged, and the retried call (the sidecars retry with the same
 * name) returns it without making it again. The array holds requests with the simulator's `hang`
 * fault, and the test cancels the call once the request is held: no timing involved.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { loadCsi } from '../../src/csi/proto.js';
import { Metrics } from '../../src/metrics.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { captureLog, type CapturedLog } from '../helpers/logs.js';
import { CLUSTER, DRIVER, GiB, backendOf, iscsiNode, mountCap, startSim } from '../helpers/controller-harness.js';
import { createControllerService, type ControllerService } from '../../src/csi/controller.js';
import { CsiServer } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { CsiTestClient, tempSocket } from '../helpers/grpc.js';
import { rmSync } from 'node:fs';

let sim: RunningSimulator;
let controller: ControllerService;
let server: CsiServer;
let client: CsiTestClient;
let sockDir: string;
let cap: CapturedLog;
let metrics: Metrics;
let raw: grpc.Client & Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => grpc.ClientUnaryCall>;

beforeAll(async () => {
  sim = await startSim();
  cap = captureLog('debug');
  metrics = new Metrics({ processMetrics: false });
  // The RPC wrapper's log lines matter here, so the server logs to the captured logger too.
  controller = createControllerService({ driverName: DRIVER, clusterId: CLUSTER, backends: [backendOf(sim, 'dl', { defaultCpg: 'CPG1' })], log: cap.log, metrics, metricsRefreshMs: 0 });
  await controller.start();
  const sock = tempSocket('dl-');
  sockDir = sock.dir;
  server = new CsiServer({ endpoint: sock.endpoint, services: { identity: createIdentity({ driverName: DRIVER, vendorVersion: 't', controller: true, groupController: true, topology: false, readiness: new Readiness() }), controller: controller.service }, log: cap.log, metrics });
  await server.start();
  client = new CsiTestClient('Controller', sock.endpoint);
  const Ctor = loadCsi().csi.v1.Controller;
  raw = new Ctor(sock.endpoint, grpc.credentials.createInsecure()) as unknown as typeof raw;
});
afterAll(async () => {
  raw?.close();
  client?.close();
  await server?.stop(1000);
  await controller?.close();
  await sim?.close();
  if (sockDir) rmSync(sockDir, { recursive: true, force: true });
});

/** Polls a condition an event makes true; 30 s is a safety net that says so. */
async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const stop = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > stop) throw new Error(`safety net: waited 30 s for ${what}\n${cap.lines().slice(-15).join('\n')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts a call that the test cancels; resolves with its gRPC status code. */
function cancellable(rpc: string, req: unknown): { call: grpc.ClientUnaryCall; code: Promise<number> } {
  let call!: grpc.ClientUnaryCall;
  const code = new Promise<number>((resolve) => {
    call = raw[rpc]!.call(raw, req, new grpc.Metadata(), { deadline: Date.now() + 120_000 }, (err) => resolve(err ? err.code : grpc.status.OK));
  });
  return { call, code };
}

async function wsapiCount(op: string, outcome: string): Promise<number> {
  const values = (await metrics.registry.getSingleMetric('threepar_csi_wsapi_requests_total')?.get())?.values ?? [];
  return values.filter((v) => v.labels['op'] === op && v.labels['outcome'] === outcome).reduce((n, v) => n + v.value, 0);
}

const createReq = (name: string) => ({ name, capacity_range: { required_bytes: String(GiB) }, volume_capabilities: [mountCap()], parameters: { cpg: 'CPG1' } });

describe('deadlines (issue 18 case 2)', () => {
  it('cuts off the shared VLUN listing of a publish whose caller gave up', async () => {
    const vol = await client.call<{ volume: { volume_id: string } }>('CreateVolume', createReq('pvc-dl-list'));
    const hang = sim.faults.add({ type: 'hang', match: { method: 'GET', path: '^/api/v1/vluns$' } });
    try {
      const before = await wsapiCount('vluns.list', 'aborted');
      const { call, code } = cancellable('ControllerPublishVolume', { volume_id: vol.volume.volume_id, node_id: iscsiNode('w-dl'), volume_capability: mountCap(), readonly: false });
      await until(() => sim.faults.held > 0, 'the VLUN listing to be held by the array');
      call.cancel();
      expect(await code).toBe(grpc.status.CANCELLED);
      // The listing nobody waits for is cut off at once, not left running on the array.
      await until(async () => (await wsapiCount('vluns.list', 'aborted')) > before, 'the listing to be cut off');
    } finally {
      sim.faults.remove(hang);
    }
  }, 90_000);

  it('lets a create already sent finish on the array, logs it, and returns it to the retry without creating again', async () => {
    const name = 'pvc-dl-create';
    const creates = (): number => sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes' && r.status === 201).length;
    const createsBefore = creates();
    const hang = sim.faults.add({ type: 'hang', match: { method: 'POST', path: '^/api/v1/volumes$' } });
    let released = false;
    try {
      const { call, code } = cancellable('CreateVolume', createReq(name));
      await until(() => sim.faults.held > 0, 'the create to be held by the array');
      call.cancel();
      expect(await code).toBe(grpc.status.CANCELLED);
      await until(() => cap.lines().some((l) => l.includes('"rpc":"CreateVolume"') && l.includes('the caller gave up')), 'the driver to see the cancellation');
      sim.faults.remove(hang);
      released = true;
      await until(() => cap.text().includes('finished after the caller gave up'), 'the late change to be logged');
      const line = cap.lines().find((l) => l.includes('finished after the caller gave up'))!;
      expect(JSON.parse(line)).toMatchObject({ rpc: 'CreateVolume', name });
    } finally {
      if (!released) sim.faults.remove(hang);
    }
    const created = cap.lines().map((l) => JSON.parse(l) as { msg: string; name?: string; volume?: string }).find((l) => l.msg === 'volume created' && l.name === name)!;
    const retry = await client.call<{ volume: { volume_id: string } }>('CreateVolume', createReq(name));
    // The retry returns the volume the late create made; nothing new was created on the array.
    expect(retry.volume.volume_id).toBe(`dl/${created.volume}`);
    expect(creates()).toBe(createsBefore + 1);
  }, 90_000);
});
