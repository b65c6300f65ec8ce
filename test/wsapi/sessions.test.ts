import { afterEach, describe, expect, it } from '@jest/globals';
import { WsapiAbortedError, WsapiClient, WsapiCode, WsapiError, isWsapiCode } from '../../src/wsapi/index.js';
import { Metrics } from '../../src/metrics.js';
import { apiRequests, reply, startFake, withSessions, type FakeArray } from './fake-array.js';
import { waitFor, withClockAhead } from '../helpers/wait.js';

const fakes: FakeArray[] = [];
const clients: WsapiClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function client(fake: FakeArray, extra: Partial<ConstructorParameters<typeof WsapiClient>[0]> = {}): WsapiClient {
  const c = new WsapiClient({
    backendId: 't',
    url: fake.url,
    username: 'u',
    password: 'secret',
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...extra,
  });
  clients.push(c);
  return c;
}

const system = { id: 1, name: 'sys', serialNumber: '1234' };

describe('session keys', () => {
  it('logs in once, sends the key on every call, and shares the first login among concurrent calls', async () => {
    const h = withSessions((req, res) => setTimeout(() => reply(res, 200, system), 5), { loginDelayMs: 30 });
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake, { sessionPoolSize: 3 });
    await Promise.all(Array.from({ length: 10 }, () => c.system.get()));
    const logins = fake.requests.filter((r) => r.url === '/api/v1/credentials');
    // The first wave waits for one login; the pool may then grow, one login at a time, up to 3.
    expect(logins.length).toBeGreaterThanOrEqual(1);
    expect(logins.length).toBeLessThanOrEqual(3);
    expect(apiRequests(fake)).toHaveLength(10);
    for (const r of apiRequests(fake)) expect(h.keys.has(r.key ?? '')).toBe(true);
    // The client offers to keep the connection; the array (and this fake) close it after each
    // answer, so every request opens its own (test/wsapi/connections.test.ts).
    for (const r of fake.requests) expect(r.headers.connection).toBe('keep-alive');
    // Logins never overlap: each starts after the previous answered.
    const firstApi = fake.requests.findIndex((r) => r.url === '/api/v1/system');
    expect(fake.requests.slice(0, firstApi).filter((r) => r.url === '/api/v1/credentials')).toHaveLength(1);
  });

  it('logs in again once when the key expired and replays the call, invisibly', async () => {
    const h = withSessions((req, res) => reply(res, 200, system));
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake);
    await c.system.get();
    h.expireAll();
    fake.requests.length = 0;
    await expect(c.system.get()).resolves.toMatchObject({ name: 'sys' });
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v1/system',
      'POST /api/v1/credentials',
      'GET /api/v1/system',
    ]);
  });

  it('retires a key idle past keyIdleMs (logging it out) instead of meeting a refusal', async () => {
    const h = withSessions((req, res) => reply(res, 200, system));
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake, { keyIdleMs: 60_000 });
    await c.system.get();
    const first = [...h.keys][0]!;
    fake.requests.length = 0;
    // The next call comes past keyIdleMs: the clock jumps there, no test sleeps through it.
    await withClockAhead(61_000, () => c.system.get());
    // The logout runs in the background.
    await waitFor('the logout of the idle key', () => !h.keys.has(first));
    expect(fake.requests.map((r) => `${r.method} ${r.url}`).sort()).toEqual(
      ['DELETE /api/v1/credentials/' + first, 'GET /api/v1/system', 'POST /api/v1/credentials'].sort(),
    );
    expect(fake.requests.some((r) => r.url === '/api/v1/system' && r.key === first)).toBe(false);
    expect(h.keys.has(first)).toBe(false);
  });

  it('replays a POST after 403/6 too (the array refused it before doing anything)', async () => {
    const h = withSessions((req, res) => reply(res, 201, undefined, { Location: '/api/v1/volumes/v1' }));
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake);
    await c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1024 });
    h.expireAll();
    fake.requests.length = 0;
    await c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1024 });
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /api/v1/volumes',
      'POST /api/v1/credentials',
      'POST /api/v1/volumes',
    ]);
  });

  it('shares one re-login among many calls that find the key expired at once', async () => {
    const h = withSessions((req, res) => setTimeout(() => reply(res, 200, system), 2), { loginDelayMs: 20 });
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake, { sessionPoolSize: 1 });
    await c.system.get();
    h.expireAll();
    fake.requests.length = 0;
    await Promise.all(Array.from({ length: 20 }, () => c.system.get()));
    expect(fake.requests.filter((r) => r.url === '/api/v1/credentials')).toHaveLength(1);
  });

  it('hides the expiry of every key of a full pool at once (keys older than the call are replayed past)', async () => {
    const h = withSessions((req, res) => setTimeout(() => reply(res, 200, system), 5));
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake, { sessionPoolSize: 3 });
    await Promise.all(Array.from({ length: 30 }, () => c.system.get()));
    expect(h.keys.size).toBe(3);
    h.expireAll();
    const before = h.logins;
    await expect(Promise.all(Array.from({ length: 30 }, () => c.system.get()))).resolves.toHaveLength(30);
    expect(h.logins - before).toBeLessThanOrEqual(3);
  });

  it('gives up after one re-login when the new key is refused as well', async () => {
    const fake = await startFake((req, res) =>
      req.url === '/api/v1/credentials'
        ? reply(res, 201, { key: `k${fake.requests.length}` })
        : reply(res, 403, { code: 6, desc: 'invalid session key' }),
    );
    fakes.push(fake);
    const c = client(fake);
    const err = await c.system.get().catch((e: unknown) => e);
    expect(isWsapiCode(err, WsapiCode.INV_SESS_KEY)).toBe(true);
    expect(apiRequests(fake)).toHaveLength(2);
  });

  it('makes exactly one login attempt on bad credentials, even for many concurrent calls, and none during the cool-down', async () => {
    const h = withSessions((req, res) => reply(res, 200, system), { password: 'right', loginDelayMs: 20 });
    const fake = await startFake(h);
    fakes.push(fake);
    const metrics = new Metrics({ processMetrics: false });
    const c = client(fake, { metrics });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => c.system.get()));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as unknown;
      expect(err).toBeInstanceOf(WsapiError);
      expect(isWsapiCode(err, WsapiCode.INV_USER_PASS)).toBe(true);
    }
    const again = await c.volumes.list().catch((e: unknown) => e);
    expect(isWsapiCode(again, WsapiCode.INV_USER_PASS)).toBe(true);
    expect((again as Error).message).toMatch(/not trying again/);
    expect(fake.requests).toHaveLength(1);
    expect(h.logins).toBe(1);
    const logins = await metrics.registry.getSingleMetricAsString('threepar_csi_wsapi_logins_total');
    expect(logins).toContain('outcome="rejected"} 1');
  });

  it('keeps using the keys it holds when an extra login is refused, and suspends logins', async () => {
    const opts = { password: 'secret' };
    const h = withSessions((req, res) => setTimeout(() => reply(res, 200, system), 10), opts);
    const fake = await startFake(h);
    fakes.push(fake);
    const c = client(fake, { sessionPoolSize: 2 });
    await c.system.get();
    opts.password = 'changed-on-the-array';
    await expect(Promise.all(Array.from({ length: 6 }, () => c.system.get()))).resolves.toHaveLength(6);
    expect(h.logins).toBe(2);
    h.expireAll();
    const err = await c.system.get().catch((e: unknown) => e);
    expect(isWsapiCode(err, WsapiCode.INV_USER_PASS)).toBe(true);
    expect(h.logins).toBe(2);
  });

  it('logs out every key on close and refuses calls afterwards', async () => {
    const h = withSessions((req, res) => setTimeout(() => reply(res, 200, system), 10));
    const fake = await startFake(h);
    fakes.push(fake);
    const metrics = new Metrics({ processMetrics: false });
    const keys = async (): Promise<number | undefined> =>
      (await metrics.wsapiKeys.get()).values.find((v) => v.labels['backend'] === 't')?.value;
    const c = new WsapiClient({
      backendId: 't',
      url: fake.url,
      username: 'u',
      password: 'secret',
      sessionPoolSize: 3,
      metrics,
    });
    await Promise.all(Array.from({ length: 12 }, () => c.system.get()));
    expect(h.keys.size).toBeGreaterThan(0);
    expect(await keys()).toBe(h.keys.size);
    await c.close();
    expect(h.keys.size).toBe(0);
    expect(await keys()).toBe(0);
    await expect(c.system.get()).rejects.toBeInstanceOf(WsapiAbortedError);
  });

  it('never holds more keys than the pool size nor more requests in flight than the cap, under 200 concurrent calls', async () => {
    let maxKeys = 0;
    const h = withSessions((req, res) => {
      maxKeys = Math.max(maxKeys, h.keys.size);
      setTimeout(() => reply(res, 200, system), 3);
    });
    const fake = await startFake(h);
    fakes.push(fake);
    const metrics = new Metrics({ processMetrics: false });
    const c = client(fake, { sessionPoolSize: 3, maxInFlight: 6, metrics });
    await Promise.all(Array.from({ length: 200 }, () => c.system.get()));
    expect(apiRequests(fake)).toHaveLength(200);
    expect(maxKeys).toBeLessThanOrEqual(3);
    expect(h.logins).toBeLessThanOrEqual(3);
    // The server also counts the logins, which bypass the cap; API calls alone stay within 6.
    expect(fake.maxActive).toBeLessThanOrEqual(7);
    expect(await metrics.registry.getSingleMetricAsString('threepar_csi_wsapi_session_keys')).toContain(
      `backend="t"} ${h.keys.size}`,
    );
  });
});
