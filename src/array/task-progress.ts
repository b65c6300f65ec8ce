import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { TaskStatus } from '../wsapi/enums.js';

/** How long an ended task stays in the `threepar_csi_array_tasks` gauge under its final state. */
export const ENDED_TASK_RETENTION_MS = 10 * 60_000;

/** What the driver waits for on the array: an online physical copy, or a volume tune. */
export type ArrayTaskType = 'copy' | 'tune';

/** The fields of a WSAPI task the progress reporting reads. */
export interface ObservedTask {
  id: number;
  status?: number;
  completedSteps?: number;
  totalSteps?: number;
}

interface Followed {
  type: ArrayTaskType;
  subject: string;
  state: 'active' | 'done' | 'failed' | 'cancelled';
  /** Last 10% step logged (0–10). */
  decile: number;
  endedAt?: number;
}

/**
 * The array tasks one backend's waits follow (each poll calls `observe`): logs the start, every
 * 10% of progress and the end of each task with its id, and counts them for the
 * `threepar_csi_array_tasks` gauge. Tasks are keyed by id, so two waits on one task (a retried
 * call beside the first) log each step once.
 */
export class TaskProgress {
  private readonly tasks = new Map<number, Followed>();

  /** Fills the gauge for `backendId`, in place of an earlier TaskProgress of that backend (a backend created again). */
  constructor(
    private readonly backendId: string,
    metrics?: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    metrics?.taskSources.set(backendId, () => this.counts());
  }

  /** Records one poll's view of a task; `subject` is the volume it works on. */
  observe(type: ArrayTaskType, subject: string, task: ObservedTask, log: Logger): void {
    const pct = task.totalSteps
      ? Math.min(100, Math.floor(((task.completedSteps ?? 0) * 100) / task.totalSteps))
      : undefined;
    const state = stateOf(task.status);
    let f = this.tasks.get(task.id);
    if (!f) {
      f = { type, subject, state: 'active', decile: Math.floor((pct ?? 0) / 10) };
      this.tasks.set(task.id, f);
      log.info({ backend: this.backendId, task: task.id, type, volume: subject, pct }, 'array task followed');
    }
    if (f.state !== 'active') return;
    const decile = Math.floor((pct ?? 0) / 10);
    if (state === 'active' && decile > f.decile) {
      f.decile = decile;
      log.info({ backend: this.backendId, task: task.id, type, volume: subject, pct }, 'array task progress');
    }
    if (state !== 'active') {
      f.state = state;
      f.endedAt = this.now();
      const entry = { backend: this.backendId, task: task.id, type, volume: subject, state };
      if (state === 'done') log.info(entry, 'array task ended');
      else log.warn(entry, 'array task ended');
    }
  }

  /** Tasks by type and state, ended ones for ENDED_TASK_RETENTION_MS. */
  counts(): { backend: string; type: string; state: string; count: number }[] {
    const now = this.now();
    const by = new Map<string, number>();
    for (const [id, f] of this.tasks) {
      if (f.endedAt !== undefined && now - f.endedAt > ENDED_TASK_RETENTION_MS) {
        this.tasks.delete(id);
        continue;
      }
      const key = `${f.type}\u0000${f.state}`;
      by.set(key, (by.get(key) ?? 0) + 1);
    }
    return [...by].map(([key, count]) => {
      const [type, state] = key.split('\u0000') as [string, string];
      return { backend: this.backendId, type, state, count };
    });
  }
}

function stateOf(status: number | undefined): Followed['state'] {
  if (status === TaskStatus.DONE) return 'done';
  if (status === TaskStatus.CANCELLED) return 'cancelled';
  if (status === TaskStatus.FAILED) return 'failed';
  return 'active';
}
