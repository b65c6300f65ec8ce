/**
 * `npm run bench:http`: client CPU per WSAPI request of the driver's HTTP layer (`createHttp` +
 * `exchange`, got) next to a bare `node:http` request doing the same work (send a JSON body and
 * the session key header, take the body as one string, read `Location` and `Retry-After`).
 * The server (src/bench/http-server.ts) runs in its own process, so this process's CPU is the
 * client's alone; the modes take turns round by round, so load from elsewhere hits each alike.
 *
 *   npm run bench:http -- [--rounds 15] [--requests 2000] [--concurrency 8] [--keep-alive]
 *                         [--before DIR/dist/wsapi/http.js]   (the same layer of another build)
 *                         [--https [--insecure] [--tls-max-version 1.2] [--tls-no-resumption]
 *                          [--host localhost]]
 *
 * --https: the server speaks TLS, as arrays do on 8080 (a new handshake per request when it closes
 * connections); the driver's layer gets its CA (or --insecure: insecureSkipVerify), the bare mode
 * an https.Agent with one secure context of that CA. --host names the server by a host name
 * instead of 127.0.0.1 (each connection then looks it up, as a URL with a name does).
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface Raw {
  status: number;
  location?: string;
  retryAfter?: string;
  text?: string;
}
interface Shape {
  method: 'GET' | 'POST';
  path: string;
  body?: object;
}
type Send = (s: Shape) => Promise<Raw>;

/** The three shapes, in turn: a volume read (200, ~700 bytes), a VLUN create (201 + Location), a miss (404). */
const SHAPES: Shape[] = [
  { method: 'GET', path: '/api/v1/volumes/pvc-0d3c1a34' },
  {
    method: 'POST',
    path: '/api/v1/vluns',
    body: { volumeName: 'vol1', hostname: 'host1', lun: 0, autoLun: true, maxAutoLun: 0 },
  },
  { method: 'GET', path: '/api/v1/volumes/missing' },
];
const KEY = '0-8a4b0a5e7d1c2f3e4d5c6b7a8f9e0d1c-00112233';

function bareNode(base: string, keepAlive: boolean, caCert?: string): Send {
  const secure = base.startsWith('https:');
  // TLS: one secure context for every connection (the cheapest way Node offers), sessions kept by the agent.
  const agent = secure
    ? new https.Agent({ keepAlive, secureContext: tls.createSecureContext(caCert ? { ca: caCert } : {}) })
    : new http.Agent({ keepAlive });
  const request = secure ? https.request : http.request;
  const url = new URL(base);
  return (s) =>
    new Promise((resolve, reject) => {
      const text = s.body === undefined ? undefined : JSON.stringify(s.body);
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': '3par-csi/bench',
        'X-HP3PAR-WSAPI-SessionKey': KEY,
      };
      if (text !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(text));
      }
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: s.path,
          method: s.method,
          agent,
          headers,
          rejectUnauthorized: caCert !== undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const out: Raw = { status: res.statusCode ?? 0 };
            if (typeof res.headers.location === 'string') out.location = res.headers.location;
            if (typeof res.headers['retry-after'] === 'string') out.retryAfter = res.headers['retry-after'];
            if (chunks.length > 0) out.text = Buffer.concat(chunks).toString('utf8');
            resolve(out);
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
}

interface HttpModule {
  createHttp(o: object): unknown;
  exchange(client: unknown, base: string, req: object, ctx: object, t?: object): Promise<Raw>;
}

async function driverLayer(modulePath: string, base: string, caCert?: string): Promise<Send> {
  const m = (await import(pathToFileURL(modulePath).href)) as HttpModule;
  const timeouts = { connectMs: 10_000, responseMs: 30_000, totalMs: 120_000 };
  const trust = !base.startsWith('https:') ? {} : caCert ? { caCert } : { insecureSkipVerify: true };
  const client = m.createHttp({ url: base, timeouts, userAgent: '3par-csi/bench', ...trust });
  const ctx = { backendId: 'bench', op: 'bench' };
  return (s) =>
    m.exchange(
      client,
      base,
      { method: s.method, path: s.path, sessionKey: KEY, ...(s.body !== undefined && { body: s.body }) },
      ctx,
      timeouts,
    );
}

/** `n` requests, `concurrency` at a time; resolves with the client CPU (user + system) in ms. */
async function run(send: Send, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const start = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const shape = SHAPES[i % SHAPES.length]!;
      const raw = await send(shape);
      const want = shape.method === 'POST' ? 201 : shape.path.endsWith('missing') ? 404 : 200;
      if (raw.status !== want || (want !== 201 && !raw.text) || (want === 201 && !raw.location))
        throw new Error(`bench:http: unexpected answer ${raw.status} to ${shape.method} ${shape.path}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const FLAGS = {
  rounds: { type: 'string', default: '15' },
  requests: { type: 'string', default: '2000' },
  concurrency: { type: 'string', default: '8' },
  'keep-alive': { type: 'boolean', default: false },
  before: { type: 'string' },
  json: { type: 'boolean', default: false },
  https: { type: 'boolean', default: false },
  insecure: { type: 'boolean', default: false },
  'tls-max-version': { type: 'string', default: '1.3' },
  'tls-no-resumption': { type: 'boolean', default: false },
  host: { type: 'string', default: '127.0.0.1' },
} as const;

interface Server {
  base: string;
  caCert?: string;
  /** Requests served and how many came on a resumed TLS session, since the last ask. */
  stats(): Promise<{ requests: number; resumed: number }>;
  stop(): void;
}

async function startServer(values: ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values']): Promise<Server> {
  const version = values['tls-max-version'];
  if (version !== '1.2' && version !== '1.3') throw new Error('--tls-max-version is 1.2 or 1.3');
  const args = [
    ...(values['keep-alive'] ? ['--keep-alive'] : []),
    ...(values.https ? ['--https', `--tls-max-version=${version}`] : []),
    ...(values.https && values['tls-no-resumption'] ? ['--tls-no-resumption'] : []),
  ];
  const child = fork(fileURLToPath(new URL('./http-server.js', import.meta.url)), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const hello = await new Promise<{ port: number; caCert?: string }>((resolve) =>
    child.once('message', (m: { port: number; caCert?: string }) => resolve(m)),
  );
  return {
    base: `${values.https ? 'https' : 'http'}://${values.host}:${hello.port}`,
    ...(hello.caCert !== undefined && !values.insecure && { caCert: hello.caCert }),
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m: { requests: number; resumed: number }) => resolve(m));
        child.send({ stats: true });
      }),
    stop: () => child.disconnect(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: FLAGS });
  const keepAlive = values['keep-alive'];
  const server = await startServer(values);
  const { base, caCert } = server;
  const modes = new Map<string, Send>([
    [values.https ? 'node:https' : 'node:http', bareNode(base, keepAlive, caCert)],
    ['got (this build)', await driverLayer(fileURLToPath(new URL('../wsapi/http.js', import.meta.url)), base, caCert)],
  ]);
  if (values.before) modes.set('got (--before)', await driverLayer(values.before, base, caCert));
  const n = Number(values.requests);
  const c = Number(values.concurrency);
  for (const send of modes.values()) await run(send, n, c); // warm-up: JIT, sockets
  await server.stats();
  const samples = new Map<string, number[]>([...modes.keys()].map((k) => [k, []]));
  for (let r = 0; r < Number(values.rounds); r++)
    for (const [name, send] of modes) samples.get(name)!.push((await run(send, n, c)) / n);
  const { requests, resumed } = await server.stats();
  server.stop();
  const result = Object.fromEntries(
    [...samples].map(([k, v]) => [
      k,
      { medianMs: Number(median(v).toFixed(3)), minMs: Number(Math.min(...v).toFixed(3)) },
    ]),
  );
  const tlsNote = values.https
    ? {
        tls: {
          maxVersion: values['tls-max-version'],
          verify: caCert !== undefined ? 'ca' : 'insecure',
          serverResumption: !values['tls-no-resumption'],
          resumedShare: Number((resumed / Math.max(requests, 1)).toFixed(3)),
        },
      }
    : {};
  if (values.json)
    process.stdout.write(
      JSON.stringify({
        keepAlive,
        requests: n,
        concurrency: c,
        rounds: Number(values.rounds),
        host: values.host,
        ...tlsNote,
        cpuMsPerRequest: result,
      }) + '\n',
    );
  else {
    const how = `${keepAlive ? 'keep-alive' : 'Connection: close'}${values.https ? `, HTTPS ${JSON.stringify(tlsNote.tls)}` : ''}`;
    process.stdout.write(`client CPU per request (${values.rounds} rounds of ${n}, concurrency ${c}, ${how}):\n`);
    for (const [k, v] of Object.entries(result))
      process.stdout.write(`  ${k.padEnd(18)} median ${v.medianMs.toFixed(3)} ms   min ${v.minMs.toFixed(3)} ms\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:http: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
