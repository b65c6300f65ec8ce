/**
 * A tiny programmable WSAPI stand-in for unit tests of the client: a loopback http(s) server
 * whose every request goes to a handler the test writes, so malformed answers (cut-off streams,
 * bad JSON, 503s, dropped sockets) are easy to produce. Not the simulator: no state of its own
 * beyond the request log and a session helper.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterEach } from '@jest/globals';
import { WsapiClient } from '../../src/wsapi/index.js';

export interface FakeRequest {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  /** The session key header, if any. */
  key?: string;
}

export type Handler = (req: FakeRequest, res: http.ServerResponse) => unknown;

export interface FakeArray {
  url: string;
  requests: FakeRequest[];
  /** Requests being handled right now, and the most seen at once. */
  active: number;
  maxActive: number;
  close(): Promise<void>;
}

export interface FakeOptions {
  tls?: { key: string; cert: string };
}

/** Sends a JSON answer the way the array does (Connection: close, JSON only with a body). */
export function reply(
  res: http.ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const h: Record<string, string> = {
    Server: 'hp3par-wsapi',
    'Cache-Control': 'no-cache',
    Connection: 'close',
    ...headers,
  };
  if (body === undefined) {
    res.writeHead(status, h).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(status, { ...h, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) })
    .end(text);
}

export async function startFake(handler: Handler, options: FakeOptions = {}): Promise<FakeArray> {
  const fake: FakeArray = { url: '', requests: [], active: 0, maxActive: 0, close: async () => undefined };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        body = text;
      }
      const keyHeader = req.headers['x-hp3par-wsapi-sessionkey'];
      const r: FakeRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        ...(typeof keyHeader === 'string' && { key: keyHeader }),
      };
      fake.requests.push(r);
      fake.active++;
      fake.maxActive = Math.max(fake.maxActive, fake.active);
      const done = (): void => {
        fake.active--;
      };
      res.on('close', done);
      Promise.resolve(handler(r, res)).catch((err: unknown) => {
        if (!res.headersSent) reply(res, 500, { code: 1, desc: String(err) });
      });
    });
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/** A self-signed certificate for 127.0.0.1 / localhost (EC: fast to generate). */
export async function selfSignedCert(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    curve: 'P-256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * A session-keeping handler wrapper: answers POST/DELETE /credentials (bad password → 403/5),
 * refuses other calls without a live key (403/6), and passes the rest to `inner`.
 */
export function withSessions(
  inner: Handler,
  opts: { password?: string; loginDelayMs?: number } = {},
): Handler & { keys: Set<string>; logins: number; expireAll(): void } {
  const keys = new Set<string>();
  let n = 0;
  const h = (async (req: FakeRequest, res: http.ServerResponse) => {
    if (req.url === '/api/v1/credentials' && req.method === 'POST') {
      h.logins++;
      if (opts.loginDelayMs) await new Promise((r) => setTimeout(r, opts.loginDelayMs));
      const body = req.body as { user?: string; password?: string };
      if (body.password !== (opts.password ?? 'secret'))
        return reply(res, 403, { code: 5, desc: 'invalid username or password' });
      const key = `0-key${++n}-${Math.random().toString(16).slice(2)}`;
      keys.add(key);
      return reply(res, 201, { key }, { Location: `/api/v1/credentials/${key}` });
    }
    if (req.url === '/api') return inner(req, res);
    if (!req.key || !keys.has(req.key)) return reply(res, 403, { code: 6, desc: 'invalid session key' });
    if (req.method === 'DELETE' && req.url.startsWith('/api/v1/credentials/')) {
      keys.delete(decodeURIComponent(req.url.slice('/api/v1/credentials/'.length)));
      return reply(res, 200);
    }
    return inner(req, res);
  }) as Handler & { keys: Set<string>; logins: number; expireAll(): void };
  h.keys = keys;
  h.logins = 0;
  h.expireAll = () => keys.clear();
  return h;
}

/** Requests other than login/logout (what a client method itself costs). */
export function apiRequests(fake: FakeArray): FakeRequest[] {
  return fake.requests.filter((r) => !r.url.startsWith('/api/v1/credentials'));
}

type ClientOptions = ConstructorParameters<typeof WsapiClient>[0];

/**
 * A WsapiClient of user `u` (password `secret`, withSessions' default) at `url`, one attempt per
 * request unless `extra` says otherwise.
 */
export function clientOn(url: string, extra: Partial<ClientOptions> = {}): WsapiClient {
  return new WsapiClient({ backendId: 't', url, username: 'u', password: 'secret', retry: { attempts: 1 }, ...extra });
}

/** A fake array and the client on it, as one test sees them. */
export interface ClientOnFake {
  fake: FakeArray;
  c: WsapiClient;
}

/**
 * A WsapiClient (one attempt per request unless `client` says otherwise) on a fake array that logs
 * sessions in and hands the rest to `inner`; both are closed after each test (or, with
 * `after: afterAll`, after the file) of the file that calls this at its top level. `extra` adds
 * client options for one set-up.
 */
export function clientsOnFakes(
  settings: { client?: Partial<ClientOptions>; after?: typeof afterEach } = {},
): (inner: Handler, extra?: Partial<ClientOptions>) => Promise<ClientOnFake> {
  const fakes: FakeArray[] = [];
  const clients: WsapiClient[] = [];
  (settings.after ?? afterEach)(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });
  return async (inner, extra = {}) => {
    const fake = await startFake(withSessions(inner));
    fakes.push(fake);
    const c = clientOn(fake.url, { ...settings.client, ...extra });
    clients.push(c);
    return { fake, c };
  };
}
