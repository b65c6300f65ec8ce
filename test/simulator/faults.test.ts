/** Fault injection (in process and through the admin endpoint) and the latency model. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { call, login, session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let key: string;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, key, api } = await session({ admin: true }));
});
afterAll(async () => sim.close());

const create = (name: string): Promise<Res> => api('POST', '/volumes', { name, cpg: 'SSD_r6', sizeMiB: 256 });
const exists = async (name: string): Promise<boolean> => (await api('GET', `/volumes/${name}`)).status === 200;

/** Reads a response to the end or to the connection's close, whatever happens first. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ text: string; complete: boolean }> {
  return new Promise((resolve) => {
    http.get(url, { headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ text, complete: true }));
      res.on('error', () => resolve({ text, complete: false }));
      res.on('aborted', () => resolve({ text, complete: false }));
    });
  });
}

describe('faults', () => {
  test('a chosen error for the next N matching calls changes nothing', async () => {
    sim.faults.failNext(503, 270, { method: 'POST', path: '^/api/v1/volumes$' }, 2);
    expect((await create('e1')).body).toMatchObject({ code: 270 });
    expect((await api('GET', '/system')).status).toBe(200);
    expect((await create('e1')).status).toBe(503);
    expect(await exists('e1')).toBe(false);
    expect((await create('e1')).status).toBe(201);
    expect(sim.requests.filter((r) => r.code === 270)).toHaveLength(2);
  });

  test('faults can target a POST action', async () => {
    await api('PUT', '/volumes/e1', { snapCPG: 'SSD_r6' });
    sim.faults.add({ type: 'error', status: 409, code: 9999, match: { action: 'createSnapshot' } });
    expect(
      (await api('POST', '/volumes/e1', { action: 'createSnapshot', parameters: { name: 'e1-s' } })).body.code,
    ).toBe(9999);
    expect((await api('POST', '/volumes/e1', { action: 'createSnapshot', parameters: { name: 'e1-s' } })).status).toBe(
      201,
    );
  });

  test('drop before: no answer, no change; drop after: no answer, change applied', async () => {
    sim.faults.dropConnection('before', { method: 'POST', path: '^/api/v1/volumes$' });
    await expect(create('d-before')).rejects.toThrow();
    expect(await exists('d-before')).toBe(false);
    sim.faults.dropConnection('after', { method: 'POST', path: '^/api/v1/volumes$' });
    await expect(create('d-after')).rejects.toThrow();
    expect(await exists('d-after')).toBe(true);
  });

  test('added latency, per endpoint', async () => {
    const id = sim.faults.add({ type: 'latency', ms: 150, match: { path: '^/api/v1/system$' }, count: 1 });
    // Another endpoint does not take it (a lower bound only: a loaded machine is never faster).
    await api('GET', '/cpgs');
    expect(sim.faults.list()).toEqual([expect.objectContaining({ id, remaining: 1 })]);
    const t = Date.now();
    await api('GET', '/system');
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
    expect(sim.faults.list()).toEqual([]);
  });

  test('a hold keeps matching requests until released; others pass; nothing changes before', async () => {
    const hold = sim.faults.hold({ method: 'POST', path: '^/api/v1/volumes$' });
    const held = create('h-held');
    await hold.arrived();
    expect(hold.held).toEqual([{ method: 'POST', path: '/api/v1/volumes' }]);
    // Another session is not blocked, and the held request has changed nothing yet.
    const other = await login(sim);
    expect((await call(sim, 'GET', '/api/v1/volumes/h-held', undefined, { key: other })).status).toBe(404);
    // Only `count` requests are held: the next matching one passes.
    expect(
      (await call(sim, 'POST', '/api/v1/volumes', { name: 'h-next', cpg: 'SSD_r6', sizeMiB: 256 }, { key: other }))
        .status,
    ).toBe(201);
    hold.release();
    expect((await held).status).toBe(201);
    expect(await exists('h-held')).toBe(true);
  });

  test('expire all sessions', async () => {
    const k = await login(sim);
    expect(sim.faults.expireSessions()).toBeGreaterThanOrEqual(2);
    expect((await call(sim, 'GET', '/api/v1/system', undefined, { key: k })).body.code).toBe(6);
    key = await login(sim);
    api = (method, path, body, o = {}) => call(sim, method, `/api/v1${path}`, body, { key, ...o });
  });

  test('a truncated chunked list ends with "success":false and no terminating chunk', async () => {
    for (const n of ['t1', 't2', 't3', 't4']) await create(n);
    sim.faults.add({ type: 'truncate', afterMembers: 2, code: 1, match: { path: '^/api/v1/volumes$' } });
    const r = await rawGet(`${sim.url}/api/v1/volumes`, { 'X-HP3PAR-WSAPI-SessionKey': key });
    expect(r.complete).toBe(false);
    expect(r.text).toMatch(/^\{"total":\d+,"members":\[.*\],"success":false,"message":\{"code":1,/);
    expect(() => JSON.parse(r.text)).toThrow();
    expect((await api('GET', '/volumes')).body.total).toBeGreaterThan(4);
  });

  test('the admin endpoint has the same powers, for loopback clients', async () => {
    const add = await call(sim, 'POST', '/sim/faults', {
      type: 'error',
      status: 500,
      code: 1,
      match: { path: '^/api/v1/cpgs' },
    });
    expect(add.status).toBe(201);
    expect((await call(sim, 'GET', '/sim/faults')).body).toHaveLength(1);
    expect((await api('GET', '/cpgs')).body.code).toBe(1);
    expect((await api('GET', '/cpgs')).status).toBe(200);
    expect((await call(sim, 'PUT', '/sim/switches', { refuseModifyDuringCopy: true })).status).toBe(200);
    expect((await call(sim, 'POST', '/sim/expire-sessions')).body.expired).toBeGreaterThanOrEqual(1);
    expect((await call(sim, 'POST', '/sim/tasks/12345/fail')).status).toBe(404);
    expect((await call(sim, 'GET', '/sim/state')).body.volumes).toBeGreaterThan(0);
    expect((await call(sim, 'POST', '/sim/faults', { type: 'nonsense' })).status).toBe(400);
    expect((await call(sim, 'DELETE', '/sim/faults')).status).toBe(200);
  });

  test('admin endpoint is off by default; faults from start-up options', async () => {
    const s = await startSimulator({
      faults: [{ type: 'error', status: 503, code: 31, match: { path: '^/api/v1/credentials$' }, count: 1 }],
    });
    try {
      expect((await call(s, 'POST', '/api/v1/credentials', { user: s.username, password: s.password })).body.code).toBe(
        31,
      );
      const k = await login(s);
      expect((await call(s, 'GET', '/sim/state', undefined, { key: k })).body.code).toBe(11);
    } finally {
      await s.close();
    }
  });
});

describe('latency model', () => {
  test('service time L plus k per list member', async () => {
    const s = await startSimulator({ latencyMs: 20, perMemberUs: 2000 });
    try {
      const k = await login(s);
      for (let i = 0; i < 50; i++)
        await call(s, 'POST', '/api/v1/volumes', { name: `l${i}`, cpg: 'SSD_r6', sizeMiB: 256 }, { key: k });
      let t = Date.now();
      await call(s, 'GET', '/api/v1/system', undefined, { key: k });
      const one = Date.now() - t;
      t = Date.now();
      await call(s, 'GET', '/api/v1/volumes', undefined, { key: k });
      const list = Date.now() - t;
      expect(one).toBeGreaterThanOrEqual(19);
      expect(list).toBeGreaterThanOrEqual(115);
    } finally {
      await s.close();
    }
  });
});

describe('request log', () => {
  test('bounded, with a per-request callback', async () => {
    const seen: string[] = [];
    const s = await startSimulator({
      requestLogLimit: 10,
      onRequest: (r) => seen.push(`${r.method} ${r.path} ${r.status}`),
    });
    try {
      for (let i = 0; i < 25; i++) await call(s, 'GET', '/api');
      expect(s.requests.length).toBeLessThanOrEqual(10);
      expect(seen).toHaveLength(25);
      expect(seen[0]).toBe('GET /api 200');
    } finally {
      await s.close();
    }
  });
});
