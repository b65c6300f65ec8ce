/**
 * Connection reuse (issue 21): the client keeps a connection only when the server does not close
 * it. The array answers every request with `Connection: close` (WSAPI 1.2/1.3.1 guides), so
 * against it each request opens its own connection; the simulator models that by default and
 * keeps connections with `keepAlive` ([U] later firmware).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { getEventListeners, getMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttp, exchange } from '../../src/wsapi/http.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { WsapiConnectionError } from '../../src/wsapi/errors.js';
import { apiRequests, reply, startFake, withSessions, type Handler } from './fake-array.js';

const timeouts = { connectMs: 5_000, responseMs: 5_000, totalMs: 10_000 };
const ctx = { backendId: 't', op: 'test' };
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** A server that counts the TCP connections it accepted and answers 200 `{}` (closing or not). */
async function countingServer(closeEach: boolean): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'Content-Type': 'application/json', ...(closeEach && { Connection: 'close' }) }).end('{}'),
    );
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

async function sendSequentially(url: string, n: number): Promise<number[]> {
  const client = createHttp({ url, timeouts, userAgent: 'test' });
  const statuses: number[] = [];
  for (let i = 0; i < n; i++)
    statuses.push(
      (
        await exchange(
          client,
          url,
          { method: i % 2 === 0 ? 'GET' : 'POST', path: '/api/v1/x', ...(i % 2 === 1 && { body: { i } }) },
          ctx,
          timeouts,
        )
      ).status,
    );
  return statuses;
}

describe('connection reuse', () => {
  it('opens one connection per request when the server answers Connection: close (the array)', async () => {
    const s = await countingServer(true);
    expect(await sendSequentially(s.url, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(s.connections()).toBe(6);
  });

  it('reuses one connection for sequential requests when the server keeps it open', async () => {
    const s = await countingServer(false);
    expect(await sendSequentially(s.url, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(s.connections()).toBe(1);
  });

  it('the simulator closes every connection by default and keeps them with keepAlive', async () => {
    const head = async (sim: RunningSimulator): Promise<string | undefined> =>
      new Promise((resolve, reject) => {
        http
          .get(`${sim.url}/api`, { headers: { accept: 'application/json' } }, (res) => {
            res.resume();
            resolve(res.headers.connection);
          })
          .on('error', reject);
      });
    const closing = await startSimulator();
    closers.push(() => closing.close());
    const keeping = await startSimulator({ keepAlive: true });
    closers.push(() => keeping.close());
    expect(await head(closing)).toBe('close');
    expect(await head(keeping)).toBe('keep-alive');
    // The client works against both, with the same answers.
    for (const sim of [closing, keeping]) {
      const c = new WsapiClient({ backendId: 't', url: sim.url, username: sim.username, password: sim.password });
      closers.push(() => c.close());
      expect((await c.system.get()).name).toBeTruthy();
      expect((await c.volumes.list()).length).toBe(0);
    }
  });

  /**
   * A server that keeps connections may close an idle one just as the client reuses it (Node's
   * agents do not retry; the request meets ECONNRESET). The requester's rules hold on a reused
   * socket as on a new one: a POST is sent once (the array may have applied it: never a second
   * create), a GET is tried again on a new connection.
   */
  it('a kept connection dropped on reuse: a POST is not sent again, a GET is retried', async () => {
    const sockets = new Set<unknown>();
    let dropOnReuse = false;
    const reused: string[] = [];
    const inner: Handler = (req, res) => {
      const again = sockets.has(res.socket);
      sockets.add(res.socket);
      if (again) reused.push(`${req.method} ${req.url}`);
      if (again && dropOnReuse) {
        dropOnReuse = false;
        res.socket?.destroy();
        return;
      }
      // Kept open (no `Connection: close`): the next request may reuse the socket.
      const text = req.method === 'POST' ? '' : JSON.stringify({ total: 0, members: [] });
      res
        .writeHead(req.method === 'POST' ? 201 : 200, {
          'Content-Type': 'application/json',
          'Content-Length': String(text.length),
          ...(req.method === 'POST' && { Location: '/api/v1/volumes/v1' }),
        })
        .end(text);
    };
    const fake = await startFake(withSessions(inner));
    closers.push(() => fake.close());
    const c = new WsapiClient({
      backendId: 't',
      url: fake.url,
      username: 'u',
      password: 'secret',
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });
    closers.push(() => c.close());
    await c.volumes.list();
    dropOnReuse = true;
    const err = await c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('reset');
    expect(reused).toEqual(['POST /api/v1/volumes']);
    expect(apiRequests(fake).filter((r) => r.method === 'POST')).toHaveLength(1);
    await c.volumes.list();
    dropOnReuse = true;
    await expect(c.volumes.list()).resolves.toEqual([]);
    // The dropped GET went over a reused socket, its retry over a new one.
    expect(reused).toEqual(['POST /api/v1/volumes', 'GET /api/v1/volumes']);
    expect(apiRequests(fake).filter((r) => r.method === 'GET' && r.url === '/api/v1/volumes')).toHaveLength(4);
  });

  /**
   * Every exchange in flight listens on the client's closing signal (got's listener, or the link
   * to the caller's signal): one per exchange, removed when it ends, so at most maxInFlight (a
   * backend setting) and the logins. Node warns "MaxListenersExceededWarning: Possible
   * EventTarget memory leak detected" past 10 listeners: with maxInFlight above 10, every busy
   * moment put that false alarm in the controller's log. The warning goes to the real process,
   * which jest's sandbox does not see, so the signal's limit is checked against its listeners.
   */
  it('more than 10 exchanges in flight stay under the closing signal’s listener limit (no MaxListenersExceededWarning)', async () => {
    const n = 14;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    let allHeld!: () => void;
    const arrived = new Promise<void>((resolve) => (allHeld = resolve));
    const fake = await startFake(
      withSessions(async (req, res) => {
        if (++held === n) allHeld();
        await gate;
        if (req.method === 'POST') reply(res, 201, undefined, { Location: '/api/v1/volumes/v' });
        else reply(res, 200, { total: 0, members: [] });
      }),
    );
    closers.push(() => fake.close());
    const c = new WsapiClient({
      backendId: 't',
      url: fake.url,
      username: 'u',
      password: 'secret',
      maxInFlight: n,
      sessionPoolSize: n,
    });
    closers.push(() => c.close());
    const caller = new AbortController();
    const calls = Array.from({ length: n }, (_, i) =>
      i % 2 === 0
        ? c.volumes.create({ name: `v${i}`, cpg: 'c', sizeMiB: 1024 })
        : c.volumes.list({ signal: caller.signal }),
    );
    await arrived;
    const closing = (c as unknown as { requester: { closing: AbortController } }).requester.closing.signal;
    const listeners = getEventListeners(closing, 'abort').length;
    expect(listeners).toBeGreaterThanOrEqual(n);
    const limit = getMaxListeners(closing);
    release();
    await Promise.all(calls);
    expect(limit === 0 || limit >= listeners).toBe(true);
    // Each exchange's listener is removed when it ends.
    expect(getEventListeners(closing, 'abort')).toHaveLength(0);
  });
});
