/**
 * One layer of `npm run bench:floor` (src/bench/floor.ts), in a process of its own so that its
 * CPU is the layer's alone: a grpc-js server on a unix socket whose CreateVolume does the layer's
 * WSAPI work and answers a CreateVolumeResponse. The stack the driver is built on, stripped to
 * what each layer adds, hence grpc-js outside src/csi (the driver's own server is src/csi/server.ts):
 *
 *   grpc       the handler answers at once
 *   node-http  + R requests through bare node:http, one connection each (the array's `Connection: close`)
 *   got        + R requests through the driver's HTTP layer (src/wsapi/http.ts createHttp + exchange)
 *   client     + R requests through WsapiClient (requester, session pool, response parsing)
 *
 * The R requests of a call go one after another (as a ControllerPublishVolume's do); node-http
 * and got hold each under an in-flight cap per backend like the driver's (WsapiClient has its own).
 * argv[2]: the FloorServerConfig as JSON. IPC: "cpu" is answered with the process's CPU ms so far;
 * "ready" is sent once the socket serves.
 */
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { loadCsi } from '../csi/proto.js';
import { createHttp, exchange } from '../wsapi/http.js';
import { WsapiClient } from '../wsapi/client.js';
import type { FloorServerConfig } from './floor-options.js';

/** The session key the bare layers send (the array server does not check it). */
const KEY = '0-8a4b0a5e7d1c2f3e4d5c6b7a8f9e0d1c-00112233';
/** The POST /api/v1/volumes body the driver sends for a thin volume with its marker comment. */
const BODY = {
  name: 'pvc-0d3c1a34-5e8f-4b5a-9c6e',
  cpg: 'SSD_r6',
  sizeMiB: 1024,
  tpvv: true,
  comment: '{"csi":{"v":1,"cluster":"bench","name":"pvc-0d3c1a34-5e8f-4b5a-9c6e-2f1d7a8b9c0d","req":"1a2b3c4d"}}',
};
/** What every layer answers: the shape of the driver's CreateVolumeResponse. */
const RESPONSE = {
  volume: {
    volume_id: 'bench:pvc-0d3c1a34-5e8f-4b5a-9c6e',
    capacity_bytes: '1073741824',
    volume_context: { backend: 'bench', cpg: 'SSD_r6', provisioning: 'tpvv' },
    accessible_topology: [{ segments: { 'topology.csi.bench/backend': 'bench' } }],
    content_source: null,
  },
};

type Request = () => Promise<void>;

/** A FIFO gate admitting `max` holders at a time. */
function gate(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let held = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (held < max) held++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else held--;
    }
  };
}

/** One POST through bare node:http: JSON body and session key out, status, Location and body text in. */
function bareRequest(base: string, caCert: string | undefined): Request {
  // HTTPS: one secure context for every connection, sessions kept by the agent (the cheapest Node offers).
  const secure = base.startsWith('https:');
  const agent = secure
    ? new https.Agent({ keepAlive: false, secureContext: tls.createSecureContext(caCert ? { ca: caCert } : {}) })
    : new http.Agent({ keepAlive: false });
  const request = secure ? https.request : http.request;
  const url = new URL(base);
  return () =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(BODY);
      const headers = {
        accept: 'application/json',
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'user-agent': '3par-csi/bench',
        'X-HP3PAR-WSAPI-SessionKey': KEY,
      };
      const path = '/api/v1/volumes';
      const req = request({ host: url.hostname, port: url.port, path, method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 201 || !res.headers.location)
            reject(new Error(`bench:floor: POST ${path} answered ${res.statusCode} ${body}`));
          else resolve();
        });
      });
      req.on('error', reject);
      req.end(text);
    });
}

/** One POST through the driver's got layer. */
function gotRequest(base: string, caCert: string | undefined): Request {
  const timeouts = { connectMs: 10_000, responseMs: 30_000, totalMs: 120_000 };
  const client = createHttp({
    url: base,
    timeouts,
    userAgent: '3par-csi/bench',
    ...(caCert !== undefined && { caCert }),
  });
  const ctx = { backendId: 'bench', op: 'volumes.create' };
  return async () => {
    const raw = await exchange(
      client,
      base,
      { method: 'POST', path: '/api/v1/volumes', body: BODY, sessionKey: KEY },
      ctx,
    );
    if (raw.status !== 201) throw new Error(`bench:floor: POST /api/v1/volumes answered ${raw.status}`);
  };
}

/** One volume create through WsapiClient (it logs in on first use and caps its own requests). */
function clientRequest(base: string, maxInFlight: number, caCert: string | undefined): Request {
  const wc = new WsapiClient({
    backendId: 'bench',
    url: base,
    username: 'bench',
    password: 'bench',
    maxInFlight,
    ...(caCert !== undefined && { caCert }),
  });
  return () => wc.volumes.create(BODY);
}

/** The layer's WSAPI work for one call: R requests in a row (none for `grpc`). */
function callWork(c: FloorServerConfig): () => Promise<void> {
  if (c.layer === 'grpc') return () => Promise.resolve();
  let one: Request;
  if (c.layer === 'client') one = clientRequest(c.base, c.maxInFlight, c.caCert);
  else {
    const send = c.layer === 'got' ? gotRequest(c.base, c.caCert) : bareRequest(c.base, c.caCert);
    const capped = gate(c.maxInFlight);
    one = () => capped(send);
  }
  return async () => {
    for (let i = 0; i < c.requestsPerCall; i++) await one();
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as FloorServerConfig;
  const work = callWork(config);
  const server = new grpc.Server();
  server.addService(loadCsi().csi.v1.Controller.service, {
    CreateVolume: (_call: unknown, done: grpc.sendUnaryData<typeof RESPONSE>) => {
      work().then(
        () => done(null, RESPONSE),
        (err: unknown) => done({ code: grpc.status.INTERNAL, details: String(err) }),
      );
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${config.socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    const used = process.cpuUsage();
    process.send?.({ cpuMs: (used.user + used.system) / 1000 });
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.('ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:floor server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
