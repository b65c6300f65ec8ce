/**
 * Graceful degradation with two backends: when one array becomes unreachable its RPCs fail fast
 * with UNAVAILABLE, the other backend keeps working, Probe stays ready (a liveness restart loop
 * would exhaust the arrays' sessions), `threepar_csi_backend_up` says 0 for it and one log line
 * says so; when it comes back on the same address the driver recovers without a restart and
 * without piling up sessions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startDriver, type RunningDriver } from '../../src/driver.js';
import { Metrics } from '../../src/metrics.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { WsapiClient, DEFAULT_SESSION_POOL_SIZE } from '../../src/wsapi/index.js';
import { CsiTestClient, grpcStatus } from '../helpers/grpc.js';
import { scannedLog } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';

const cap = scannedLog({ level: 'info' });
const mount = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const GiB = 1024 ** 3;

let dir: string;
let simA: RunningSimulator;
let simB: RunningSimulator;
let simBOptions: SimulatorOptions;
let driver: RunningDriver;
let metrics: Metrics;
let identity: CsiTestClient;
let ctl: CsiTestClient;
let volB = '';

async function code(p: Promise<unknown>): Promise<number> {
  return p.then(
    () => 0,
    (e: { code: number }) => e.code,
  );
}

async function backendUp(id: string): Promise<number | undefined> {
  const m = (await metrics.registry.getSingleMetric('threepar_csi_backend_up')?.get())?.values.find(
    (v) => v.labels['backend'] === id,
  );
  return m?.value;
}

/** Sessions the array holds for others than the one this check logs in with. */
async function sessionsOnB(): Promise<number> {
  const c = new WsapiClient({
    backendId: 'probe',
    url: simB.url,
    username: simB.username,
    password: simB.password,
    sessionPoolSize: 1,
  });
  try {
    const conf = await c.wsapiConfiguration.get();
    return (conf.sessionsInUse ?? 0) - 1;
  } finally {
    await c.close();
  }
}

const create = (name: string, backend: string) =>
  ctl.call<{ volume: { volume_id: string } }>('CreateVolume', {
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mount],
    parameters: { backend, cpg: 'SSD_r6' },
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'degrade-'));
  simA = await startSimulator({ tickMs: 10 });
  simBOptions = { tickMs: 10, stateFile: join(dir, 'b.json') };
  simB = await startSimulator(simBOptions);
  metrics = new Metrics({ processMetrics: false });
  driver = await startDriver({
    mode: 'controller',
    endpoint: `unix://${join(dir, 'csi.sock')}`,
    driverName: 'csi.3par.degrade.example.com',
    clusterId: 'degrade',
    backends: [
      { id: 'a', url: simA.url, username: simA.username, password: simA.password, default: true },
      { id: 'b', url: simB.url, username: simB.username, password: simB.password },
    ],
    log: cap.log,
    metrics,
    shutdownGraceMs: 1000,
  });
  identity = new CsiTestClient('Identity', `unix://${driver.address}`);
  ctl = new CsiTestClient('Controller', `unix://${driver.address}`);
  volB = (await create('pvc-on-b', 'b')).volume.volume_id;
});

afterAll(async () => {
  identity?.close();
  ctl?.close();
  await driver?.stop(1000);
  await simA?.close();
  await simB?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('one of two backends unreachable', () => {
  it('fails its RPCs fast with UNAVAILABLE while the other backend keeps working and Probe stays ready', async () => {
    expect(await backendUp('b')).toBe(1);
    const port = new URL(simB.url).port;
    await simB.close();
    const linesBefore = cap.lines().length;

    for (const call of [
      () => create('pvc-new-on-b', 'b'),
      () => ctl.call('ControllerGetVolume', { volume_id: volB }),
      () => ctl.call('DeleteVolume', { volume_id: volB }),
      () =>
        ctl.call('ControllerExpandVolume', { volume_id: volB, capacity_range: { required_bytes: String(2 * GiB) } }),
    ]) {
      // Connection refused is retried briefly (a restarting WSAPI service), then reported: a call
      // that kept waiting would end in DEADLINE_EXCEEDED at the client's deadline instead.
      expect(await code(call())).toBe(grpcStatus.UNAVAILABLE);
    }

    const onA = await create('pvc-on-a', 'a');
    expect(onA.volume.volume_id).toMatch(/^a\//);
    await ctl.call('DeleteVolume', { volume_id: onA.volume.volume_id });

    const probe = await identity.call<{ ready: { value: boolean } }>('Probe', {});
    expect(probe.ready.value).toBe(true);

    expect(await backendUp('b')).toBe(0);
    expect(await backendUp('a')).toBe(1);
    const down = cap
      .lines()
      .slice(linesBefore)
      .filter((l) => l.includes('"backend down') && l.includes('"backend":"b"'));
    expect(down).toHaveLength(1);

    // Back on the same address with the same state: no driver restart needed.
    simB = await startSimulator({ ...simBOptions, port: Number(port) });
    await waitFor(
      'backend b to answer again',
      async () => (await code(ctl.call('ControllerGetVolume', { volume_id: volB }))) === 0,
      { intervalMs: 200 },
    );
    expect(await backendUp('b')).toBe(1);
    expect(
      cap
        .lines()
        .slice(linesBefore)
        .filter((l) => l.includes('"backend up"') && l.includes('"backend":"b"')),
    ).toHaveLength(1);

    // A burst of work after recovery stays within the driver's session pool.
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => code(create(`pvc-burst-${i}`, 'b'))));
    expect(burst.every((c) => c === 0)).toBe(true);
    expect(await sessionsOnB()).toBeLessThanOrEqual(DEFAULT_SESSION_POOL_SIZE);
  });
});
