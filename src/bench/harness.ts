/**
 * The benchmark's fixtures: the simulators (in this process, so their request logs and object
 * models can be read exactly), the driver in a child process (so its RSS, CPU and start-up are
 * its own), a wire-byte counter on the simulators' HTTP servers, and /proc readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsiClient } from '../csi/client.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../simulator/index.js';
import { sleep } from '../util/abort.js';

/** Driver name and cluster id the benchmark's driver runs with. */
export const BENCH_DRIVER = 'csi.bench.3par.example.com';
export const BENCH_CLUSTER = 'bench';
/** Backend ids: the plain array (W1, W2, W4) and the one with a data plane (W3, node). */
export const PLAIN = 'bench';
export const DATA = 'data';
/** The CPG every benchmark volume lives in (one of the simulator's defaults). */
export const CPG = 'SSD_r6';

/**
 * Bytes on the wire (request and response, headers included) of every HTTP exchange the
 * simulators in this process serve. Each exchange has its own connection (the array closes it),
 * so the socket's counters at `finish` are exactly that exchange's bytes.
 */
export class WireBytes {
  total = 0;
  private readonly onFinish = (message: unknown): void => {
    const m = message as { request: IncomingMessage; response: ServerResponse };
    const s = m.response.socket ?? m.request.socket;
    if (s) this.total += s.bytesRead + s.bytesWritten;
  };

  constructor() {
    diagnostics.subscribe('http.server.response.finish', this.onFinish);
  }

  close(): void {
    diagnostics.unsubscribe('http.server.response.finish', this.onFinish);
  }
}

/** CPU seconds (user + system) and RSS figures of a process, from /proc (Linux only). */
export interface ProcSample {
  cpuSec: number;
  rssMiB: number;
  /** Peak RSS since the process started (VmHWM). */
  hwmMiB: number;
}

export function procSample(pid: number | undefined): ProcSample {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      cpuSec: (Number(stat[11]) + Number(stat[12])) / 100,
      rssMiB: kb('VmRSS') / 1024,
      hwmMiB: kb('VmHWM') / 1024,
    };
  } catch {
    return { cpuSec: 0, rssMiB: 0, hwmMiB: 0 };
  }
}

export interface Sims {
  plain: RunningSimulator;
  data: RunningSimulator;
  /**
   * The baseline's own array, in the same state as `plain` at each step: the driver's and the
   * baseline's VLUN lists then hold the same number of exports (a shared array would make one
   * side list the other's exports too).
   */
  base: RunningSimulator;
  dataDir: string;
}

/**
 * The simulators' firmware profile: BENCH_SIM_PROFILE (e.g. `3.2.2`, whose VLUN queries the
 * driver's publish uses), default 3.1.3 MU1 (WSAPI 1.3: every VLUN lookup is a full list).
 */
export function benchProfile(): string {
  return process.env['BENCH_SIM_PROFILE'] ?? '3.1.3 MU1';
}

/** Starts the simulators on loopback with the latency model. */
export async function startSims(
  workDir: string,
  model: Pick<SimulatorOptions, 'latencyMs' | 'perMemberUs' | 'https' | 'tlsResumption' | 'tlsMaxVersion'>,
): Promise<Sims> {
  const dataDir = join(workDir, 'sim-data');
  // Room for the 20,000 VLUNs' volumes, W2 and W4's 10,000 volumes (thin, so only the used share counts).
  const cpgs = [{ name: CPG, sizeMiB: 1024 * 1024 * 1024 }];
  const common = { ...model, cpgs, sessionLimit: 64, maxConcurrentTasks: 64, profile: benchProfile() };
  const plain = await startSimulator(common);
  const data = await startSimulator({ ...common, dataDir });
  const base = await startSimulator(common);
  return { plain, data, base, dataDir };
}

export interface DriverProcess {
  child: ChildProcess;
  endpoint: string;
  client: CsiClient;
  /** Spawn to the first successful Probe, ms. */
  startupMs: number;
  /** Where the driver's log goes. */
  logFile: string;
  stop(): Promise<void>;
}

/** An HTTPS simulator's certificate, for its backend entry (the driver verifies it as an array's). */
const ca = (sim: RunningSimulator): { caCert?: string } => (sim.caCert !== undefined ? { caCert: sim.caCert } : {});

/** Writes the driver's backends file into `workDir`: both simulators, with the bench's session limits; its path. */
function writeBackends(workDir: string, sims: Sims, opts: { sessionPoolSize: number; maxInFlight: number }): string {
  const backendsFile = join(workDir, 'backends.json');
  const common = {
    username: sims.plain.username,
    password: sims.plain.password,
    defaultCpg: CPG,
    sessionPoolSize: opts.sessionPoolSize,
    maxInFlight: opts.maxInFlight,
  };
  writeFileSync(
    backendsFile,
    JSON.stringify([
      { id: PLAIN, url: sims.plain.url, default: true, defaultAccessProtocol: 'iscsi', ...common, ...ca(sims.plain) },
      { id: DATA, url: sims.data.url, defaultAccessProtocol: 'loop', ...common, ...ca(sims.data) },
    ]),
  );
  return backendsFile;
}

/** The `3par-csi serve` command line (after node's own flags); with `node`, the node plugin's flags too. */
function serveArgs(workDir: string, sims: Sims, sock: string, backendsFile: string, node: boolean): string[] {
  const kubeletDir = join(workDir, 'kubelet');
  mkdirSync(kubeletDir, { recursive: true });
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const args = [
    main,
    'serve',
    '--mode',
    node ? 'all' : 'controller',
    '--endpoint',
    `unix://${sock}`,
    '--driver-name',
    BENCH_DRIVER,
    '--cluster-id',
    BENCH_CLUSTER,
    '--backends',
    backendsFile,
    '--log-format',
    'json',
    '--log-level',
    'info',
    '--shutdown-grace',
    '5',
  ];
  if (node)
    args.push(
      '--node-name',
      'bench-node',
      '--kubelet-dir',
      kubeletDir,
      '--sim-data-dir',
      sims.dataDir,
      '--backend-ids',
      DATA,
      '--host-exec',
      'direct',
    );
  return args;
}

/**
 * Probes the driver at `sock` until it answers ready; the client that got the answer. Throws when
 * the driver exits first or 30 s after `t0`.
 */
async function waitForProbe(sock: string, t0: number, logFile: string, exited: () => boolean): Promise<CsiClient> {
  // A fresh client per attempt: grpc-js backs off for a second after a failed connect.
  for (;;) {
    if (exited()) throw new Error(`the driver exited during start-up; see ${logFile}`);
    if (performance.now() - t0 > 30_000) throw new Error(`the driver did not answer Probe within 30 s; see ${logFile}`);
    if (existsSync(sock)) {
      const c = new CsiClient(`unix://${sock}`);
      try {
        const r = await c.call<{ ready: { value: boolean } | null }>('Probe', {}, { timeoutMs: 1000 });
        if (r.ready?.value !== false) return c;
      } catch {
        // Not serving yet.
      }
      c.close();
    }
    await sleep(2);
  }
}

/**
 * Starts `3par-csi serve` in its own process against both simulators and waits for the first
 * successful Probe. The node plugin is served too when `node` (root only: it needs loop devices).
 */
export async function startDriverProcess(
  workDir: string,
  sims: Sims,
  opts: { node: boolean; sessionPoolSize: number; maxInFlight: number },
): Promise<DriverProcess> {
  const backendsFile = writeBackends(workDir, sims, opts);
  const sock = join(workDir, 'csi.sock');
  const args = serveArgs(workDir, sims, sock, backendsFile, opts.node);
  const logFile = join(workDir, 'driver.log');
  const logFd = openSync(logFile, 'a');
  const t0 = performance.now();
  // BENCH_DRIVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the driver process.
  const nodeArgs = (process.env['BENCH_DRIVER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited = false;
  child.on('exit', () => (exited = true));
  // However this process ends (an exception, a closed stdout), the driver does not outlive it.
  const reap = (): void => void (exited || child.kill('SIGKILL'));
  process.once('exit', reap);
  const client = await waitForProbe(sock, t0, logFile, () => exited);
  const startupMs = performance.now() - t0;
  return {
    child,
    endpoint: `unix://${sock}`,
    client,
    startupMs,
    logFile,
    async stop() {
      client.close();
      if (exited) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([done, sleep(10_000)]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}
