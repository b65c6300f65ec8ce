/**
 * `npm run bench:sim`: throughput and list latency of the simulator over HTTP, with no added
 * latency, persistence or data plane. The simulator runs in its own process (one core, as the
 * targets assume); this process is the client. Every request uses a fresh connection because
 * the array (and the simulator) close each one.
 *
 * Targets (issue 3): ≥ 2,000 simple GETs/s, ≥ 500 volume creates/s, a full list of 10,000
 * volumes in under 1 s; the list of 20,000 VLUNs is reported alongside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const VOLUMES = Number(process.env['BENCH_VOLUMES'] ?? 10_000);
const VLUNS = Number(process.env['BENCH_VLUNS'] ?? 20_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const SESSIONS = 16;

interface Answer {
  status: number;
  body: string;
}

function request(base: string, method: string, path: string, key?: string, body?: unknown): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent: false,
        headers: {
          ...(key ? { 'X-HP3PAR-WSAPI-SessionKey': key } : {}),
          ...(text ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (text) req.write(text);
    req.end();
  });
}

/**
 * CPU seconds the simulator process has used (Linux /proc; 0 elsewhere). With the machine shared,
 * requests per server CPU-second is the figure that does not depend on other load.
 */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Runs `count` jobs with `CONCURRENCY` in flight; returns the elapsed seconds. */
async function pool(count: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [main, 'simulator', '--port', '0', '--session-limit', '64', '--max-volume-size', '16777216'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /url:\s+(\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
}

function check(r: Answer, what: string): void {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.body}`);
}

/** Logs in `SESSIONS` times; a session key per request index, round robin. */
async function login(url: string): Promise<(i: number) => string> {
  const keys: string[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const r = await request(url, 'POST', '/api/v1/credentials', undefined, { user: '3paradm', password: '3pardata' });
    keys.push((JSON.parse(r.body) as { key: string }).key);
  }
  return (i: number): string => keys[i % keys.length]!;
}

/** The throughput phases: elapsed seconds, and the server's (and for the GETs this client's) CPU seconds. */
interface Rates {
  gets: number;
  tGet: number;
  cpuGet: number;
  clientGet: number;
  creates: number;
  tCreate: number;
  cpuCreate: number;
  tVlun: number;
}

/** Simple GETs, then `VOLUMES` volume creates, then `VLUNS` VLUN creates over the hosts they need. */
async function measureRates(child: ChildProcess, url: string, key: (i: number) => string): Promise<Rates> {
  // Warm the JIT of both processes before measuring.
  await pool(1500, async (i) => check(await request(url, 'GET', '/api/v1/cpgs/SSD_r6', key(i)), 'warm-up'));
  const gets = 6000;
  let cpu0 = cpuSeconds(child.pid);
  const client0 = process.cpuUsage();
  const tGet = await pool(gets, async (i) =>
    check(await request(url, 'GET', '/api/v1/cpgs/SSD_r6', key(i)), 'GET cpg'),
  );
  const cpuGet = cpuSeconds(child.pid) - cpu0;
  const clientCpu = process.cpuUsage(client0);
  const clientGet = (clientCpu.user + clientCpu.system) / 1e6;
  const creates = VOLUMES;
  cpu0 = cpuSeconds(child.pid);
  const tCreate = await pool(creates, async (i) =>
    check(
      await request(url, 'POST', '/api/v1/volumes', key(i), {
        name: `bench-${i}`,
        cpg: 'SSD_r6',
        sizeMiB: 1024,
        tpvv: true,
      }),
      'create',
    ),
  );
  const cpuCreate = cpuSeconds(child.pid) - cpu0;
  // 200 LUNs per host, each volume exported to VLUNS/VOLUMES hosts (a realistic spread).
  const perHost = 200;
  // Each pass over the volumes exports them to a group of hosts of its own (at most 200 LUNs each).
  const group = Math.ceil(VOLUMES / perHost);
  const hosts = group * Math.ceil(VLUNS / VOLUMES);
  for (let h = 0; h < hosts; h++)
    check(await request(url, 'POST', '/api/v1/hosts', key(h), { name: `bench-host-${h}` }), 'host');
  const hostOf = (i: number): number => (i % group) + group * Math.floor(i / VOLUMES);
  const tVlun = await pool(VLUNS, async (i) =>
    check(
      await request(url, 'POST', '/api/v1/vluns', key(i), {
        volumeName: `bench-${i % VOLUMES}`,
        hostname: `bench-host-${hostOf(i)}`,
        lun: 0,
        autoLun: true,
      }),
      'vlun',
    ),
  );
  return { gets, tGet, cpuGet, clientGet, creates, tCreate, cpuCreate, tVlun };
}

interface ListTime {
  /** The fastest of the runs, ms. */
  ms: number;
  total: number;
  bytes: number;
}

/** GETs `path` `runs` times; the fastest time, and the list's total and size in bytes. */
async function timeList(url: string, key: string, path: string, runs = 5): Promise<ListTime> {
  let best = Infinity;
  let total = 0;
  let bytes = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const a = await request(url, 'GET', path, key);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
    check(a, path);
    total = (JSON.parse(a.body) as { total: number }).total;
    bytes = a.body.length;
  }
  return { ms: best, total, bytes };
}

/** The printed report: each figure beside its target. */
function reportLines(r: Rates, api: ListTime, vols: ListTime, vluns: ListTime): string[] {
  const getRate = r.gets / r.tGet;
  const createRate = r.creates / r.tCreate;
  const ok = (b: boolean): string => (b ? 'ok' : 'BELOW TARGET');
  const perCpu = (n: number, cpu: number): string =>
    cpu > 0 ? `${(n / cpu).toFixed(0)} per server CPU-second` : 'server CPU not measured';
  const lines = [
    `simulator bench (server in its own process; ${CONCURRENCY} requests in flight over ${SESSIONS} sessions; a new connection per request)`,
    `  simple GETs      ${getRate.toFixed(0).padStart(7)} /s   (${r.gets} GET /cpgs/SSD_r6)            target ≥ 2000/s  ${ok(getRate >= 2000)}; ${perCpu(r.gets, r.cpuGet)}`,
    `                   (during the GETs: server ${r.cpuGet.toFixed(2)} CPU-s, this client ${r.clientGet.toFixed(2)} CPU-s, wall ${r.tGet.toFixed(2)} s)`,
    `  volume creates   ${createRate.toFixed(0).padStart(7)} /s   (${r.creates} POST /volumes)            target ≥ 500/s   ${ok(createRate >= 500)}; ${perCpu(r.creates, r.cpuCreate)}`,
    `  VLUN creates     ${(VLUNS / r.tVlun).toFixed(0).padStart(7)} /s   (${VLUNS} POST /vluns, autoLun)`,
    `  GET /api         ${api.ms.toFixed(1).padStart(7)} ms`,
    `  list volumes     ${vols.ms.toFixed(1).padStart(7)} ms   (${vols.total} members, ${(vols.bytes / 1e6).toFixed(1)} MB)   target < 1000 ms ${ok(vols.ms < 1000)}`,
    `  list VLUNs       ${vluns.ms.toFixed(1).padStart(7)} ms   (${vluns.total} members, ${(vluns.bytes / 1e6).toFixed(1)} MB)`,
  ];
  const load = readLoad();
  if (load)
    lines.push(
      `  (load average ${load} on ${availableParallelism()} cores while measuring: wall-clock rates are lower on a shared machine)`,
    );
  return lines;
}

async function main(): Promise<void> {
  const { child, url } = await startChild();
  try {
    const key = await login(url);
    const rates = await measureRates(child, url, key);
    const api = await timeList(url, key(0), '/api');
    const vols = await timeList(url, key(0), '/api/v1/volumes');
    const vluns = await timeList(url, key(0), '/api/v1/vluns');
    process.stdout.write(reportLines(rates, api, vols, vluns).join('\n') + '\n');
  } finally {
    child.kill('SIGTERM');
  }
}

function readLoad(): string | undefined {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {
    return undefined;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:sim failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
