/**
 * Issue 18, cases 1 and 4: a hung array (accepts connections, never answers) is reported down
 * from the first request's first-byte timeout, and RPCs fail at once afterwards without sending;
 * the backend's status says what is wrong — unreachable, authentication refused, TLS refused, an
 * https:// URL pointing at a plain-HTTP server — in the log, the `status` label of
 * threepar_csi_backend_status and the RPC's error text; backend_up is 1 only after a successful
 * authenticated request.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Metrics } from '../../src/metrics.js';
import { wsapiArrayClient } from '../../src/array/wsapi-adapter.js';
import { WsapiClient } from '../../src/wsapi/index.js';
import type { BackendConfig } from '../../src/config/backends.js';
import type { ClientFactory } from '../../src/array/registry.js';
import { startFake, type FakeArray } from '../wsapi/fake-array.js';
import { captureLog, type CapturedLog } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait.js';
import { GiB, mountCap, startDriver, startSim, type Driver } from '../helpers/controller-harness.js';
import type { RunningSimulator } from '../../src/simulator/index.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** The WSAPI client with a chosen probe interval (the rest from the backend entry). */
const withProbe =
  (probeIntervalMs: number): ClientFactory =>
  (config, log, metrics) =>
    wsapiArrayClient(WsapiClient.fromBackend(config, { log, ...(metrics && { metrics }), probeIntervalMs }));

async function driverFor(
  backend: BackendConfig,
  probeIntervalMs = 600_000,
): Promise<{ d: Driver; cap: CapturedLog; metrics: Metrics }> {
  const cap = captureLog('info');
  const metrics = new Metrics({ processMetrics: false });
  const d = await startDriver([backend], { log: cap.log, metrics, clientFactory: withProbe(probeIntervalMs) });
  cleanups.push(() => d.stop());
  return { d, cap, metrics };
}

async function gauge(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

/** The status the metrics show for a backend (the label whose value is 1). */
async function statusOf(metrics: Metrics, backend: string): Promise<string[]> {
  const values = (await metrics.registry.getSingleMetric('threepar_csi_backend_status')?.get())?.values ?? [];
  return values.filter((v) => v.labels['backend'] === backend && v.value === 1).map((v) => String(v.labels['status']));
}

function downLines(cap: CapturedLog): { msg: string; status?: string; reason?: string }[] {
  return cap
    .lines()
    .map((l) => JSON.parse(l) as { msg: string; status?: string; reason?: string })
    .filter((l) => l.msg.startsWith('backend down') || l.msg === 'backend up');
}

/** Waits until the log has a line satisfying `ok` (the safety net of helpers/wait.ts reports itself). */
async function logEvent(
  cap: CapturedLog,
  ok: (l: { msg: string; status?: string; reason?: string }) => boolean,
): Promise<void> {
  await waitFor('a backend up/down log line', () => downLines(cap).some(ok), { intervalMs: 5 });
}

const createReq = (name: string) => ({
  name,
  capacity_range: { required_bytes: String(GiB) },
  volume_capabilities: [mountCap()],
  parameters: { cpg: 'CPG1' },
});

async function failure(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  return p.then(
    () => ({ code: grpc.status.OK, details: '' }),
    (e: { code: number; details: string }) => ({ code: e.code, details: e.details }),
  );
}

describe('backend status (issue 18 cases 1 and 4)', () => {
  it('reports an array that accepts and never answers down at its first-byte timeout, and fails later RPCs at once without sending', async () => {
    const hung: FakeArray = await startFake(() => undefined);
    cleanups.push(() => hung.close());
    const started = performance.now();
    const { d, cap, metrics } = await driverFor({
      id: 'hung',
      url: hung.url,
      username: 'u',
      password: 'p',
      connectTimeoutSeconds: 1,
      responseTimeoutSeconds: 0.5,
    });
    await logEvent(cap, (l) => l.msg.startsWith('backend down'));
    const reportedMs = performance.now() - started;
    const down = downLines(cap).find((l) => l.msg.startsWith('backend down'))!;
    expect(down.status).toBe('unreachable');
    expect(down.reason).toMatch(/sent no answer within 0\.5 s/);
    expect(await gauge(metrics, 'threepar_csi_backend_up', { backend: 'hung' })).toBe(0);
    expect(await statusOf(metrics, 'hung')).toEqual(['unreachable']);
    const sentBefore = hung.requests.length;

    const t0 = performance.now();
    const res = await failure(d.client.call('CreateVolume', createReq('pvc-hung'), { deadlineMs: 60_000 }));
    const rpcMs = performance.now() - t0;
    expect(res.code).toBe(grpc.status.UNAVAILABLE);
    expect(res.details).toMatch(/stopped answering/);
    // Failed at once: nothing more reached the hung array (no login, no create).
    expect(hung.requests.length).toBe(sentBefore);
    process.stdout.write(
      `hung array: reported down ${Math.round(reportedMs)} ms after start (first-byte limit 500 ms); next CreateVolume failed in ${Math.round(rpcMs)} ms\n`,
    );
  });

  it('recovers from a hang (simulator fault) once a probe answers, and is up only after an authenticated request', async () => {
    const sim: RunningSimulator = await startSim();
    cleanups.push(() => sim.close());
    const hang = sim.faults.add({ type: 'hang' });
    const { d, cap, metrics } = await driverFor(
      { id: 'sim', url: sim.url, username: sim.username, password: sim.password, responseTimeoutSeconds: 0.3 },
      20,
    );
    await logEvent(cap, (l) => l.msg.startsWith('backend down') && l.status === 'unreachable');
    sim.faults.remove(hang);
    // The probe (GET /api) finds the array again; the first RPC after that works and proves it up.
    const res = await waitFor(
      'a CreateVolume that is not UNAVAILABLE once the probe found the array',
      async () => {
        const r = await failure(d.client.call('CreateVolume', createReq('pvc-after-hang')));
        return r.code === grpc.status.UNAVAILABLE ? undefined : r;
      },
      { intervalMs: 10 },
    );
    expect(res.code).toBe(grpc.status.OK);
    expect(await gauge(metrics, 'threepar_csi_backend_up', { backend: 'sim' })).toBe(1);
    expect(await statusOf(metrics, 'sim')).toEqual(['reachable']);
    expect(downLines(cap).at(-1)!.msg).toBe('backend up');
  });

  it('reports a wrong password as authentication refused, never up, also after a failed call', async () => {
    const sim = await startSim();
    cleanups.push(() => sim.close());
    const { d, cap, metrics } = await driverFor({
      id: 'pw',
      url: sim.url,
      username: sim.username,
      password: 'not-the-password',
    });
    await logEvent(cap, (l) => l.msg.startsWith('backend down'));
    const res = await failure(d.client.call('CreateVolume', createReq('pvc-pw')));
    expect(res.code).toBe(grpc.status.UNAVAILABLE);
    expect(res.details).toMatch(/user name or password/);
    const lines = downLines(cap);
    expect(lines.map((l) => l.status)).toEqual(['auth-refused']);
    expect(lines[0]!.msg).toMatch(/refused the driver's user name or password/);
    expect(await gauge(metrics, 'threepar_csi_backend_up', { backend: 'pw' })).toBe(0);
    expect(await statusOf(metrics, 'pw')).toEqual(['auth-refused']);
  });

  it('says so when an https:// URL points at a plain-HTTP server', async () => {
    const sim = await startSim();
    cleanups.push(() => sim.close());
    const { d, cap, metrics } = await driverFor({
      id: 'tls',
      url: sim.url.replace(/^http:/, 'https:'),
      username: sim.username,
      password: sim.password,
    });
    await logEvent(cap, (l) => l.msg.startsWith('backend down'));
    const res = await failure(d.client.call('CreateVolume', createReq('pvc-tls')));
    expect(res.code).toBe(grpc.status.UNAVAILABLE);
    expect(res.details).toMatch(/answered in plain HTTP, not TLS/);
    expect(res.details).not.toMatch(/caCert/);
    expect(downLines(cap).map((l) => l.status)).toEqual(['tls-refused']);
    expect(await statusOf(metrics, 'tls')).toEqual(['tls-refused']);
  });

  it('reports a certificate it cannot verify as TLS refused, naming caCert', async () => {
    const sim = await startSim({ https: true });
    cleanups.push(() => sim.close());
    const { d, cap, metrics } = await driverFor({
      id: 'ca',
      url: sim.url,
      username: sim.username,
      password: sim.password,
    });
    await logEvent(cap, (l) => l.msg.startsWith('backend down'));
    const res = await failure(d.client.call('CreateVolume', createReq('pvc-ca')));
    expect(res.code).toBe(grpc.status.UNAVAILABLE);
    expect(res.details).toMatch(/caCert/);
    expect(await statusOf(metrics, 'ca')).toEqual(['tls-refused']);
    expect(await gauge(metrics, 'threepar_csi_backend_up', { backend: 'ca' })).toBe(0);
  });
});
