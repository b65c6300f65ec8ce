/**
 * The soak's chaos: random array faults through the simulator's FaultController, and SIGKILLs of
 * driver processes at random moments (each restarted at once, as a container runtime would).
 */
import type { FaultController, FaultSpec } from '../simulator/index.js';
import type { DriverProcess } from './processes.js';
import type { Prng } from './prng.js';
import { sleep } from './sidecar.js';

/** Requests that change the array: where a dropped connection or an error hurts most. */
const CHANGES: { method: string; path: string }[] = [
  { method: 'POST', path: '^/api/v1/volumes$' },
  { method: 'POST', path: '^/api/v1/volumes/[^/]+$' },
  { method: 'PUT', path: '^/api/v1/volumes/[^/]+$' },
  { method: 'DELETE', path: '^/api/v1/volumes/[^/]+$' },
  { method: 'POST', path: '^/api/v1/vluns$' },
  { method: 'DELETE', path: '^/api/v1/vluns/' },
  { method: 'POST', path: '^/api/v1/hosts$' },
  { method: 'DELETE', path: '^/api/v1/hosts/' },
];
const READS: { method: string; path: string }[] = [
  { method: 'GET', path: '^/api/v1/volumes' },
  { method: 'GET', path: '^/api/v1/vluns' },
  { method: 'GET', path: '^/api/v1/hosts' },
  { method: 'GET', path: '^/api/v1/tasks' },
];

export interface ChaosOptions {
  /** Mean milliseconds between array faults (0: none). */
  faultEveryMs: number;
  /** Milliseconds between SIGKILLs: [min, max] (undefined: none). */
  killEveryMs: [number, number] | undefined;
}

export class Chaos {
  faults = 0;
  restarts = 0;
  readonly byKind = new Map<string, number>();
  readonly restartErrors: string[] = [];
  private stopped = true;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly array: FaultController,
    private readonly rng: Prng,
    private readonly kinds: { hang?: boolean } = {},
  ) {}

  /** Runs both loops until stop(). */
  start(processes: () => DriverProcess[], options: ChaosOptions): void {
    this.stopped = false;
    this.loops = [];
    if (options.faultEveryMs > 0) this.loops.push(this.faultLoop(options.faultEveryMs));
    if (options.killEveryMs) this.loops.push(this.killLoop(processes, options.killEveryMs));
  }

  /** Stops injecting, clears pending faults, and restarts any process left down. */
  async stop(processes: DriverProcess[]): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.array.clear();
    for (const p of processes) if (!p.running) await p.start();
  }

  /** Records a fault injected outside the loop (e.g. a copy task made to fail). */
  count(kind: string): void {
    this.faults++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }

  private async faultLoop(meanMs: number): Promise<void> {
    while (!this.stopped) {
      await sleep(meanMs / 2 + this.rng.next() * meanMs);
      if (this.stopped) break;
      const [kind, spec] = this.randomFault();
      this.array.add(spec);
      this.count(kind);
    }
  }

  private randomFault(): [string, FaultSpec] {
    const r = this.rng;
    const change = r.pick(CHANGES);
    // With --hang, one fault in nine makes the array stop answering for 0.5-4 s (past the
    // driver's first-byte limit at times); the held requests are served when it ends.
    if (this.kinds.hang && r.int(0, 8) === 0) return ['hang', { type: 'hang', ms: r.int(500, 4000) }];
    switch (r.int(0, 7)) {
      case 0:
        return ['latency', { type: 'latency', ms: r.int(200, 3000), count: r.int(1, 6) }];
      case 1:
        return ['503', { type: 'error', status: 503, code: r.pick([31, 270]), count: r.int(1, 3) }];
      case 2:
        return ['error on a change', { type: 'error', status: 500, code: 1, match: change, count: 1 }];
      case 3:
        return ['drop before a change', { type: 'drop', when: 'before', match: change, count: 1 }];
      case 4:
        return ['drop after a change', { type: 'drop', when: 'after', match: change, count: 1 }];
      case 5:
        return ['sessions expired', { type: 'expireSessions' }];
      case 6:
        return [
          'truncated list',
          { type: 'truncate', match: { method: 'GET', path: '^/api/v1/(volumes|vluns)$' }, count: 1 },
        ];
      default:
        return [
          'drop on a read',
          { type: 'drop', when: r.chance(0.5) ? 'before' : 'after', match: r.pick(READS), count: 1 },
        ];
    }
  }

  private async killLoop(processes: () => DriverProcess[], [min, max]: [number, number]): Promise<void> {
    while (!this.stopped) {
      await sleep(this.rng.int(min, max));
      if (this.stopped) break;
      const live = processes().filter((p) => p.running);
      if (live.length === 0) continue;
      const victim = this.rng.pick(live);
      await victim.kill();
      // Down for a moment, as while a container restarts.
      await sleep(this.rng.int(0, 1500));
      try {
        await victim.start();
        this.restarts++;
      } catch (err) {
        this.restartErrors.push((err as Error).message);
      }
    }
  }
}
