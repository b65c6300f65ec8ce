/**
 * The client's transport behaviour against the simulator: TLS, sessions (expiry, limit, bad
 * credentials, logout), retries under injected faults, truncated lists, and the task waiter.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Metrics } from '../../src/metrics.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import {
  TaskStatus,
  WsapiAbortedError,
  WsapiClient,
  WsapiCode,
  WsapiConnectionError,
  WsapiError,
  WsapiProtocolError,
  WsapiTaskError,
  isWsapiCode,
  type WsapiClientOptions,
} from '../../src/wsapi/index.js';
import { withClockAhead } from '../helpers/wait.js';

const clients: WsapiClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function clientOf(sim: RunningSimulator, extra: Partial<WsapiClientOptions> = {}): WsapiClient {
  const c = new WsapiClient({
    backendId: 'sim',
    url: sim.url,
    username: sim.username,
    password: sim.password,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    ...extra,
  });
  clients.push(c);
  return c;
}

const api = (sim: RunningSimulator): RunningSimulator['requests'] =>
  sim.requests.filter((r) => !r.path.startsWith('/api/v1/credentials'));
const logins = (sim: RunningSimulator): RunningSimulator['requests'] =>
  sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/credentials');

describe('simulator over HTTPS', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ https: true });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('passes with the right CA', async () => {
    await expect(clientOf(sim, { caCert: sim.caCert! }).system.get()).resolves.toMatchObject({
      name: expect.any(String),
    });
  });

  it('fails with a clear TLS error with no CA (self-signed certificate), without retrying', async () => {
    const err = await clientOf(sim)
      .system.get()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('tls');
    expect((err as Error).message).toMatch(/caCert.*insecureSkipVerify/);
  });

  it('passes with insecureSkipVerify', async () => {
    await expect(clientOf(sim, { insecureSkipVerify: true }).cpgs.list()).resolves.not.toHaveLength(0);
  });
});

describe('simulator sessions', () => {
  it('hides a session that expires in the middle of a run', async () => {
    const sim = await startSimulator({});
    try {
      const c = clientOf(sim, { sessionPoolSize: 2 });
      // Ten workers making six calls each; the sessions expire once 25 calls have completed.
      let completed = 0;
      const worker = async (): Promise<number> => {
        for (let k = 0; k < 6; k++) {
          await c.cpgs.list();
          if (++completed === 25) sim.faults.add({ type: 'expireSessions' });
        }
        return 6;
      };
      const done = await Promise.all(Array.from({ length: 10 }, worker));
      expect(done.reduce((a, b) => a + b, 0)).toBe(60);
      expect(sim.requests.some((r) => r.status === 403 && r.code === 6)).toBe(true);
      expect(logins(sim).length).toBeLessThanOrEqual(4);
    } finally {
      await sim.close();
    }
  });

  it('hides an idle timeout: the next call logs in again once', async () => {
    const sim = await startSimulator({ sessionIdleTimeoutSec: 60 });
    try {
      const c = clientOf(sim);
      await c.system.get();
      sim.resetRequests();
      // The next call comes past the array's idle timeout: the clock (the simulator's and the
      // client's, one process) jumps there, no test sleeps through it.
      await expect(withClockAhead(61_000, () => c.system.get())).resolves.toBeDefined();
      expect(sim.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        'GET /api/v1/system 403',
        'POST /api/v1/credentials 201',
        'GET /api/v1/system 200',
      ]);
    } finally {
      await sim.close();
    }
  });

  it('never holds more keys than the pool size under 200 concurrent calls (array limit = pool size)', async () => {
    const sim = await startSimulator({ sessionLimit: 3, latencyMs: 2 });
    try {
      const c = clientOf(sim, { sessionPoolSize: 3, maxInFlight: 8 });
      const out = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? c.cpgs.list() : c.system.get())));
      expect(out).toHaveLength(200);
      expect(api(sim)).toHaveLength(200);
      expect(api(sim).every((r) => r.status === 200)).toBe(true);
      expect(logins(sim).every((r) => r.status === 201)).toBe(true);
      expect(logins(sim).length).toBeLessThanOrEqual(3);
    } finally {
      await sim.close();
    }
  });

  it('makes exactly one login attempt with bad credentials', async () => {
    const sim = await startSimulator({});
    try {
      const c = clientOf(sim, { password: 'wrong' });
      const errs = await Promise.all(
        [c.system.get(), c.volumes.list(), c.hosts.list()].map((p) => p.catch((e: unknown) => e)),
      );
      for (const e of errs) expect(isWsapiCode(e, WsapiCode.INV_USER_PASS)).toBe(true);
      await c.cpgs.list().catch(() => undefined);
      expect(sim.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.code}`)).toEqual([
        'POST /api/v1/credentials 403 5',
      ]);
    } finally {
      await sim.close();
    }
  });

  it('logs out every key on close', async () => {
    const sim = await startSimulator({});
    try {
      const c = new WsapiClient({
        backendId: 'sim',
        url: sim.url,
        username: sim.username,
        password: sim.password,
        sessionPoolSize: 3,
      });
      await Promise.all(Array.from({ length: 30 }, () => c.cpgs.list()));
      const opened = logins(sim).length;
      await c.close();
      const logouts = sim.requests.filter(
        (r) => r.method === 'DELETE' && r.path.startsWith('/api/v1/credentials/') && r.status === 200,
      );
      expect(logouts).toHaveLength(opened);
      const probe = clientOf(sim);
      expect((await probe.wsapiConfiguration.get()).sessionsInUse).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe('simulator faults', () => {
  let sim: RunningSimulator;
  let c: WsapiClient;
  const metrics = new Metrics({ processMetrics: false });
  beforeAll(async () => {
    sim = await startSimulator({ tickMs: 10 });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeAll(() => {
    c = new WsapiClient({
      backendId: 'sim',
      url: sim.url,
      username: sim.username,
      password: sim.password,
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      metrics,
    });
  });
  afterAll(async () => {
    await c.close();
  });
  afterEach(() => {
    sim.faults.clear();
    sim.resetRequests();
  });

  it('retries a GET after 503 and after a dropped connection, and counts each try in metrics', async () => {
    await c.cpgs.list();
    sim.resetRequests();
    sim.faults.add({
      type: 'error',
      status: 503,
      code: 270,
      match: { method: 'GET', path: '^/api/v1/cpgs$' },
      count: 1,
    });
    sim.faults.add({ type: 'drop', when: 'before', match: { method: 'GET', path: '^/api/v1/cpgs$' }, count: 1 });
    await expect(c.cpgs.list()).resolves.not.toHaveLength(0);
    expect(api(sim).filter((r) => r.path === '/api/v1/cpgs')).toHaveLength(3);
    const total = await metrics.registry.getSingleMetricAsString('threepar_csi_wsapi_requests_total');
    expect(total).toContain('backend="sim",op="cpgs.list",outcome="503"} 1');
    expect(total).toContain('backend="sim",op="cpgs.list",outcome="reset"} 1');
    expect(total).toContain('backend="sim",op="cpgs.list",outcome="200"} 2');
    expect(await metrics.registry.getSingleMetricAsString('threepar_csi_wsapi_request_duration_seconds')).toContain(
      'op="cpgs.list"',
    );
  });

  it('does not retry a POST after 503', async () => {
    sim.faults.add({
      type: 'error',
      status: 503,
      code: 270,
      match: { method: 'POST', path: '^/api/v1/volumes$' },
      count: 1,
    });
    const err = await c.volumes.create({ name: 'f-503', cpg: 'FC_r6', sizeMiB: 256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiError);
    expect((err as WsapiError).status).toBe(503);
    expect(api(sim).filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(isWsapiCode(await c.volumes.get('f-503').catch((e: unknown) => e), WsapiCode.NON_EXISTENT_VOL)).toBe(true);
  });

  it('does not retry a POST whose connection dropped — the array may have applied it', async () => {
    sim.faults.add({ type: 'drop', when: 'after', match: { method: 'POST', path: '^/api/v1/volumes$' }, count: 1 });
    const err = await c.volumes.create({ name: 'f-drop', cpg: 'FC_r6', sizeMiB: 256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect(sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/volumes')).toHaveLength(1);
    // The change was applied: a caller's retry meets EXISTENT_VOL and checks what exists.
    await expect(c.volumes.get('f-drop')).resolves.toMatchObject({ name: 'f-drop' });
  });

  it('treats a truncated volume list as an error (after retrying it)', async () => {
    await c.volumes.create({ name: 't-1', cpg: 'FC_r6', sizeMiB: 256 }).catch(() => undefined);
    await c.volumes.create({ name: 't-2', cpg: 'FC_r6', sizeMiB: 256 }).catch(() => undefined);
    sim.resetRequests();
    sim.faults.add({ type: 'truncate', afterMembers: 1, match: { path: '^/api/v1/volumes$' }, count: 3 });
    const err = await c.volumes.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiProtocolError);
    expect(['truncated', 'success-false']).toContain((err as WsapiProtocolError).reason);
    expect(api(sim)).toHaveLength(3);
  });

  it('recovers from one truncated list by retrying', async () => {
    sim.faults.add({ type: 'truncate', afterMembers: 1, match: { path: '^/api/v1/vluns$' }, count: 1 });
    await expect(c.vluns.list()).resolves.toBeDefined();
  });
});

describe('simulator: waitForTask', () => {
  let sim: RunningSimulator;
  let c: WsapiClient;
  beforeAll(async () => {
    sim = await startSimulator({ tickMs: 10, copyRateMiBps: 20_000 });
    c = new WsapiClient({ backendId: 'sim', url: sim.url, username: sim.username, password: sim.password });
    await c.volumes.create({ name: 'src', cpg: 'FC_r6', snapCPG: 'FC_r6', sizeMiB: 2048 });
  });
  afterAll(async () => {
    await c.close();
    await sim.close();
  });

  it('returns the finished task, reporting progress', async () => {
    const { taskId } = await c.volumes.createPhysicalCopy('src', {
      destVolume: 'w-ok',
      online: true,
      destCPG: 'FC_r6',
    });
    const seen: number[] = [];
    const t = await c.waitForTask(taskId, {
      intervalMs: 10,
      timeoutMs: 10_000,
      onProgress: (x) => seen.push(x.status),
    });
    expect(t).toMatchObject({ id: taskId, status: TaskStatus.DONE, name: 'w-ok' });
    expect(seen.at(-1)).toBe(TaskStatus.DONE);
  });

  it('throws "failed" for a task the array fails', async () => {
    sim.faults.add({ type: 'failTask', name: '^w-fail$', atPct: 10, count: 1 });
    const { taskId } = await c.volumes.createPhysicalCopy('src', {
      destVolume: 'w-fail',
      online: true,
      destCPG: 'FC_r6',
    });
    const err = await c.waitForTask(taskId, { intervalMs: 10, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiTaskError);
    expect(err).toMatchObject({ reason: 'failed', taskId, task: { status: TaskStatus.FAILED } });
  });

  it('throws "cancelled" for a cancelled task, and "timeout" while one runs past the limit', async () => {
    sim.faults.set({ copyRateMiBps: 1 });
    try {
      const { taskId } = await c.volumes.createPhysicalCopy('src', {
        destVolume: 'w-slow',
        online: true,
        destCPG: 'FC_r6',
      });
      const timedOut = await c.waitForTask(taskId, { intervalMs: 20, timeoutMs: 120 }).catch((e: unknown) => e);
      expect(timedOut).toMatchObject({
        name: 'WsapiTaskError',
        reason: 'timeout',
        task: { status: TaskStatus.ACTIVE },
      });
      const ac = new AbortController();
      // Aborted after the first poll, while waiting out an interval no test would wait for.
      await expect(
        c.waitForTask(taskId, {
          intervalMs: 600_000,
          timeoutMs: 1_200_000,
          signal: ac.signal,
          onProgress: () => ac.abort(),
        }),
      ).rejects.toBeInstanceOf(WsapiAbortedError);
      await c.tasks.cancel(taskId);
      const cancelled = await c.waitForTask(taskId, { intervalMs: 10, timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(cancelled).toMatchObject({ reason: 'cancelled', taskId });
    } finally {
      sim.faults.set({ copyRateMiBps: 20_000 });
    }
  });
});
