/**
 * The per-backend TLS set-up of src/wsapi/agents.ts: one secure context, sessions resumed across
 * connections (the array closes each one), a short-lived lookup cache; and verification exactly
 * as strict as with the CA passed per request. No timing: the lookup cache gets a counted
 * resolver and a clock the test moves.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from '@jest/globals';
import { generate } from 'selfsigned';
import { createAgents, LookupCache } from '../../src/wsapi/agents.js';
import { createHttp, exchange, type HttpClient } from '../../src/wsapi/http.js';
import { WsapiConnectionError } from '../../src/wsapi/index.js';
import { selfSignedCert } from './fake-array.js';

const ctx = { backendId: 'b', op: 'test' };
const timeouts = { connectMs: 30_000, responseMs: 30_000, totalMs: 60_000 };

interface TlsServer {
  url: string;
  port: number;
  /** Per request served: whether its TLS session was resumed (the server's own view). */
  reused: boolean[];
  close(): Promise<void>;
}

const servers: TlsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An https server answering as the array does (`Connection: close`), recording session reuse. */
async function startTls(
  cert: { key: string; cert: string },
  opts: { port?: number; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<TlsServer> {
  const reused: boolean[] = [];
  const server = https.createServer(
    { key: cert.key, cert: cert.cert, ...(opts.maxVersion && { maxVersion: opts.maxVersion }) },
    (req, res) => {
      reused.push((req.socket as TLSSocket).isSessionReused());
      res.writeHead(200, { Connection: 'close', 'Content-Type': 'application/json' }).end('{}');
    },
  );
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const s: TlsServer = {
    url: `https://127.0.0.1:${port}`,
    port,
    reused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

async function get(client: HttpClient, url: string): Promise<number> {
  return (await exchange(client, url, { method: 'GET', path: '/api/v1/system' }, ctx, timeouts)).status;
}

async function getError(client: HttpClient, url: string): Promise<unknown> {
  return get(client, url).then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('TLS sessions across connections', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'over %s, every connection after the first resumes the session (the server says so)',
    async (maxVersion) => {
      const cert = await selfSignedCert();
      const srv = await startTls(cert, { maxVersion });
      const client = createHttp({ url: srv.url, caCert: cert.cert, timeouts, userAgent: 't' });
      for (let i = 0; i < 5; i++) expect(await get(client, srv.url)).toBe(200);
      expect(srv.reused).toEqual([false, true, true, true, true]);
    },
  );

  it('insecureSkipVerify resumes too', async () => {
    const cert = await selfSignedCert();
    const srv = await startTls(cert);
    const client = createHttp({ url: srv.url, insecureSkipVerify: true, timeouts, userAgent: 't' });
    for (let i = 0; i < 3; i++) await get(client, srv.url);
    expect(srv.reused).toEqual([false, true, true]);
  });

  it('a CA-verified backend rejects a server its CA did not sign, at the address where a session was resumed', async () => {
    const trusted = await selfSignedCert();
    const first = await startTls(trusted);
    const client = createHttp({ url: first.url, caCert: trusted.cert, timeouts, userAgent: 't' });
    await get(client, first.url);
    await get(client, first.url);
    expect(first.reused).toEqual([false, true]);
    // Another server takes the address (same host and port: the agent offers it the session).
    await first.close();
    const impostor = await startTls(await selfSignedCert(), { port: first.port });
    const err = await getError(client, first.url);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('tls');
    expect(impostor.reused).toEqual([]);
    // And a server on another port, with a session cached for the first one, fails the same way.
    const other = await startTls(await selfSignedCert());
    expect((await getError(client, other.url)) as WsapiConnectionError).toMatchObject({ reason: 'tls' });
  });

  it('the host name is still checked: a certificate for another name fails with the right CA', async () => {
    const pems = await generate([{ name: 'commonName', value: 'elsewhere.example' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'elsewhere.example' }] }],
    });
    const srv = await startTls({ key: pems.private, cert: pems.cert });
    const client = createHttp({ url: srv.url, caCert: pems.cert, timeouts, userAgent: 't' });
    const err = await getError(client, srv.url);
    expect(err).toMatchObject({ reason: 'tls', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('a CA bundle that holds no certificate OpenSSL can read verifies nothing: the request fails', async () => {
    const cert = await selfSignedCert();
    const srv = await startTls(cert);
    const bad = '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n';
    const client = createHttp({ url: srv.url, caCert: bad, timeouts, userAgent: 't' });
    expect(await getError(client, srv.url)).toMatchObject({ reason: 'tls' });
    expect(srv.reused).toEqual([]);
  });
});

/** A resolver that counts its calls and answers 127.0.0.1 (or fails when told to). */
function countingResolver(): {
  calls: number;
  fail: boolean;
  resolve: (
    h: string,
    o: LookupOptions,
    cb: (e: NodeJS.ErrnoException | null, a: string | LookupAddress[], f?: number) => void,
  ) => void;
} {
  const r = {
    calls: 0,
    fail: false,
    resolve: (
      _h: string,
      o: LookupOptions,
      cb: (e: NodeJS.ErrnoException | null, a: string | LookupAddress[], f?: number) => void,
    ) => {
      r.calls++;
      if (r.fail) {
        const e: NodeJS.ErrnoException = new Error('getaddrinfo ENOTFOUND');
        e.code = 'ENOTFOUND';
        setImmediate(cb, e, '', undefined);
      } else if (o.all === true) setImmediate(cb, null, [{ address: '127.0.0.1', family: 4 }]);
      else setImmediate(cb, null, '127.0.0.1', 4);
    },
  };
  return r;
}

function lookupOnce(cache: LookupCache, host: string, options: LookupOptions = { all: true }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let sync = true;
    (cache.lookup as unknown as (h: string, o: LookupOptions, cb: (e: Error | null, a: unknown) => void) => void)(
      host,
      options,
      (err, address) => {
        if (sync) reject(new Error('answered synchronously'));
        else if (err) reject(err);
        else resolve(address);
      },
    );
    sync = false;
  });
}

describe('LookupCache', () => {
  it('reuses an answer for less than its TTL, and asks again at the TTL', async () => {
    let now = 1_000;
    const r = countingResolver();
    const cache = new LookupCache({ now: () => now, resolve: r.resolve, ttlMs: 5_000 });
    await expect(lookupOnce(cache, 'array')).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
    now += 4_999;
    await expect(lookupOnce(cache, 'array')).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(r.calls).toBe(1);
    now += 1;
    await lookupOnce(cache, 'array');
    expect(r.calls).toBe(2);
  });

  it('keys on the lookup options: another family or `all` is another question', async () => {
    const r = countingResolver();
    const cache = new LookupCache({ now: () => 0, resolve: r.resolve });
    await lookupOnce(cache, 'array', { all: true });
    await expect(lookupOnce(cache, 'array', { family: 4 })).resolves.toBe('127.0.0.1');
    await lookupOnce(cache, 'array', { all: true });
    expect(r.calls).toBe(2);
    expect(cache.size).toBe(2);
  });

  it('never keeps a failure', async () => {
    const r = countingResolver();
    const cache = new LookupCache({ now: () => 0, resolve: r.resolve });
    r.fail = true;
    await expect(lookupOnce(cache, 'array')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(cache.size).toBe(0);
    r.fail = false;
    await lookupOnce(cache, 'array');
    expect(r.calls).toBe(2);
  });

  it('is dropped when a connection to the host fails before it is established, kept when it succeeds', async () => {
    const r = countingResolver();
    const cache = new LookupCache({ now: () => 0, resolve: r.resolve });
    const agents = createAgents({ lookup: cache });
    const up = http.createServer((_q, res) => res.writeHead(200, { Connection: 'close' }).end());
    await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
    const port = (up.address() as AddressInfo).port;
    const request = (): Promise<unknown> =>
      new Promise((resolve) => {
        const req = http.get({ host: 'array.invalid', port, agent: agents.http }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', resolve);
      });
    expect(await request()).toBe(200);
    expect(await request()).toBe(200);
    expect(r.calls).toBe(1);
    expect(cache.size).toBe(1);
    await new Promise<void>((resolve) => up.close(() => resolve()));
    expect(await request()).toMatchObject({ code: 'ECONNREFUSED' });
    expect(cache.size).toBe(0);
    agents.http.destroy();
  });
});
