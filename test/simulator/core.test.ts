/** Transport, sessions and the read-only system resources, with a plain HTTP client. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { call, login, session, sleep, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session());
});
afterAll(async () => sim.close());

function rawHttp(s: RunningSimulator, text: string): Promise<string> {
  const { port, hostname } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => sock.write(text));
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    sock.on('error', reject);
  });
}

describe('transport', () => {
  test('GET /api needs no session; every answer carries the array headers', async () => {
    const r = await call(sim, 'GET', '/api');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ major: 1, minor: 3, build: 30103230 });
    expect(r.headers).toMatchObject({
      server: 'hp3par-wsapi',
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      connection: 'close',
      'content-type': 'application/json',
    });
    const err = await api('GET', '/volumes/none');
    expect(err.headers).toMatchObject({ server: 'hp3par-wsapi', connection: 'close' });
  });

  test.each([
    ['unknown path', 'GET', '/api/v1/nothing', undefined, {}, 404, 11],
    ['path outside /api', 'GET', '/foo', undefined, {}, 404, 11],
    ['method not supported', 'PATCH', '/api/v1/volumes', undefined, {}, 501, 9],
    ['DELETE on a collection', 'DELETE', '/api/v1/hosts', undefined, {}, 501, 9],
    [
      'non-JSON content type',
      'POST',
      '/api/v1/hosts',
      undefined,
      { rawBody: 'name=x', headers: { 'Content-Type': 'text/plain' } },
      415,
      51,
    ],
    ['malformed JSON', 'POST', '/api/v1/hosts', undefined, { rawBody: '{"name":abc}' }, 400, 60],
    ['body not an object', 'POST', '/api/v1/hosts', [1, 2], {}, 400, 52],
    ['bad percent-encoding', 'GET', '/api/v1/volumes/%E0%A4%A', undefined, {}, 400, 56],
    ['unacceptable Accept', 'GET', '/api/v1/system', undefined, { headers: { Accept: 'text/html' } }, 406, 35],
  ] as const)('%s', async (_what, method, path, body, o, status, code) => {
    const r = await call(sim, method, path, body, { ...(o as CallOptions), key: await login(sim) });
    expect([r.status, r.body?.code]).toEqual([status, code]);
  });

  test("malformed JSON names the member when it can (the guide's example)", async () => {
    const r = await api('POST', '/hosts', undefined, { rawBody: '{"name":abc}' });
    expect([r.status, r.body.code, r.body.ref]).toEqual([400, 60, 'name']);
  });

  test('HTTP/1.0 → 505/8', async () => {
    const text = await rawHttp(sim, 'GET /api HTTP/1.0\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 505/);
    expect(text).toContain('"code":8');
  });

  test('a body over 1 MiB → 413/4', async () => {
    const r = await api('POST', '/hosts', undefined, {
      rawBody: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect([r.status, r.body.code]).toEqual([413, 4]);
  });
});

describe('sessions', () => {
  test('login: 201, Location and key; bad password 403/5; missing members 400/40', async () => {
    const r = await call(sim, 'POST', '/api/v1/credentials', { user: '3paradm', password: '3pardata' });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatch(/^0-[0-9a-f]{32}-[0-9a-f]{8}$/);
    expect(r.headers['location']).toBe(`/api/v1/credentials/${r.body.key}`);
    const bad = await call(sim, 'POST', '/api/v1/credentials', { user: '3paradm', password: 'nope' });
    expect([bad.status, bad.body.code]).toEqual([403, 5]);
    const missing = await call(sim, 'POST', '/api/v1/credentials', { user: '3paradm' });
    expect([missing.status, missing.body.code, missing.body.ref]).toEqual([400, 40, 'password']);
    const unknown = await call(sim, 'POST', '/api/v1/credentials', {
      user: '3paradm',
      password: '3pardata',
      sessionType: 1,
    });
    expect([unknown.status, unknown.body.code, unknown.body.ref]).toEqual([400, 12, 'sessionType']);
  });

  test('missing or unknown key → 403/6; logout then the key is dead', async () => {
    expect((await call(sim, 'GET', '/api/v1/system')).body).toMatchObject({ code: 6 });
    expect((await call(sim, 'GET', '/api/v1/system', undefined, { key: 'nope' })).status).toBe(403);
    const key = await login(sim);
    expect((await call(sim, 'GET', '/api/v1/system', undefined, { key })).status).toBe(200);
    expect((await call(sim, 'DELETE', `/api/v1/credentials/${key}`, undefined, { key })).status).toBe(200);
    expect((await call(sim, 'GET', '/api/v1/system', undefined, { key })).body.code).toBe(6);
    expect((await call(sim, 'DELETE', `/api/v1/credentials/${key}`)).body.code).toBe(6);
  });

  test('the session limit; expired sessions free their slots', async () => {
    const s = await startSimulator({ sessionLimit: 2 });
    try {
      await login(s);
      await login(s);
      const third = await call(s, 'POST', '/api/v1/credentials', { user: s.username, password: s.password });
      expect([third.status, third.body.code]).toEqual([503, 31]);
      s.faults.expireSessions();
      await login(s);
    } finally {
      await s.close();
    }
  });

  test('idle expiry', async () => {
    const s = await startSimulator({ sessionIdleTimeoutSec: 0.3, sessionLimit: 1 });
    try {
      const a = await login(s);
      // At least the idle timeout passes (a lower bound: a slow machine only waits longer).
      await sleep(450);
      // The expired key frees its slot and answers 6.
      await login(s);
      expect((await call(s, 'GET', '/api/v1/system', undefined, { key: a })).body.code).toBe(6);
    } finally {
      await s.close();
    }
  });

  test('requests on one key are served one at a time; other keys are not held up', async () => {
    const s = await startSimulator();
    try {
      const [a, b] = await Promise.all([login(s), login(s)]);
      const hold = s.faults.hold({ method: 'GET', path: '^/api/v1/(system|cpgs)$' }, 2);
      const first = call(s, 'GET', '/api/v1/system', undefined, { key: a });
      await hold.arrived(1);
      // Sent before b's request: if it did not wait behind `first`, it would be held second.
      const second = call(s, 'GET', '/api/v1/cpgs', undefined, { key: a });
      const other = call(s, 'GET', '/api/v1/system', undefined, { key: b });
      await hold.arrived(2);
      expect(hold.held.map((r) => r.path)).toEqual(['/api/v1/system', '/api/v1/system']);
      hold.release();
      expect((await Promise.all([first, second, other])).map((r) => r.status)).toEqual([200, 200, 200]);
    } finally {
      await s.close();
    }
  });
});

describe('system resources', () => {
  test('system, wsapiconfiguration, capacity', async () => {
    const s = await api('GET', '/system');
    expect(s.body).toMatchObject({ id: 46750, model: 'HP_3PAR 7400', systemVersion: '3.1.3.230', totalNodes: 2 });
    const w = await api('GET', '/wsapiconfiguration');
    expect(w.body).toMatchObject({
      version: '1.3.1',
      httpState: 'Enabled',
      httpsState: 'Disabled',
      systemResourceUsage: 36,
    });
    expect(w.body.sessionsInUse).toBeGreaterThanOrEqual(1);
    const c = await api('GET', '/capacity');
    expect(c.body.allCapacity.totalMiB).toBeGreaterThan(0);
    expect(Object.keys(c.body)).toEqual(['allCapacity', 'FCCapacity', 'NLCapacity', 'SSDCapacity']);
  });

  test('CPGs and the space reporter', async () => {
    const l = await api('GET', '/cpgs');
    expect(l.body.members.map((c: { name: string }) => c.name)).toEqual(['SSD_r6', 'FC_r6', 'NL_r6']);
    const one = await api('GET', '/cpgs/FC_r6');
    expect(one.body).toMatchObject({ name: 'FC_r6', numFPVVs: 0, state: 1, SDGrowth: { limitMiB: 16 * 1024 * 1024 } });
    expect((await api('GET', '/cpgs/none')).body.code).toBe(15);
    const free = await api('POST', '/spacereporter', { cpg: 'FC_r6' });
    expect(free.body).toEqual({ rawFreeMiB: 2 * 16 * 1024 * 1024, usableFreeMiB: 16 * 1024 * 1024 });
    await api('POST', '/volumes', { name: 'full', cpg: 'FC_r6', sizeMiB: 1024 });
    expect((await api('POST', '/spacereporter', { cpg: 'FC_r6' })).body.usableFreeMiB).toBe(16 * 1024 * 1024 - 1024);
    expect((await api('POST', '/spacereporter', {})).body.code).toBe(78);
    expect((await api('POST', '/spacereporter', { cpg: 'nope' })).body.code).toBe(15);
    await api('DELETE', '/volumes/full');
  });

  test('ports: FC and iSCSI targets, portals on 127.0.0.x only', async () => {
    const l = await api('GET', '/ports');
    const iscsi = l.body.members.filter((p: { protocol: number }) => p.protocol === 2);
    const fc = l.body.members.filter((p: { protocol: number }) => p.protocol === 1);
    expect(iscsi.length).toBeGreaterThanOrEqual(2);
    expect(fc.length).toBeGreaterThanOrEqual(2);
    for (const p of l.body.members) if (p.IPAddr) expect(p.IPAddr).toMatch(/^127\.0\.0\.\d+$/);
    expect(iscsi[0]).toMatchObject({
      mode: 2,
      linkState: 4,
      type: 8,
      iSCSIName: expect.stringMatching(/^iqn\.2000-05\.com\.3pardata:/),
    });
    expect(fc[0].portWWN).toMatch(/^[0-9A-F]{16}$/);
    expect((await api('GET', '/ports/0:2:1')).body.IPAddr).toBe('127.0.0.2');
    expect((await api('GET', '/ports/9:9:9')).body.code).toBe(20);
    expect((await api('GET', '/ports/x')).body.code).toBe(55);
  });

  test('HTTPS with a generated certificate', async () => {
    const s = await startSimulator({ https: true });
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(s.caCert).toContain('BEGIN CERTIFICATE');
      const r = await call(s, 'GET', '/api');
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test.each([
    [{}, 'TLSv1.3', [false, true, true]],
    [{ tlsMaxVersion: '1.2' as const }, 'TLSv1.2', [false, true, true]],
    [{ tlsResumption: false }, 'TLSv1.3', [false, false, false]],
    [{ tlsResumption: false, tlsMaxVersion: '1.2' as const }, 'TLSv1.2', [false, false, false]],
  ])('HTTPS %j: protocol and session resumption over connections the array closes', async (o, version, resumed) => {
    const s = await startSimulator({ https: true, ...o });
    const agent = new https.Agent({ keepAlive: true });
    try {
      const seen: [string | null, boolean][] = [];
      for (let i = 0; i < 3; i++)
        seen.push(
          await new Promise((resolve, reject) => {
            const req = https.get(`${s.url}/api`, { agent, ca: s.caCert }, (res) => {
              const sock = res.socket as TLSSocket;
              const out: [string | null, boolean] = [sock.getProtocol(), sock.isSessionReused()];
              res.resume();
              res.on('end', () => resolve(out));
            });
            req.on('error', reject);
          }),
        );
      expect(seen).toEqual(resumed.map((r) => [version, r]));
    } finally {
      agent.destroy();
      await s.close();
    }
  });

  test('request log', async () => {
    sim.resetRequests();
    await api('GET', '/volumes/none');
    expect(sim.requests).toEqual([{ method: 'GET', path: '/api/v1/volumes/none', status: 404, code: 23 }]);
  });
});

describe('CPG administration', () => {
  test('create, modify (limit, rename carried to volumes), delete guarded by use', async () => {
    const c = await api('POST', '/cpgs', {
      name: 'NEW_r1',
      growthLimitMiB: 4096,
      LDLayout: { RAIDType: 2, diskPatterns: [{ diskType: 1 }] },
    });
    expect([c.status, c.headers['location']]).toEqual([201, '/api/v1/cpgs/NEW_r1']);
    expect((await api('POST', '/cpgs', { name: 'NEW_r1' })).body.code).toBe(14);
    // The growth limit is the CPG's (SDGrowth.limitMiB); the space reporter shows physical space.
    expect((await api('GET', '/cpgs/NEW_r1')).body.SDGrowth.limitMiB).toBe(4096);
    await api('POST', '/volumes', { name: 'on-new', cpg: 'NEW_r1', sizeMiB: 1024 });
    expect((await api('PUT', '/cpgs/NEW_r1', { newName: 'RENAMED', growthLimitMiB: 8192 })).headers['location']).toBe(
      '/api/v1/cpgs/RENAMED',
    );
    expect((await api('GET', '/volumes/on-new')).body.userCPG).toBe('RENAMED');
    expect((await api('GET', '/cpgs/RENAMED')).body.SDGrowth.limitMiB).toBe(8192);
    expect((await api('POST', '/spacereporter', { cpg: 'RENAMED' })).body.usableFreeMiB).toBe(16 * 1024 * 1024 - 1024);
    expect((await api('DELETE', '/cpgs/RENAMED')).body.code).toBe(34);
    await api('DELETE', '/volumes/on-new');
    expect((await api('DELETE', '/cpgs/RENAMED')).status).toBe(200);
    expect((await api('GET', '/cpgs/RENAMED')).body.code).toBe(15);
  });
});

describe('start-up', () => {
  test('a port in use is an error; bad options are errors', async () => {
    const port = Number(new URL(sim.url).port);
    await expect(startSimulator({ port })).rejects.toThrow(/EADDRINUSE/);
    await expect(startSimulator({ latencyMs: -1 })).rejects.toMatchObject({ code: 'SIM_BAD_OPTIONS' });
    await expect(startSimulator({ cpgs: [{ name: '-bad', sizeMiB: 1 }] })).rejects.toMatchObject({
      code: 'SIM_BAD_OPTIONS',
    });
  });

  test('HTTPS with a supplied certificate', async () => {
    const gen = await startSimulator({ https: true });
    const cert = gen.caCert!;
    await gen.close();
    // The generated certificate's key is not exposed; a fresh pair from selfsigned stands in.
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const s = await startSimulator({ https: { cert: pems.cert, key: pems.private } });
    try {
      expect(s.caCert).toBe(pems.cert);
      expect(s.caCert).not.toBe(cert);
      expect((await call(s, 'GET', '/api')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
