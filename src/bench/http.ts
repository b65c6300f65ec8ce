/**
 * `npm run bench:http`: client CPU per WSAPI request of the driver's HTTP layer (`createHttp` +
 * `exchange`, got) next to a bare `node:http` request doing the same work (send a JSON body and
 * the session key header, take the body as one string, read `Location` and `Retry-After`).
 * The server (src/bench/http-server.ts) runs in its own process, so this process's CPU is the
 * client's alone; the modes take turns round by round, so load from elsewhere hits each alike.
 *
 *   npm run bench:http -- [--rounds 15] [--requests 2000] [--concurrency 8] [--keep-alive]
 *                         [--before DIR/dist/wsapi/http.js]   (the same layer of another build)
 */
import { fork } from 'node:child_process';
import http from 'node:http';
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

function bareNode(base: string, keepAlive: boolean): Send {
  const agent = new http.Agent({ keepAlive });
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
      const req = http.request(
        { host: url.hostname, port: url.port, path: s.path, method: s.method, agent, headers },
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

async function driverLayer(modulePath: string, base: string): Promise<Send> {
  const m = (await import(pathToFileURL(modulePath).href)) as HttpModule;
  const timeouts = { connectMs: 10_000, responseMs: 30_000, totalMs: 120_000 };
  const client = m.createHttp({ url: base, timeouts, userAgent: '3par-csi/bench' });
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '15' },
      requests: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '8' },
      'keep-alive': { type: 'boolean', default: false },
      before: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const keepAlive = values['keep-alive'];
  const server = fork(fileURLToPath(new URL('./http-server.js', import.meta.url)), keepAlive ? ['--keep-alive'] : [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
  const base = `http://127.0.0.1:${port}`;
  const modes = new Map<string, Send>([
    ['node:http', bareNode(base, keepAlive)],
    ['got (this build)', await driverLayer(fileURLToPath(new URL('../wsapi/http.js', import.meta.url)), base)],
  ]);
  if (values.before) modes.set('got (--before)', await driverLayer(values.before, base));
  const n = Number(values.requests);
  const c = Number(values.concurrency);
  for (const send of modes.values()) await run(send, n, c); // warm-up: JIT, sockets
  const samples = new Map<string, number[]>([...modes.keys()].map((k) => [k, []]));
  for (let r = 0; r < Number(values.rounds); r++)
    for (const [name, send] of modes) samples.get(name)!.push((await run(send, n, c)) / n);
  server.disconnect();
  const result = Object.fromEntries(
    [...samples].map(([k, v]) => [
      k,
      { medianMs: Number(median(v).toFixed(3)), minMs: Number(Math.min(...v).toFixed(3)) },
    ]),
  );
  if (values.json)
    process.stdout.write(
      JSON.stringify({
        keepAlive,
        requests: n,
        concurrency: c,
        rounds: Number(values.rounds),
        cpuMsPerRequest: result,
      }) + '\n',
    );
  else {
    process.stdout.write(
      `client CPU per request (${values.rounds} rounds of ${n}, concurrency ${c}, ${keepAlive ? 'keep-alive' : 'Connection: close'}):\n`,
    );
    for (const [k, v] of Object.entries(result))
      process.stdout.write(`  ${k.padEnd(18)} median ${v.medianMs.toFixed(3)} ms   min ${v.minMs.toFixed(3)} ms\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:http: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
