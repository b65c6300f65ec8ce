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
import {
  DATA,
  PLAIN,
  startDriverProcess,
  startSims,
  procSample,
  WireBytes,
  type DriverProcess,
  type Sims,
} from './harness.js';
import { Meter, percentile, type PhaseResult } from './stats.js';
import { markerOf, nodeSteps, seedVluns, w1, w2, w3, w4, warmUp, type Ctx } from './workloads.js';
import { buildReport, formatTable, type Extra } from './report.js';
import { UsageError } from '../cli/flags.js';
import { BENCH_HELP, parseBenchArgs, type BenchOptions } from './options.js';

export type { BenchOptions } from './options.js';

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

/** The meter of every phase, printing one progress line per phase. */
function newMeter(o: BenchOptions, sims: Sims, bytes: WireBytes, pid: () => number | undefined): Meter {
  return new Meter(
    [sims.plain, sims.data, sims.base],
    bytes,
    (p) =>
      say(
        o,
        `  ${p.workload} ${p.who.padEnd(8)} ${p.label.padEnd(42)} n=${p.calls} err=${p.errors} WSAPI/call=${(p.wsapi / Math.max(1, p.calls)).toFixed(2)} p50=${percentile(p.latencies, 50).toFixed(1)} ms p99=${percentile(p.latencies, 99).toFixed(1)} ms ${p.elapsedSec.toFixed(1)} s, driver CPU ${((p.driverCpuSec * 1000) / Math.max(1, p.calls)).toFixed(1)} ms/call`,
      ),
    () => procSample(pid()).cpuSec,
  );
}

/** One bench run's state, shared by the workloads. */
interface Run {
  o: BenchOptions;
  ctx: Ctx;
  sims: Sims;
  driver: DriverProcess;
  extra: Extra;
  phases: PhaseResult[];
  model: { latencyMs: number; perMemberUs: number };
  skipNode: string | undefined;
}

/** The workloads not skipped, in order: W1, W2, W3, node, W1-20k, W4. */
async function runWorkloads(run: Run): Promise<void> {
  const { o, ctx, sims, extra, phases, model, skipNode } = run;
  const pid = run.driver.child.pid;
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
  await warmUp(ctx, o.warmUp);
  if (!o.skip.has('w1')) {
    await w1Run('W1', o.volumes);
  }
  if (!o.skip.has('w2')) {
    say(o, `W2: ${o.snapshots} snapshots ...`);
    phases.push(...(await w2(ctx, o.snapshots)));
  }
  if (!o.skip.has('w3')) {
    say(
      o,
      `W3: ${o.clones} clones of ${o.cloneDataMiB} MiB at ${(o.cloneDataMiB / o.cloneSeconds).toFixed(3)} MiB/s (${o.cloneSeconds} s each) ...`,
    );
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
  if (!o.skip.has('w4')) await runW4(run);
}

/** W4: seeds volumes carrying the driver's own marker, then times listings of them. */
async function runW4(run: Run): Promise<void> {
  const { o, ctx, sims, extra, model } = run;
  const pid = run.driver.child.pid;
  // The driver's own marker, copied onto the seeded volumes so that they list as its own.
  const csiName = 'w4-template';
  await run.driver.client.call('CreateVolume', {
    name: csiName,
    capacity_range: { required_bytes: String(1 << 30) },
    volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
    parameters: {},
  });
  const marker = { comment: markerOf(sims.plain, csiName)?.comment ?? '', csiName };
  say(o, `W4: seeding ${o.listVolumes - 1} marked volumes, then listing with pages of ${o.pageSize} ...`);
  const cpu0 = procSample(pid).cpuSec;
  const r = await w4(ctx, o.listVolumes - 1, o.pageSize, marker, model, o.listRuns);
  // Includes the driver's idle time while the volumes are seeded on the simulator directly.
  extra.w4CpuMsPerListing = ((procSample(pid).cpuSec - cpu0) * 1000) / Math.max(1, o.listRuns);
  extra.rssNow!['W4'] = procSample(pid).rssMiB;
  extra.listings = r.listings;
  extra.seedSec['w4'] = r.seedSec;
}

/** The figures taken after the last workload: memory, load, the driver's logins, the machine. */
function finishExtra(o: BenchOptions, extra: Extra, sims: Sims, pid: number | undefined): void {
  extra.rss['end'] = procSample(pid).hwmMiB;
  extra.loadEnd = loadavg()[0]!;
  const logins = (s: Sims['plain']): number =>
    s.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/credentials').length;
  // Seeding logs in on the plain array too; the baseline uses its own array.
  extra.driverLogins = { [PLAIN]: logins(sims.plain) - ownLogins(o, extra), [DATA]: logins(sims.data) };
  extra.machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

/** The table (stderr with --json, which prints the JSON on stdout); exit 1 when any call failed. */
function printReport(o: BenchOptions, report: ReturnType<typeof buildReport>): number {
  if (o.json) {
    process.stderr.write(formatTable(report));
    process.stdout.write(JSON.stringify(report.json) + '\n');
  } else {
    process.stdout.write(formatTable(report));
  }
  return report.json.errors === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  const o = parseBenchArgs(argv);
  const workDir = mkdtempSync(join(tmpdir(), '3par-bench-'));
  const model = { latencyMs: o.latencyMs, perMemberUs: o.perMemberUs };
  const tls = { https: o.https, tlsResumption: o.tlsResumption, tlsMaxVersion: o.tlsMaxVersion };
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
    sims = await startSims(workDir, { ...model, ...tls });
    const nodeBootMs = await nodeBoot();
    const skipNode = nodeSkipReason(o);
    driver = await startDriverProcess(workDir, sims, {
      node: skipNode === undefined,
      sessionPoolSize: o.sessionPool,
      maxInFlight: o.maxInFlight,
    });
    say(
      o,
      `driver pid ${driver.child.pid} answered Probe ${driver.startupMs.toFixed(0)} ms after spawn; log ${driver.logFile}`,
    );
    const meter = newMeter(o, sims, bytes, () => driver?.child.pid);
    const ctx: Ctx = {
      client: driver.client,
      sims,
      meter,
      concurrency: o.concurrency,
      sessionPoolSize: o.sessionPool,
      maxInFlight: o.maxInFlight,
      workDir,
    };
    const phases: PhaseResult[] = [];
    const extra: Extra = {
      startupMs: driver.startupMs,
      startupCpuSec: procSample(driver.child.pid).cpuSec,
      rssNow: {},
      nodeBootMs,
      rssStartMiB: procSample(driver.child.pid).rssMiB,
      rss: {},
      cpuSecPer1000Rpc: {},
      nodeSkipped: skipNode,
      clones: [],
      listings: [],
      seedSec: {},
      loadStart,
      loadEnd: 0,
      started,
      options: o,
    };
    const pid = driver.child.pid;
    await runWorkloads({ o, ctx, sims, driver, extra, phases, model, skipNode });
    finishExtra(o, extra, sims, pid);
    return printReport(o, buildReport(phases, extra));
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
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
