import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { call, session, type Res, type CallOptions } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session());
});
afterAll(async () => sim.close());

describe('transport', () => {
  test('GET /api needs no session and reports the 3.1.3 MU1 build', async () => {
    const r = await call(sim, 'GET', '/api');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ major: 1, minor: 3, build: 30103230 });
    expect(r.headers['server']).toBe('hp3par-wsapi');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['pragma']).toBe('no-cache');
    expect(r.headers['connection']).toBe('close');
    expect(r.headers['content-type']).toBe('application/json');
  });

  test('errors: unknown path 404/11, wrong method 501/9', async () => {
    expect((await api('GET', '/nothing')).body.code).toBe(11);
    const r = await api('PATCH', '/volumes');
    expect([r.status, r.body.code]).toEqual([501, 9]);
  });
});

describe('volumes', () => {
  test('create, get, list, delete', async () => {
    const c = await api('POST', '/volumes', { name: 'v1', cpg: 'SSD_r6', sizeMiB: 1000, tpvv: true, snapCPG: 'SSD_r6', comment: 'hello' });
    expect(c.status).toBe(201);
    expect(c.headers['location']).toBe('/api/v1/volumes/v1');
    expect(c.headers['content-type']).toBeUndefined();
    const g = await api('GET', '/volumes/v1');
    expect(g.body).toMatchObject({ name: 'v1', sizeMiB: 1024, provisioningType: 2, copyType: 1, userCPG: 'SSD_r6', snapCPG: 'SSD_r6', comment: 'hello' });
    expect(g.body.wwn).toMatch(/^60002AC[0-9A-F]{25}$/);
    const l = await api('GET', '/volumes');
    expect(l.headers['transfer-encoding']).toBe('chunked');
    expect(l.body.total).toBe(1);
    const d = await api('DELETE', '/volumes/v1');
    expect(d.status).toBe(200);
    expect((await api('GET', '/volumes/v1')).status).toBe(404);
  });
});
