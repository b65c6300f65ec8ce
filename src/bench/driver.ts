/**
 * `npm run bench` (issue 9): the driver's cost over the array's own round trips, at scale.
 *
 * The simulators run in this process with the latency model (L per request, k per list member);
 * the driver runs as `3par-csi serve` in its own process, reached over its unix socket by a
 * sidecar-like client (a fixed number of workers). Workloads: W1 provisioning on an empty array
 * and again beside 20,000 VLUNs of other hosts (each call repeated once, and replayed by a bare
 * HTTP client as the baseline), W2 snapshots, W3 clones, W4 listing, and the node steps (root).
 *
 *   npm run bench [-- --quick] [--json] [--volumes N] [--skip w1-20k,node] ...   (--help)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DATA, PLAIN, startDriverProcess, startSims, procSample, WireBytes, type DriverProcess, type Sims } from './harness.js';
import { Meter, percentile, type PhaseResult } from './stats.js';
import { markerOf, nodeSteps, seedVluns, w1, w2, w3, w4, warmUp, type Ctx } from './workloads.js';
import { buildReport, formatTable, type Extra } from './report.js';

/** Every size and knob, with the values as defaults. */
export interface BenchOptions {
  volumes: number;
  nodes: number;
  vluns: number;
  volumes20k: number;
  snapshots: number;
  clones: number;
  cloneSeconds: number;
  cloneDataMiB: number;
  listVolumes: number;
  pageSize: number;
  listRuns: number;
  nodeVolumes: number;
  concurrency: number;
  latencyMs: number;
  perMemberUs: number;
  sessionPool: number;
  maxInFlight: number;
  skip: Set<string>;
  json: boolean;
  quick: boolean;
}

const DEFAULTS: Omit<BenchOptions, 'skip' | 'json' | 'quick'> = {
  volumes: 1000,
  nodes: 20,
  vluns: 20_000,
  volumes20k: 1000,
  snapshots: 200,
  clones: 20,
  cloneSeconds: 32,
  cloneDataMiB: 8,
  listVolumes: 10_000,
  pageSize: 500,
  listRuns: 3,
  nodeVolumes: 50,
  concurrency: 32,
  latencyMs: 10,
  perMemberUs: 20,
  sessionPool: 4,
  maxInFlight: 8,
};

/** --quick: every workload, small (a smoke run in well under 30 s). */
const QUICK: Partial<BenchOptions> = { volumes: 40, nodes: 4, vluns: 400, volumes20k: 20, snapshots: 10, clones: 2, cloneSeconds: 1, cloneDataMiB: 1, listVolumes: 600, pageSize: 100, listRuns: 1, nodeVolumes: 2 };

const FLAGS: Record<string, [keyof typeof DEFAULTS, string]> = {
  '--volumes': ['volumes', 'W1: volumes created, published, unpublished and deleted'],
  '--nodes': ['nodes', 'W1: nodes the volumes are published to'],
  '--vluns': ['vluns', 'W1-20k: pre-existing VLUNs of other hosts (0 skips W1-20k)'],
  '--volumes-20k': ['volumes20k', 'W1-20k: volumes in the run beside the VLUNs'],
  '--snapshots': ['snapshots', 'W2: snapshots (and volumes from them)'],
  '--clones': ['clones', 'W3: clones'],
  '--clone-seconds': ['cloneSeconds', 'W3: duration of each copy at the set copy rate'],
  '--clone-data-mib': ['cloneDataMiB', 'W3: data in each source volume'],
  '--list-volumes': ['listVolumes', 'W4: volumes listed'],
  '--page-size': ['pageSize', 'W4: ListVolumes max_entries'],
  '--list-runs': ['listRuns', 'W4: listings timed'],
  '--node-volumes': ['nodeVolumes', 'node: volumes staged and published (root only)'],
  '--concurrency': ['concurrency', 'calls in flight (sidecar workers)'],
  '--latency-ms': ['latencyMs', 'simulator service time per request, L'],
  '--per-member-us': ['perMemberUs', 'simulator service time per list member, k'],
  '--session-pool': ['sessionPool', 'session keys per backend (driver and baseline)'],
  '--max-in-flight': ['maxInFlight', 'WSAPI requests in flight per backend (driver and baseline)'],
};
const WORKLOADS = ['w1', 'w1-20k', 'w2', 'w3', 'w4', 'node'];

function usage(): string {
  const lines = ['npm run bench -- [flags]', '', '  --quick            small sizes for a smoke run', '  --json             one JSON object on the last line', `  --skip LIST        workloads to skip: ${WORKLOADS.join(',')}`];
  for (const [flag, [key, help]] of Object.entries(FLAGS)) lines.push(`  ${flag.padEnd(18)} ${help} (default ${DEFAULTS[key]})`);
  return lines.join('\n') + '\n';
}

export function parseArgs(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = { ...DEFAULTS, ...(quick ? QUICK : {}), skip: new Set(), json: argv.includes('--json'), quick };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick' || a === '--json') continue;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = inline ?? argv[++i];
    if (flag === '--skip') {
      for (const w of (value ?? '').split(',').filter((s) => s !== '')) {
        if (!WORKLOADS.includes(w)) throw new Error(`--skip: unknown workload "${w}" (${WORKLOADS.join(', ')})`);
        o.skip.add(w);
      }
      continue;
    }
    const spec = FLAGS[flag];
    if (!spec) throw new Error(`unknown flag ${flag}\n${usage()}`);
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number ≥ 0`);
    o[spec[0]] = n;
  }
  if (o.vluns === 0) o.skip.add('w1-20k');
  return o;
}

function say(o: BenchOptions, line: string): void {
  // Progress goes to stderr with --json, so stdout ends with exactly one JSON line.
  (o.json ? process.stderr : process.stdout).write(line + '\n');
}

/** Why the node workload cannot run here, or undefined when it can. */
function nodeSkipReason(o: BenchOptions): string | undefined {
  if (o.skip.has('node')) return 'skipped by --skip';
  if (process.platform !== 'linux') return 'needs Linux (loop devices)';
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mkfs, mount)';
  return undefined;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(usage());
    return 0;
  }
  const o = parseArgs(argv);
  const workDir = mkdtempSync(join(tmpdir(), '3par-bench-'));
  const model = { latencyMs: o.latencyMs, perMemberUs: o.perMemberUs };
  const bytes = new WireBytes();
  let sims: Sims | undefined;
  let driver: DriverProcess | undefined;
  const loadStart = loadavg()[0]!;
  // An interrupted run still stops its driver process and simulators.
  const onSignal = (): void => {
    say(o, 'interrupted: stopping the driver');
    driver?.child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = new Date();
  try {
    sims = await startSims(workDir, model);
    const nodeBootMs = await nodeBoot();
    const skipNode = nodeSkipReason(o);
    driver = await startDriverProcess(workDir, sims, { node: skipNode === undefined, sessionPoolSize: o.sessionPool, maxInFlight: o.maxInFlight });
    say(o, `driver pid ${driver.child.pid} answered Probe ${driver.startupMs.toFixed(0)} ms after spawn; log ${driver.logFile}`);
    const meter = new Meter([sims.plain, sims.data, sims.base], bytes, (p) =>
      say(o, `  ${p.workload} ${p.who.padEnd(8)} ${p.label.padEnd(42)} n=${p.calls} err=${p.errors} WSAPI/call=${(p.wsapi / Math.max(1, p.calls)).toFixed(2)} p50=${percentile(p.latencies, 50).toFixed(1)} ms p99=${percentile(p.latencies, 99).toFixed(1)} ms ${p.elapsedSec.toFixed(1)} s, driver CPU ${((p.driverCpuSec * 1000) / Math.max(1, p.calls)).toFixed(1)} ms/call`),
      () => procSample(driver?.child.pid).cpuSec,
    );
    const ctx: Ctx = { client: driver.client, sims, meter, concurrency: o.concurrency, sessionPoolSize: o.sessionPool, maxInFlight: o.maxInFlight, workDir };
    const phases: PhaseResult[] = [];
    const extra: Extra = { startupMs: driver.startupMs, startupCpuSec: procSample(driver.child.pid).cpuSec, rssNow: {}, nodeBootMs, rssStartMiB: procSample(driver.child.pid).rssMiB, rss: {}, cpuSecPer1000Rpc: {}, nodeSkipped: skipNode, clones: [], listings: [], seedSec: {}, loadStart, loadEnd: 0, started, options: o };
    const pid = driver.child.pid;
    const w1Run = async (workload: string, count: number): Promise<void> => {
      const before = procSample(pid);
      say(o, `${workload}: ${count} volumes over ${o.nodes} nodes ...`);
      const r = await w1(ctx, workload, count, o.nodes);
      const after = procSample(pid);
      phases.push(...r.phases);
      // The driver's CPU over its own phases (the baseline's phases leave it idle).
      extra.cpuSecPer1000Rpc[workload] = ((after.cpuSec - before.cpuSec) / r.driverCalls) * 1000;
      extra.rss[workload] = after.hwmMiB;
    };
    let marker: { comment: string; csiName: string } | undefined;
    await warmUp(ctx);
    if (!o.skip.has('w1')) {
      await w1Run('W1', o.volumes);
    }
    if (!o.skip.has('w2')) {
      say(o, `W2: ${o.snapshots} snapshots ...`);
      phases.push(...(await w2(ctx, o.snapshots)));
    }
    if (!o.skip.has('w3')) {
      say(o, `W3: ${o.clones} clones of ${o.cloneDataMiB} MiB at ${(o.cloneDataMiB / o.cloneSeconds).toFixed(3)} MiB/s (${o.cloneSeconds} s each) ...`);
      const r = await w3(ctx, o.clones, o.cloneDataMiB, o.cloneSeconds);
      phases.push(...r.phases);
      extra.clones = r.clones;
      extra.pollIntervalMs = r.pollIntervalMs;
    }
    if (skipNode === undefined) {
      say(o, `node: ${o.nodeVolumes} volumes on loop devices ...`);
      phases.push(...(await nodeSteps(ctx, o.nodeVolumes)));
    }
    if (!o.skip.has('w1-20k')) {
      say(o, `W1-20k: seeding ${o.vluns} VLUNs of other hosts ...`);
      extra.seedSec['vluns'] = await seedVluns(sims.plain, o.vluns, model);
      extra.seedSec['vluns (baseline array)'] = await seedVluns(sims.base, o.vluns, model);
      await w1Run('W1-20k', o.volumes20k);
    }
    if (!o.skip.has('w4')) {
      // The driver's own marker, copied onto the seeded volumes so that they list as its own.
      const csiName = 'w4-template';
      await driver.client.call('CreateVolume', { name: csiName, capacity_range: { required_bytes: String(1 << 30) }, volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }], parameters: {} });
      marker = { comment: markerOf(sims.plain, csiName)?.comment ?? '', csiName };
      say(o, `W4: seeding ${o.listVolumes - 1} marked volumes, then listing with pages of ${o.pageSize} ...`);
      const cpu0 = procSample(pid).cpuSec;
      const r = await w4(ctx, o.listVolumes - 1, o.pageSize, marker, model, o.listRuns);
      // Includes the driver's idle time while the volumes are seeded on the simulator directly.
      extra.w4CpuMsPerListing = ((procSample(pid).cpuSec - cpu0) * 1000) / Math.max(1, o.listRuns);
      extra.rssNow!['W4'] = procSample(pid).rssMiB;
      extra.listings = r.listings;
      extra.seedSec['w4'] = r.seedSec;
    }
    extra.rss['end'] = procSample(pid).hwmMiB;
    extra.loadEnd = loadavg()[0]!;
    const logins = (s: Sims['plain']): number => s.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/credentials').length;
    // Seeding logs in on the plain array too; the baseline uses its own array.
    extra.driverLogins = { [PLAIN]: logins(sims.plain) - ownLogins(o, extra), [DATA]: logins(sims.data) };
    extra.machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
    const report = buildReport(phases, extra);
    if (o.json) {
      process.stderr.write(formatTable(report));
      process.stdout.write(JSON.stringify(report.json) + '\n');
    } else {
      process.stdout.write(formatTable(report));
    }
    return report.json.errors === 0 ? 0 : 1;
  } finally {
    await driver?.stop();
    await sims?.plain.close();
    await sims?.data.close();
    await sims?.base.close();
    bytes.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** How long a bare `node -e 0` takes from spawn to exit here: the part of start-up that is Node's own. */
function nodeBoot(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(performance.now() - t0));
  });
}

/** Logins on the plain array made by this process's seeding clients (pools of 16), not the driver's. */
function ownLogins(_o: BenchOptions, extra: Extra): number {
  const seeds = (extra.seedSec['vluns'] !== undefined ? 3 : 0) + (extra.seedSec['w4'] !== undefined ? 1 : 0);
  return seeds * 16;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
