/**
 * The array of `npm run bench:http` and `npm run bench:floor`: answers like the array does for the
 * shapes those benchmarks send (a volume read, a create with `Location`, a 404 with the array's
 * error body, a login with its session key), with the array's headers. Runs in its own process so
 * that the client's CPU is the client's. `--keep-alive` leaves connections open (the array closes
 * every one: REFERENCE §1.2); `--latency-ms=N` answers each request N ms after its body arrived
 * (the array's service time; 0 by default), and an IPC message `{latencyMs}` changes it (answered
 * with the same message once in force). `--https` serves TLS with a generated certificate (sent
 * to the parent with the port, as `caCert`), `--tls-max-version=1.2` caps the version and
 * `--tls-no-resumption` refuses session resumption (src/simulator/tls.ts); an IPC message
 * `{stats: true}` is answered with `{requests, resumed}`: requests served, and how many of them came
 * on a connection whose TLS session was resumed (the server's own view), both since the last ask.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tlsMaterial, tlsServerOptions } from '../simulator/tls.js';

const keepAlive = process.argv.includes('--keep-alive');
const useTls = process.argv.includes('--https');
const tlsMaxVersion = process.argv.includes('--tls-max-version=1.2') ? '1.2' : '1.3';
const tlsResumption = !process.argv.includes('--tls-no-resumption');
let served = 0;
let resumed = 0;
let latencyMs = Number(process.argv.find((a) => a.startsWith('--latency-ms='))?.slice(13) ?? 0);
const BASE = {
  Server: 'hp3par-wsapi',
  'Cache-Control': 'no-cache',
  Pragma: 'no-cache',
  ...(keepAlive ? {} : { Connection: 'close' }),
};
const VOLUME = JSON.stringify({
  id: 4711,
  name: 'pvc-0d3c1a34-5e8f-4b5a-9c6e-2f1d7a8b9c0d',
  provisioningType: 2,
  copyType: 1,
  baseId: 4711,
  readOnly: false,
  state: 1,
  userSpace: { reservedMiB: 512, rawReservedMiB: 1024, usedMiB: 0, freeMiB: 512 },
  sizeMiB: 10240,
  wwn: '60002AC0000000000000126700019F0D',
  creationTime8601: '2026-12-02T08:00:00+00:00',
  userCPG: 'FC_r6',
  comment: '{"o":"csi.hpe.com/cluster-1","v":1}',
  links: [{ href: 'https://array:8080/api/v1/volumes/pvc-0d3c1a34-5e8f-4b5a-9c6e-2f1d7a8b9c0d', rel: 'self' }],
});
const NOT_FOUND = JSON.stringify({ code: 23, desc: 'volume does not exist' });
/** A login (POST /api/v1/credentials) answers 201 with `{key}` and its `Location` (REFERENCE §2.1). */
const KEY = '0-8a4b0a5e7d1c2f3e4d5c6b7a8f9e0d1c-00112233';
const SESSION = JSON.stringify({ key: KEY });

function answer(
  res: http.ServerResponse,
  status: number,
  body: string | undefined,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...BASE,
    ...extra,
    ...(body !== undefined && {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    }),
  });
  res.end(body);
}

function respond(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method === 'POST' && req.url === '/api/v1/credentials')
    answer(res, 201, SESSION, { Location: `/api/v1/credentials/${KEY}` });
  else if (req.method === 'POST') answer(res, 201, undefined, { Location: '/api/v1/vluns/vol1,3,host1' });
  else if (req.url?.includes('missing')) answer(res, 404, NOT_FOUND);
  else answer(res, 200, VOLUME);
}

const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  served++;
  if (useTls && (req.socket as TLSSocket).isSessionReused()) resumed++;
  req.resume();
  req.on('end', () => {
    if (latencyMs > 0) setTimeout(respond, latencyMs, req, res);
    else respond(req, res);
  });
};
const material = useTls ? await tlsMaterial(true, '127.0.0.1') : undefined;
const server = material
  ? https.createServer({ ...material, ...tlsServerOptions({ tlsMaxVersion, tlsResumption }) }, listener)
  : http.createServer(listener);
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0, caCert: material?.cert });
});
process.on('message', (m: { latencyMs?: unknown; stats?: unknown }) => {
  if (m.stats === true) {
    process.send?.({ requests: served, resumed });
    served = resumed = 0;
    return;
  }
  if (typeof m.latencyMs !== 'number') return;
  latencyMs = m.latencyMs;
  process.send?.({ latencyMs });
});
process.on('disconnect', () => process.exit(0));
