/**
 * The attack surfaces a node or an array neighbour could reach: the CSI socket's permissions,
 * the simulator's admin endpoint (off unless enabled, loopback only), and its request size limit.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, test } from '@jest/globals';
import { CsiServer } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { silentLogger } from '../../src/log.js';
import { startSimulator, FaultController, type RunningSimulator } from '../../src/simulator/index.js';
import { AdminHandler } from '../../src/simulator/http/admin.js';

/** One HTTP exchange with the simulator (loopback), body as text. */
function request(
  url: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: {
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('CSI socket', () => {
  it('is created with mode 0660 (owner and group only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sec-sock-'));
    const server = new CsiServer({
      endpoint: `unix://${join(dir, 'csi.sock')}`,
      services: {
        identity: createIdentity({
          driverName: 'csi.sec.example.com',
          vendorVersion: 't',
          controller: false,
          groupController: false,
          topology: false,
          readiness: new Readiness(),
        }),
      },
      log: silentLogger,
    });
    try {
      await server.start();
      const st = statSync(join(dir, 'csi.sock'));
      expect(st.isSocket()).toBe(true);
      expect((st.mode & 0o777).toString(8)).toBe('660');
    } finally {
      await server.stop(100);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('simulator admin endpoint', () => {
  let plain: RunningSimulator;
  let admin: RunningSimulator;
  beforeAll(async () => {
    plain = await startSimulator();
    admin = await startSimulator({ admin: true });
  });
  afterAll(async () => {
    await plain.close();
    await admin.close();
  });

  it('listens on loopback by default', () => {
    expect(new URL(plain.url).hostname).toBe('127.0.0.1');
    expect(new URL(admin.url).hostname).toBe('127.0.0.1');
  });

  it('is off unless enabled: /sim/ paths are unknown WSAPI resources and change nothing', async () => {
    const add = await request(plain.url, 'POST', '/sim/faults', JSON.stringify({ type: 'expireSessions' }));
    expect(add.status).toBe(404);
    expect((await request(plain.url, 'GET', '/sim/state')).status).toBe(404);
    expect(plain.faults.list()).toEqual([]);
  });

  it('answers loopback clients when enabled', async () => {
    const res = await request(admin.url, 'GET', '/sim/state');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ volumes: 0, hosts: 0 });
  });

  // The admin endpoint reads bodies with the WSAPI front's reader and its 1 MiB limit.
  test('limits request bodies like the WSAPI front does (413 over 1 MiB)', async () => {
    const body = JSON.stringify({ type: 'latency', ms: 0, count: 1, match: { path: 'x'.repeat(3 * 1024 * 1024) } });
    const res = await request(admin.url, 'POST', '/sim/faults', body);
    admin.faults.clear();
    expect(res.status).toBe(413);
  });

  it('refuses a client that is not on loopback, whatever it asks', async () => {
    const handler = new AdminHandler(admin.faults, admin.array);
    for (const remoteAddress of ['10.1.2.3', '192.168.0.7', '::ffff:10.0.0.1', 'fe80::1', '']) {
      const status = await new Promise<number>((resolve) => {
        const socket = new Socket();
        Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress });
        const req = new http.IncomingMessage(socket);
        req.method = 'POST';
        req.url = '/sim/expire-sessions';
        const res = new http.ServerResponse(req);
        res.writeHead = ((code: number) => {
          resolve(code);
          return res;
        }) as typeof res.writeHead;
        res.end = (() => res) as typeof res.end;
        void handler.handle(req, res, '/sim/expire-sessions');
        req.push(null);
      });
      expect(status).toBe(403);
    }
    expect(admin.faults).toBeInstanceOf(FaultController);
  });
});

describe('simulator request limits', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('refuses a body over 1 MiB with the array error (413) and keeps serving', async () => {
    const big = JSON.stringify({ user: sim.username, password: 'x'.repeat(2 * 1024 * 1024) });
    const res = await request(sim.url, 'POST', '/api/v1/credentials', big);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text)).toMatchObject({ code: 4 });
    const ok = await request(sim.url, 'GET', '/api');
    expect(ok.status).toBe(200);
  });

  it('refuses oversized headers and keeps serving', async () => {
    const res = await request(sim.url, 'GET', '/api', undefined, { 'x-filler': 'y'.repeat(64 * 1024) }).catch(() => ({
      status: 431,
      text: '',
    }));
    expect(res.status).toBe(431);
    expect((await request(sim.url, 'GET', '/api')).status).toBe(200);
  });

  it('answers malformed JSON and wrong content types with array errors, not crashes', async () => {
    expect((await request(sim.url, 'POST', '/api/v1/credentials', '{"user":')).status).toBe(400);
    expect(
      (await request(sim.url, 'POST', '/api/v1/credentials', 'user=a', { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    expect((await request(sim.url, 'GET', '/api')).status).toBe(200);
  });
});
