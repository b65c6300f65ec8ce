/**
 * `npm run bench:floor`: the CPU floor of the stack the driver is built on (issue #21). Each layer
 * is a gRPC server process (src/bench/floor-server.ts) whose CreateVolume adds one part of the
 * driver's stack to the layer below — grpc-js alone, + R requests through bare node:http, + the
 * driver's got layer instead, + WsapiClient instead — and the last is `3par-csi serve` itself
 * against the embedded simulator. The figure is each server process's CPU (user + system) per
 * call, read around every round (process.cpuUsage in that process; /proc's per-thread run times
 * for the driver), while this process calls it through CsiClient at the sidecars' concurrency.
 * The array (src/bench/http-server.ts, the simulator for the driver) answers each request after
 * L ms and closes the connection, as the array does. Warm-up calls come first, against an array
 * answering at once (the first few thousand calls cost up to 1.5–3× while the JIT and the heap
 * settle); then the layers take turns round by round, so load from elsewhere on the machine hits
 * each alike. BENCH_FLOOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the layers' servers.
 *
 *   npm run bench:floor -- [--requests-per-call 1] [--latency-ms 10] [--calls 1000] [--rounds 5]
 *                          [--warmup 3000] [--concurrency 32] [--layers grpc,got] [--json]   (--help)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../cli/flags.js';
import { CsiClient } from '../csi/client.js';
import {
  FLOOR_HELP,
  parseFloorArgs,
  type BareLayer,
  type FloorOptions,
  type FloorServerConfig,
  type Layer,
  type TlsBenchOptions,
} from './floor-options.js';
import { procSample, startDriverProcess, startSims, type DriverProcess, type Sims } from './harness.js';
import { isOverhead } from './stats.js';

/** A layer under test: its client, its process's CPU so far, and (driver) the array's request count. */
interface Target {
  layer: Layer;
  client: CsiClient;
  cpuMs(): Promise<number>;
  /** WSAPI requests the array served so far, logins excluded (driver only). */
  wsapi?(): number;
  /** Sets the array's service time per request, ms; resolves once it is in force. */
  setLatency(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** One layer's figures over the measured rounds. */
interface LayerResult {
  cpuMsPerCall: { median: number; min: number };
  wallMsPerCall: number;
  /** Median CPU over the median of the layer listed before it, ms per call. */
  overPreviousMs?: number;
  /** WSAPI requests per call the array saw (driver only). */
  wsapiPerCall?: number;
  samples: number[];
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** Resolves with the first IPC message of `child` that `pick` accepts (undefined: keep waiting). */
function message<T>(child: ChildProcess, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      const v = pick(m);
      if (v === undefined) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(v);
    };
    const onExit = (code: number | null): void => reject(new Error(`bench:floor: a child exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

interface ArrayServer {
  child: ChildProcess;
  base: string;
  caCert?: string;
  setLatency(ms: number): Promise<void>;
}

/** The array of the bare layers (src/bench/http-server.ts) in its own process; its base URL. */
async function startArray(latencyMs: number, t: TlsBenchOptions): Promise<ArrayServer> {
  const tlsArgs = t.https ? ['--https', `--tls-max-version=${t.tlsMaxVersion}`] : [];
  if (t.https && !t.tlsResumption) tlsArgs.push('--tls-no-resumption');
  const child = fork(here('./http-server.js'), [`--latency-ms=${latencyMs}`, ...tlsArgs], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const hello = await message(child, (m) =>
    (m as { port?: number }).port !== undefined ? (m as { port: number; caCert?: string }) : undefined,
  );
  const setLatency = async (ms: number): Promise<void> => {
    const done = message(child, (m) => ((m as { latencyMs?: number }).latencyMs === ms ? true : undefined));
    child.send({ latencyMs: ms });
    await done;
  };
  const base = `${t.https ? 'https' : 'http'}://127.0.0.1:${hello.port}`;
  return { child, base, ...(hello.caCert !== undefined && { caCert: hello.caCert }), setLatency };
}

/** A floor server process for `layer`, serving on a socket in `workDir`. */
async function startLayer(
  layer: BareLayer,
  workDir: string,
  array: ArrayServer | undefined,
  o: FloorOptions,
): Promise<Target> {
  const socket = join(workDir, `${layer}.sock`);
  const config: FloorServerConfig = {
    layer,
    socket,
    base: array?.base ?? 'http://127.0.0.1:1',
    requestsPerCall: o.requestsPerCall,
    maxInFlight: o.maxInFlight,
    ...(array?.caCert !== undefined && { caCert: array.caCert }),
  };
  // BENCH_FLOOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles each layer's server
  // (BENCH_DRIVER_NODE_ARGS the driver's, src/bench/harness.ts).
  const execArgv = (process.env['BENCH_FLOOR_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
  const child = fork(here('./floor-server.js'), [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  await message(child, (m) => (m === 'ready' ? true : undefined));
  const client = new CsiClient(`unix://${socket}`);
  return {
    layer,
    client,
    cpuMs: () => {
      const answer = message(child, (m) => (m as { cpuMs?: number }).cpuMs);
      child.send('cpu');
      return answer;
    },
    setLatency: async (ms) => array?.setLatency(ms),
    stop: async () => {
      client.close();
      child.disconnect();
    },
  };
}

/**
 * CPU ms process `pid` has used so far: its threads' run times in ns (/proc/PID/task/TID/schedstat;
 * Node's threads live as long as the process, so none is lost), or /proc/PID/stat's 10 ms ticks
 * where schedstat is missing.
 */
function processCpuMs(pid: number | undefined): number {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    const ns = tasks.reduce(
      (sum, t) => sum + Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]),
      0,
    );
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6;
  } catch {
    // No schedstat here (or a thread ended while being read): the coarse figure.
  }
  return procSample(pid).cpuSec * 1000;
}

/** `3par-csi serve` against the simulator with the latency model. */
async function startDriver(workDir: string, o: FloorOptions): Promise<Target> {
  let sims: Sims | undefined;
  let driver: DriverProcess | undefined;
  try {
    const tls = { https: o.https, tlsResumption: o.tlsResumption, tlsMaxVersion: o.tlsMaxVersion };
    sims = await startSims(workDir, { latencyMs: o.latencyMs, perMemberUs: 0, ...tls });
    driver = await startDriverProcess(workDir, sims, { node: false, sessionPoolSize: 4, maxInFlight: o.maxInFlight });
  } catch (err) {
    await Promise.all([sims?.plain.close(), sims?.data.close(), sims?.base.close()]);
    throw err;
  }
  const [d, s] = [driver, sims];
  const requests = s.plain.requests;
  return {
    layer: 'driver',
    client: d.client,
    cpuMs: () => Promise.resolve(processCpuMs(d.child.pid)),
    wsapi: () => requests.filter((r) => !isOverhead(r.path)).length,
    setLatency: async (ms) => s.plain.faults.set({ latencyMs: ms }),
    stop: async () => {
      await d.stop();
      await Promise.all([s.plain.close(), s.data.close(), s.base.close()]);
    },
  };
}

let sequence = 0;
/** A CreateVolume request; each has a name of its own (the driver would answer a repeat from the array's state). */
function createRequest(): Record<string, unknown> {
  return {
    name: `floor-pvc-${sequence++}`,
    capacity_range: { required_bytes: String(1 << 30) },
    volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
    parameters: {},
  };
}

/** `n` CreateVolume calls, `concurrency` at a time; the wall time in ms. */
async function run(client: CsiClient, n: number, concurrency: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      await client.call('CreateVolume', createRequest());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return performance.now() - t0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Warm-up, then the measured rounds with the layers taking turns; the figures per layer. */
async function measure(targets: readonly Target[], o: FloorOptions): Promise<Map<Layer, LayerResult>> {
  // The warm-up runs against an array answering at once: the JIT and the heap settle by calls, not
  // by time, and a sparse run (L = 150 ms) would otherwise wait minutes for it.
  for (const t of targets) {
    await t.setLatency(0);
    await run(t.client, o.warmup, o.concurrency);
    await t.setLatency(o.latencyMs);
  }
  const cpu = new Map<Layer, number[]>(targets.map((t) => [t.layer, []]));
  const wall = new Map<Layer, number[]>(targets.map((t) => [t.layer, []]));
  const wsapi = new Map<Layer, number>();
  for (let r = 0; r < o.rounds; r++) {
    for (const t of targets) {
      const [c0, w0] = [await t.cpuMs(), t.wsapi?.()];
      const ms = await run(t.client, o.calls, o.concurrency);
      const [c1, w1] = [await t.cpuMs(), t.wsapi?.()];
      cpu.get(t.layer)!.push((c1 - c0) / o.calls);
      wall.get(t.layer)!.push(ms / o.calls);
      if (w0 !== undefined && w1 !== undefined) wsapi.set(t.layer, (wsapi.get(t.layer) ?? 0) + w1 - w0);
    }
  }
  const out = new Map<Layer, LayerResult>();
  let previous: number | undefined;
  for (const t of targets) {
    const samples = cpu.get(t.layer)!;
    const m = median(samples);
    const w = wsapi.get(t.layer);
    out.set(t.layer, {
      cpuMsPerCall: { median: round3(m), min: round3(Math.min(...samples)) },
      wallMsPerCall: round3(median(wall.get(t.layer)!)),
      ...(previous !== undefined && { overPreviousMs: round3(m - previous) }),
      ...(w !== undefined && { wsapiPerCall: round3(w / (o.rounds * o.calls)) }),
      samples: samples.map(round3),
    });
    previous = m;
  }
  return out;
}

/** The table: one row per layer, bottom up. */
function formatTable(o: FloorOptions, results: Map<Layer, LayerResult>, load: number[]): string {
  const head =
    `server CPU per CreateVolume: R=${o.requestsPerCall} WSAPI requests per call, array latency ${o.latencyMs} ms, ` +
    (o.https ? `HTTPS (TLS ≤ ${o.tlsMaxVersion}, resumption ${o.tlsResumption ? 'on' : 'refused'}), ` : '') +
    `concurrency ${o.concurrency}, in-flight cap ${o.maxInFlight}; ${o.rounds} rounds of ${o.calls} calls ` +
    `after ${o.warmup} warm-up calls per layer; node ${process.version}, load ${load.map((l) => l.toFixed(2)).join(' ')}\n`;
  const cols = ['layer', 'CPU median', 'CPU min', 'over previous', 'wall/call'];
  const rows = [...results].map(([layer, r]) => [
    layer + (r.wsapiPerCall !== undefined ? ` (${r.wsapiPerCall} WSAPI/call)` : ''),
    `${r.cpuMsPerCall.median.toFixed(3)} ms`,
    `${r.cpuMsPerCall.min.toFixed(3)} ms`,
    r.overPreviousMs !== undefined ? `${r.overPreviousMs >= 0 ? '+' : ''}${r.overPreviousMs.toFixed(3)} ms` : '',
    `${r.wallMsPerCall.toFixed(3)} ms`,
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ') + '\n';
  return head + line(cols) + rows.map(line).join('');
}

/** Starts the layers `o` names (the array first when a bare layer needs it). */
async function startTargets(o: FloorOptions, workDir: string, started: Target[]): Promise<ChildProcess | undefined> {
  const bare = o.layers.filter((l): l is BareLayer => l !== 'driver');
  const array = bare.some((l) => l !== 'grpc') ? await startArray(o.latencyMs, o) : undefined;
  for (const layer of bare) started.push(await startLayer(layer, workDir, array, o));
  if (o.layers.includes('driver')) started.push(await startDriver(workDir, o));
  return array?.child;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    process.stdout.write(FLOOR_HELP);
    return 0;
  }
  const o = parseFloorArgs(argv);
  const workDir = mkdtempSync(join(tmpdir(), '3par-floor-'));
  const targets: Target[] = [];
  let array: ChildProcess | undefined;
  const load = loadavg();
  try {
    array = await startTargets(o, workDir, targets);
    const results = await measure(targets, o);
    const table = formatTable(o, results, load);
    if (!o.json) process.stdout.write(table);
    else {
      process.stderr.write(table);
      const { layers: _names, json: _json, ...settings } = o;
      const layers = Object.fromEntries(results);
      process.stdout.write(JSON.stringify({ ...settings, node: process.version, loadavg: load, layers }) + '\n');
    }
    return 0;
  } finally {
    for (const t of targets) await t.stop();
    array?.disconnect();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:floor: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench:floor failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
