/**
 * Background tasks (copies, resyncs, promotes, tunes): each moves `totalMiB` at the configured
 * copy rate. At most `maxConcurrentTasks` progress at once, oldest first; the others stay ACTIVE
 * with no progress, as queued tasks do on the array. Ends (done, cancelled, failed) are reported
 * to the copy logic, which applies the array's semantics to the volumes involved.
 */
import type { SimArray } from './model/array.js';
import { TASK_STATUS, type TaskKind, type TaskRec } from './model/types.js';

export interface TaskEngineConfig {
  copyRateMiBps: number;
  maxConcurrentTasks: number;
  tickMs: number;
}

export interface NewTask {
  kind: TaskKind;
  type: number;
  name: string;
  user: string;
  totalMiB: number;
  priority?: number;
  sourceId?: number;
  destId?: number;
  tune?: TaskRec['tune'];
  saveSnapshot?: boolean;
}

/** How a task ended; the copy logic fixes up volumes for each. */
export type TaskEnd = (task: TaskRec, status: number) => void;

export class TaskEngine {
  private timer?: NodeJS.Timeout;
  private last = Date.now();
  private lastSave = Date.now();
  onEnd: TaskEnd = () => undefined;
  /** Called on task changes worth persisting (start, end, and about once a second of progress). */
  onPersist: () => void = () => undefined;
  /** Fail-injections waiting for tasks not yet started: matched by name pattern. */
  private pendingFailures: { pattern: RegExp; atFraction: number; count: number }[] = [];

  constructor(
    private readonly array: SimArray,
    readonly config: TaskEngineConfig,
  ) {}

  start(n: NewTask): TaskRec {
    const t: TaskRec = {
      id: this.array.state.nextTaskId++,
      kind: n.kind,
      type: n.type,
      name: n.name,
      status: TASK_STATUS.ACTIVE,
      user: n.user,
      startTimeSec: Math.floor(Date.now() / 1000),
      totalMiB: Math.max(0, Math.ceil(n.totalMiB)),
      doneMiB: 0,
    };
    if (n.priority !== undefined) t.priority = n.priority;
    if (n.sourceId !== undefined) t.sourceId = n.sourceId;
    if (n.destId !== undefined) t.destId = n.destId;
    if (n.tune) t.tune = n.tune;
    if (n.saveSnapshot !== undefined) t.saveSnapshot = n.saveSnapshot;
    const failure = this.pendingFailures.find((f) => f.pattern.test(t.name) && f.count > 0);
    if (failure) {
      failure.count--;
      t.failAtFraction = failure.atFraction;
    }
    this.array.state.tasks.push(t);
    for (const id of [t.sourceId, t.destId]) {
      if (id !== undefined) this.array.volumeById(id)?.busyTaskIds.push(t.id);
    }
    this.ensureTimer();
    return t;
  }

  /** Resumes timing after a restart from a state file. */
  resume(): void {
    if (this.active().length > 0) this.ensureTimer();
  }

  active(): TaskRec[] {
    return this.array.state.tasks.filter((t) => t.status === TASK_STATUS.ACTIVE);
  }

  /** Ends a task early: cancel (status 3) or fail (status 4). */
  end(t: TaskRec, status: number): void {
    if (t.status !== TASK_STATUS.ACTIVE) return;
    t.status = status;
    t.finishTimeSec = Math.floor(Date.now() / 1000);
    for (const id of [t.sourceId, t.destId]) {
      const v = id === undefined ? undefined : this.array.volumeById(id);
      if (v) v.busyTaskIds = v.busyTaskIds.filter((x) => x !== t.id);
    }
    this.onEnd(t, status);
    this.array.touch();
    this.onPersist();
  }

  /** Makes the next `count` tasks whose name matches fail when they reach `atFraction`. */
  failFuture(pattern: RegExp, atFraction: number, count: number): void {
    this.pendingFailures.push({ pattern, atFraction, count });
  }

  /** Advances running tasks by the time passed since the last tick. */
  tick(now = Date.now()): void {
    const dt = Math.max(0, now - this.last) / 1000;
    this.last = now;
    const running = this.active()
      .sort((a, b) => a.id - b.id)
      .slice(0, this.config.maxConcurrentTasks);
    for (const t of running) {
      t.doneMiB = Math.min(t.totalMiB, t.doneMiB + this.config.copyRateMiBps * dt);
      const fraction = t.totalMiB === 0 ? 1 : t.doneMiB / t.totalMiB;
      if (t.failAtFraction !== undefined && fraction >= t.failAtFraction) this.end(t, TASK_STATUS.FAILED);
      else if (t.doneMiB >= t.totalMiB) {
        t.status = TASK_STATUS.DONE;
        t.finishTimeSec = Math.floor(now / 1000);
        for (const id of [t.sourceId, t.destId]) {
          const v = id === undefined ? undefined : this.array.volumeById(id);
          if (v) v.busyTaskIds = v.busyTaskIds.filter((x) => x !== t.id);
        }
        this.onEnd(t, TASK_STATUS.DONE);
        this.array.touch();
        this.onPersist();
      }
    }
    if (now - this.lastSave > 1000 && running.length > 0) {
      this.lastSave = now;
      this.onPersist();
    }
    if (this.active().length === 0) this.stopTimer();
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.last = Date.now();
    this.timer = setInterval(() => this.tick(), this.config.tickMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stopTimer();
  }
}

/** Task times as the array prints them: local time and zone, not ISO-8601 (§13.3). */
export function formatTaskTime(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
}

/** The wire form of a task (§13.3). */
export function renderTask(t: TaskRec): Record<string, unknown> {
  const totalSteps = Math.max(1, t.totalMiB);
  const out: Record<string, unknown> = {
    id: t.id,
    type: t.type,
    name: t.name,
    status: t.status,
    completedPhases: t.status === TASK_STATUS.DONE ? 1 : 0,
    totalPhases: 1,
    completedSteps: t.status === TASK_STATUS.DONE ? totalSteps : Math.min(totalSteps, Math.floor(t.doneMiB)),
    totalSteps,
    startTime: formatTaskTime(t.startTimeSec),
    finishTime: t.finishTimeSec === undefined ? '-' : formatTaskTime(t.finishTimeSec),
    user: t.user,
  };
  if (t.priority !== undefined) out['priority'] = t.priority;
  return out;
}
