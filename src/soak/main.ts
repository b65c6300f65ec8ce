/**
 *     npm run soak [-- --quick] [--seed N] [--volumes N] [--concurrency N] [--fault-rate N]
 *       [--kill-rate N] [--hang] [--retry-start S] [--retry-max S] [--keep] [--no-node]
 *
 * Drives many volumes through their whole lifecycle against the embedded simulator (HTTPS, its
 * CA in the backends file) while the simulator injects faults and driver processes are SIGKILLed
 * and restarted; a second phase runs two controller processes at once (a rolling update, split
 * sidecar leaders). Then audits the array and the node. The last line is
 * `soak: N ops, N faults, N restarts, N leaked, N lost`; the exit code is 1 unless leaked and
 * lost are 0 and every lifecycle finished.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator, type RunningSimulator } from '../simulator/index.js';
import { audit, tasksSettled, type AuditResult } from './audit.js';
import { Chaos } from './faults.js';
import { Ledger, finishKeeper, runLifecycle, type LifecycleEnv } from './lifecycle.js';
import { cleanUpNode, mountsUnder, nodeStepsUnavailable } from './node-fs.js';
import { HANG_RESPONSE_TIMEOUT_S, SOAK_HELP, parseSoakArgs, type SoakConfig } from './options.js';
import { Prng } from './prng.js';
import { DriverProcess } from './processes.js';
import { Sidecar } from './sidecar.js';
import { UsageError } from '../cli/flags.js';

const DRIVER = 'csi.3par.soak.example.com';
const CLUSTER = 'soak';
const BACKEND = 'sim';
const NODE_NAME = 'soak-node';

interface PhaseScope {
  env: Omit<LifecycleEnv, 'race' | 'rng'>;
  rng: Prng;
  names: string[];
  keepers: Set<string>;
  chaos: Chaos;
  sidecar: Sidecar;
  /** The driver process serving controller and node, and the second controller. */
  a: DriverProcess;
  b: DriverProcess;
}

/** Phase 1 with one driver process, phase 2 with a second controller beside it; chaos in both. */
async function runPhases(cfg: SoakConfig, p: PhaseScope, started: number): Promise<void> {
  const { chaos: ch, a, b } = p;
  process.stdout.write(`${stamp(started)} phase 1: one driver process (controller + node), faults and SIGKILLs\n`);
  ch.start(() => [a], { faultEveryMs: cfg.faultEveryMs, killEveryMs: cfg.killEveryMs });
  await runLifecycles(p.env, p.rng, p.names.slice(0, cfg.volumes[0]), p.keepers, cfg.concurrency, 0);
  await ch.stop([a]);

  process.stdout.write(
    `${stamp(started)} phase 2: two controller processes against one array (rolling update / split leaders), faults and SIGKILLs\n`,
  );
  await b.start();
  p.sidecar.setControllers([a.endpoint, b.endpoint]);
  ch.start(() => [a, b], { faultEveryMs: cfg.faultEveryMs, killEveryMs: cfg.killEveryMs });
  await runLifecycles(p.env, p.rng, p.names.slice(cfg.volumes[0]), p.keepers, Math.max(1, cfg.concurrency - 1), 0.5);
  await ch.stop([a, b]);
  await b.stop();
  p.sidecar.setControllers([a.endpoint]);
}

/** The run's settings, first thing on stdout (the seed repeats a run). */
function printPlan(cfg: SoakConfig, work: string, noNode: string | undefined): void {
  process.stdout.write(
    `soak${cfg.quick ? ' --quick' : ''}: seed ${cfg.seed} (repeat with --seed ${cfg.seed}), ${cfg.volumes[0]}+${cfg.volumes[1]} lifecycles, concurrency ${cfg.concurrency}, work dir ${work}\n`,
  );
  process.stdout.write(
    `chaos: ${cfg.faultEveryMs ? `a fault every ${Math.round(cfg.faultEveryMs)} ms on average${cfg.hang ? ' (hangs included)' : ''}` : 'no array faults'}, ${cfg.killEveryMs ? `a SIGKILL every ${cfg.killEveryMs[0]}-${cfg.killEveryMs[1]} ms` : 'no SIGKILLs'}; retries like external-provisioner (${cfg.retryStartMs / 1000} s doubling to ${cfg.retryMaxMs / 1000} s, never giving up)\n`,
  );
  process.stdout.write(
    noNode
      ? `node steps skipped: ${noNode}; running the control-plane lifecycle only (no stage/publish, no data checks)\n`
      : 'node steps on: real xfs on loop devices, data written and read back\n',
  );
}

/** Runs `count` lifecycles, `concurrency` at a time. */
async function runLifecycles(
  env: Omit<LifecycleEnv, 'race' | 'rng'>,
  rng: Prng,
  names: string[],
  keepers: Set<string>,
  concurrency: number,
  raceShare: number,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    const wrng = rng.fork();
    while (next < names.length) {
      const name = names[next++]!;
      const race = wrng.chance(raceShare);
      const t0 = Date.now();
      const ok = await runLifecycle({ ...env, rng: wrng, race }, name, keepers.has(name));
      process.stdout.write(
        `  ${name}${keepers.has(name) ? ' (kept)' : ''}${race ? ' (raced to both controllers)' : ''}: ${ok ? 'done' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const stamp = (started: number): string => `[${((Date.now() - started) / 1000).toFixed(0)} s]`;

function report(label: string, r: AuditResult): void {
  for (const l of r.leaked) process.stdout.write(`  ${label}: LEAKED ${l}\n`);
  for (const l of r.lost) process.stdout.write(`  ${label}: LOST ${l}\n`);
  for (const l of r.anomalies) process.stdout.write(`  ${label}: anomaly: ${l}\n`);
  process.stdout.write(
    `  ${label}: ${r.counts.helperSnapshots} helper snapshots, ${r.counts.tombstones} tombstones, ${r.counts.emptyHosts} empty hosts\n`,
  );
}

/**
 * The array: abandoned sessions of killed processes expire after 20 s (the array's 15 min would
 * exhaust its session limit within a few restarts; that is what the real array's idle timeout
 * does, slowly).
 */
function startSoakSimulator(dataDir: string): Promise<RunningSimulator> {
  return startSimulator({
    dataDir,
    https: true,
    copyRateMiBps: 32,
    tickMs: 20,
    sessionIdleTimeoutSec: 20,
    cpgs: [{ name: 'SOAK_CPG', sizeMiB: 8 * 1024 * 1024 }],
  });
}

/** The driver's backends file (the simulator's CA in it), mode 0600. */
function writeBackendsFile(work: string, sim: RunningSimulator, hang: boolean): string {
  const backendsFile = join(work, 'backends.json');
  writeFileSync(
    backendsFile,
    JSON.stringify([
      {
        id: BACKEND,
        url: sim.url,
        username: sim.username,
        password: sim.password,
        caCert: sim.caCert,
        default: true,
        defaultAccessProtocol: 'loop',
        defaultCpg: 'SOAK_CPG',
        ...(hang && { responseTimeoutSeconds: HANG_RESPONSE_TIMEOUT_S }),
      },
    ]),
    { mode: 0o600 },
  );
  return backendsFile;
}

/** Driver process a (controller and node) and b (a second controller), not yet started. */
function driverProcesses(p: {
  work: string;
  cliPath: string;
  backendsFile: string;
  dataDir: string;
  kubeletDir: string;
}): [DriverProcess, DriverProcess] {
  const { work, cliPath, backendsFile, dataDir, kubeletDir } = p;
  const common = [
    '--endpoint',
    '',
    '--backends',
    backendsFile,
    '--cluster-id',
    CLUSTER,
    '--driver-name',
    DRIVER,
    '--log-format',
    'json',
    '--log-level',
    'info',
    '--shutdown-grace',
    '5',
  ];
  const argsFor = (mode: string, sock: string): string[] => {
    const args = [
      ...common,
      '--mode',
      mode,
      '--node-name',
      NODE_NAME,
      '--kubelet-dir',
      kubeletDir,
      '--sim-data-dir',
      dataDir,
      '--host-exec',
      'direct',
    ];
    args[1] = `unix://${sock}`;
    return args;
  };
  const a = new DriverProcess({
    label: 'a',
    cliPath,
    args: argsFor('all', join(work, 'a.sock')),
    endpoint: `unix://${join(work, 'a.sock')}`,
    logFile: join(work, 'driver-a.log'),
  });
  const b = new DriverProcess({
    label: 'b',
    cliPath,
    args: argsFor('controller', join(work, 'b.sock')),
    endpoint: `unix://${join(work, 'b.sock')}`,
    logFile: join(work, 'driver-b.log'),
  });
  return [a, b];
}

interface FinishScope {
  sim: RunningSimulator;
  ledger: Ledger;
  kubeletDir: string;
  dataDir: string;
  keepers: Set<string>;
  env: Omit<LifecycleEnv, 'race' | 'rng'>;
  rng: Prng;
  a: DriverProcess;
  started: number;
}

/**
 * Audits after the chaos (everything that should exist exists exactly once; everything deleted
 * is gone), reads back and deletes the kept volumes, stops the driver, audits again.
 */
async function auditAndFinish(f: FinishScope): Promise<AuditResult[]> {
  const { sim, ledger, keepers, env, rng, a, started } = f;
  await tasksSettled(sim.array, 60_000);
  const scope = { array: sim.array, ledger, kubeletDir: f.kubeletDir, dataDir: f.dataDir, driverName: DRIVER };
  const mid = audit(scope);
  report('audit after the chaos', mid);

  process.stdout.write(
    `${stamp(started)} final: reading back the ${[...keepers].filter((k) => ledger.volumes.has(k)).length} kept volumes, then deleting them\n`,
  );
  for (const k of keepers) await finishKeeper({ ...env, rng, race: false }, k);
  await a.stop();
  await tasksSettled(sim.array, 30_000);
  const fin = audit(scope);
  report('final audit', fin);
  return [mid, fin];
}

/** Crashes of the driver processes, and the array password if it reached a log line (it must never). */
function processProblems(processes: DriverProcess[], password: string): string[] {
  const problems: string[] = [];
  for (const p of processes) {
    const text = readFileSync(p.options.logFile, 'utf8');
    if (text.includes(password)) problems.push(`the array password appears in ${p.options.logFile}`);
    problems.push(...p.crashes);
  }
  return problems;
}

async function main(): Promise<number> {
  const cfg = parseSoakArgs(process.argv.slice(2));
  const started = Date.now();
  const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
  const work = mkdtempSync(join(tmpdir(), '3par-soak-'));
  const noNode = cfg.noNode ? '--no-node was given' : nodeStepsUnavailable();
  const rng = new Prng(cfg.seed);
  printPlan(cfg, work, noNode);

  const dataDir = join(work, 'array');
  const kubeletDir = join(work, 'kubelet');
  let sim: RunningSimulator | undefined;
  const processes: DriverProcess[] = [];
  let sidecar: Sidecar | undefined;
  const ledger = new Ledger();
  let chaos: Chaos | undefined;
  const audits: AuditResult[] = [];
  const problems: string[] = [];
  try {
    sim = await startSoakSimulator(dataDir);
    const backendsFile = writeBackendsFile(work, sim, cfg.hang);
    const [a, b] = driverProcesses({ work, cliPath, backendsFile, dataDir, kubeletDir });
    processes.push(a, b);
    await a.start();
    // Retries as external-provisioner does; an operation still failing after this long is a
    // stuck driver (reported as a failure), far beyond what any fault here lasts.
    sidecar = new Sidecar([a.endpoint], a.endpoint, rng.fork(), {
      timeoutMs: 15_000,
      stuckAfterMs: cfg.quick ? 5 * 60_000 : 15 * 60_000,
      retryStartMs: cfg.retryStartMs,
      retryMaxMs: cfg.retryMaxMs,
    });
    const info = await sidecar.nodeCall<{ node_id: string }>('NodeGetInfo', {});
    chaos = new Chaos(sim.faults, rng.fork(), { hang: cfg.hang });
    const env = {
      sidecar,
      ledger,
      chaos,
      faults: sim.faults,
      driverName: DRIVER,
      clusterId: CLUSTER,
      nodeId: info.node_id,
      kubeletDir,
      node: noNode === undefined,
    };
    const names = Array.from(
      { length: cfg.volumes[0] + cfg.volumes[1] },
      (_, i) => `pvc-soak-${String(i).padStart(3, '0')}`,
    );
    const keepers = new Set(names.filter((_, i) => i % 4 === 1));

    const ch = chaos;
    await runPhases(cfg, { env, rng, names, keepers, chaos: ch, sidecar, a, b }, started);

    audits.push(...(await auditAndFinish({ sim, ledger, kubeletDir, dataDir, keepers, env, rng, a, started })));

    problems.push(
      ...processProblems(processes, sim.password),
      ...ch.restartErrors.map((e) => `restart failed: ${e}`),
      ...sidecar.stats.disagreements.map((d) => `two controllers disagreed: ${d}`),
    );
  } catch (err) {
    problems.push(`soak aborted: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const p of processes) {
      await p.stop(5000).catch(() => undefined);
      p.close();
    }
    sidecar?.close();
    if (noNode === undefined) cleanUpNode(work);
    await sim?.close();
  }

  return summarize({ cfg, started, work, ledger, audits, problems, sidecar, chaos });
}

interface Outcome {
  cfg: SoakConfig;
  started: number;
  work: string;
  ledger: Ledger;
  audits: AuditResult[];
  problems: string[];
  sidecar: Sidecar | undefined;
  chaos: Chaos | undefined;
}

/** Prints what went wrong and the last line; removes the work dir unless kept; the exit code. */
function summarize(o: Outcome): number {
  const { cfg, started, work, ledger, audits, problems, sidecar, chaos } = o;
  const leaked = new Set(audits.flatMap((r) => r.leaked)).size;
  const lost = new Set([...ledger.lost, ...audits.flatMap((r) => r.lost)]).size;
  const ops = sidecar?.stats.ops ?? 0;
  const faults = chaos?.faults ?? 0;
  const restarts = chaos?.restarts ?? 0;
  for (const l of ledger.lost) process.stdout.write(`  LOST ${l}\n`);
  for (const f of ledger.failed) process.stdout.write(`  lifecycle failed: ${f}\n`);
  for (const x of ledger.anomalies) process.stdout.write(`  anomaly: ${x}\n`);
  for (const p of problems) process.stdout.write(`  problem: ${p}\n`);
  if (sidecar) {
    const failures = [...sidecar.stats.failures].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ×${n}`);
    process.stdout.write(`failed attempts (retried): ${failures.join(', ') || 'none'}\n`);
    process.stdout.write(
      `${sidecar.stats.attempts} attempts for ${ops} operations; longest back-off ${(sidecar.stats.maxBackoffMs / 1000).toFixed(0)} s\n`,
    );
  }
  if (chaos) process.stdout.write(`faults: ${[...chaos.byKind].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}\n`);
  process.stdout.write(`duration ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${cfg.seed}\n`);
  const clean = mountsUnder(work).length === 0;
  if (cfg.keepWork || !clean || leaked > 0 || lost > 0) process.stdout.write(`work dir kept for inspection: ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
  process.stdout.write(`soak: ${ops} ops, ${faults} faults, ${restarts} restarts, ${leaked} leaked, ${lost} lost\n`);
  return leaked === 0 && lost === 0 && ledger.failed.length === 0 && problems.length === 0 ? 0 : 1;
}

// Ctrl-C: exit through the 'exit' handler that kills the driver process groups.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

if (process.argv.includes('--help')) {
  process.stdout.write(SOAK_HELP);
  process.exit(0);
}
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`soak: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
