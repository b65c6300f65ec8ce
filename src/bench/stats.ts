/**
 * Phases and their figures: a phase runs one kind of call over many items at a fixed
 * concurrency (as a sidecar's workers do) and nothing else runs meanwhile, so the simulator's
 * request log and byte counter between its start and end belong to it alone.
 */
import type { RunningSimulator } from '../simulator/index.js';
import type { WireBytes } from './harness.js';

/** What one phase measured. */
export interface PhaseResult {
  /** RPC (or step) name, e.g. "CreateVolume" or "CreateVolume (repeat)". */
  label: string;
  /** Workload it belongs to, e.g. "W1", "W1-20k". */
  workload: string;
  who: 'driver' | 'baseline';
  calls: number;
  errors: number;
  /** First few error messages, for the report. */
  errorSamples: string[];
  /** Per-call latencies, ms, sorted. */
  latencies: number[];
  elapsedSec: number;
  /** WSAPI requests in the phase, logins and the driver's periodic gauge refresh excluded. */
  wsapi: number;
  /** Session logins in the phase. */
  logins: number;
  /** Wire bytes (both directions, headers included). */
  bytes: number;
  /** CPU seconds the driver process used during the phase (user + system). */
  driverCpuSec: number;
  /** Requests by "METHOD /path-template", for checking the baseline against the driver. */
  shapes: Map<string, number>;
}

/** Requests that are not caused by an RPC: logins/logouts and the sessions gauge refresh. */
export function isOverhead(path: string): boolean {
  return path.startsWith('/api/v1/credentials') || path === '/api/v1/wsapiconfiguration';
}

/** A request's shape with names and ids taken out: "DELETE /api/v1/vluns/*". */
export function shapeOf(method: string, path: string, query?: string): string {
  const segs = path.split('/');
  const shaped = segs.map((s, i) => (i > 3 && s !== '' ? '*' : s)).join('/');
  return `${method} ${shaped}${query ? '?query' : ''}`;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** What a pool of workers measured: sorted latencies (ms), error messages, wall time. */
export interface PoolRun {
  latencies: number[];
  errors: string[];
  elapsedSec: number;
}

/** Runs `job` over `items` with `concurrency` in flight; returns latencies and errors. */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  job: (item: T) => Promise<void>,
): Promise<PoolRun> {
  let next = 0;
  const latencies: number[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      const s = performance.now();
      try {
        await job(item);
        latencies.push(performance.now() - s);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return { latencies: latencies.sort((a, b) => a - b), errors, elapsedSec: (performance.now() - t0) / 1000 };
}

/** Reads the simulators' logs and the byte counter around a phase. */
export class Meter {
  constructor(
    private readonly sims: readonly RunningSimulator[],
    private readonly bytes: WireBytes,
    /** Told each phase's result as it ends (progress lines on long runs). */
    private readonly onPhase: (p: PhaseResult) => void = () => undefined,
    /** The driver process's CPU seconds so far. */
    private readonly driverCpu: () => number = () => 0,
  ) {}

  phase<T>(
    workload: string,
    label: string,
    who: 'driver' | 'baseline',
    items: readonly T[],
    concurrency: number,
    job: (item: T) => Promise<void>,
  ): Promise<PhaseResult> {
    return this.measure(workload, label, who, items.length, () => runPool(items, concurrency, job));
  }

  /** Measures a phase whose calls `run` makes (here or in the baseline's worker thread). */
  async measure(
    workload: string,
    label: string,
    who: 'driver' | 'baseline',
    calls: number,
    run: () => Promise<PoolRun>,
  ): Promise<PhaseResult> {
    const marks = this.sims.map((s) => s.requests.length);
    const b0 = this.bytes.total;
    const cpu0 = this.driverCpu();
    const pool = await run();
    const result: PhaseResult = {
      label,
      workload,
      who,
      calls,
      errors: pool.errors.length,
      errorSamples: [...new Set(pool.errors)].slice(0, 3),
      latencies: pool.latencies,
      elapsedSec: pool.elapsedSec,
      wsapi: 0,
      logins: 0,
      bytes: this.bytes.total - b0,
      driverCpuSec: this.driverCpu() - cpu0,
      shapes: new Map(),
    };
    this.sims.forEach((s, i) => {
      for (const r of s.requests.slice(marks[i])) {
        if (r.method === 'POST' && r.path === '/api/v1/credentials') result.logins++;
        if (isOverhead(r.path)) continue;
        result.wsapi++;
        const shape = shapeOf(r.method, r.path, r.query);
        result.shapes.set(shape, (result.shapes.get(shape) ?? 0) + 1);
      }
    });
    this.onPhase(result);
    return result;
  }
}

/** Differences between two phases' request shapes ("" when the same). */
export function shapeDiff(a: PhaseResult, b: PhaseResult): string {
  const keys = new Set([...a.shapes.keys(), ...b.shapes.keys()]);
  const out: string[] = [];
  for (const k of [...keys].sort()) {
    const x = a.shapes.get(k) ?? 0;
    const y = b.shapes.get(k) ?? 0;
    if (x !== y) out.push(`${k}: ${x} vs ${y}`);
  }
  return out.join('; ');
}
