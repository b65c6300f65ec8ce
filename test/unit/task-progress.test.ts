/**
 * Array task progress (issue 19, item 10): start, every 10% and the end of each copy or tune task
 * logged once with its id; the threepar_csi_array_tasks gauge by backend, type and state; build
 * info and unprefixed process metrics; level names in JSON logs.
 */
import { describe, expect, it } from '@jest/globals';
import { Metrics } from '../../src/metrics.js';
import { ENDED_TASK_RETENTION_MS, TaskProgress } from '../../src/array/task-progress.js';
import { TaskStatus } from '../../src/wsapi/enums.js';
import { VERSION } from '../../src/version.js';
import { captureLog } from '../helpers/logs.js';
import { Backend } from '../../src/array/backend.js';
import type { ArrayClient } from '../../src/array/client.js';
import type { BackendConfig } from '../../src/config/backends.js';

describe('TaskProgress', () => {
  it('logs the start, each 10% step once and the end, with the task id; counts tasks by state', async () => {
    const cap = captureLog('info');
    const metrics = new Metrics({ processMetrics: false });
    let now = 1_000;
    const p = new TaskProgress('prod1', metrics, () => now);
    const poll = (completed: number, status: number = TaskStatus.ACTIVE) =>
      p.observe('copy', 'csv-abc', { id: 42, status, completedSteps: completed, totalSteps: 200 }, cap.log);
    for (const c of [0, 5, 19, 20, 21, 60, 61, 130, 199]) poll(c);
    p.observe('tune', 'csv-def', { id: 43, status: TaskStatus.ACTIVE }, cap.log);
    const gauge = async () =>
      (await metrics.registry.getSingleMetric('threepar_csi_array_tasks')!.get()).values
        .map((v) => `${v.labels['backend']}/${v.labels['type']}/${v.labels['state']}=${v.value}`)
        .sort();
    expect(await gauge()).toEqual(['prod1/copy/active=1', 'prod1/tune/active=1']);
    poll(200, TaskStatus.DONE);
    poll(200, TaskStatus.DONE);
    p.observe('tune', 'csv-def', { id: 43, status: TaskStatus.FAILED }, cap.log);
    const lines = cap
      .lines()
      .map((l) => JSON.parse(l) as { msg: string; task: number; pct?: number; state?: string; level: string });
    const copy = lines
      .filter((l) => l.task === 42)
      .map((l) => `${l.msg}${l.pct !== undefined ? ` ${l.pct}` : ''}${l.state ? ` ${l.state}` : ''}`);
    expect(copy).toEqual([
      'array task followed 0',
      'array task progress 10',
      'array task progress 30',
      'array task progress 65',
      'array task progress 99',
      'array task ended done',
    ]);
    expect(lines.filter((l) => l.task === 43).map((l) => [l.msg, l.level])).toEqual([
      ['array task followed', 'info'],
      ['array task ended', 'warn'],
    ]);
    expect(await gauge()).toEqual(['prod1/copy/done=1', 'prod1/tune/failed=1']);
    now += ENDED_TASK_RETENTION_MS + 1;
    expect(await gauge()).toEqual([]);
  });
});

describe('process-wide metrics', () => {
  it('a build-info metric, and process metrics under their standard names', async () => {
    const metrics = new Metrics();
    const text = await metrics.registry.metrics();
    expect(text).toContain(`threepar_csi_build_info{version="${VERSION}",node_version="${process.version}"} 1`);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).not.toMatch(/threepar_csi_process_|threepar_csi_nodejs_/);
  });
});

describe('JSON logs', () => {
  it('name the level instead of pino’s number', () => {
    const cap = captureLog('info');
    cap.log.warn('something to look at');
    expect(JSON.parse(cap.lines().at(-1)!)).toMatchObject({ level: 'warn', msg: 'something to look at' });
  });
});

describe('a backend created again', () => {
  it('replaces its predecessor in the array-tasks gauge: no source per re-creation, no old tasks reported', async () => {
    const cap = captureLog('info');
    const metrics = new Metrics({ processMetrics: false });
    const client = { close: () => Promise.resolve() } as unknown as ArrayClient;
    const config: BackendConfig = { id: 'prod1', url: 'https://array.invalid', username: 'u', password: 'p' };
    const gauge = async () =>
      (await metrics.registry.getSingleMetric('threepar_csi_array_tasks')!.get()).values.map(
        (v) => `${v.labels['backend']}/${v.labels['type']}/${v.labels['state']}=${v.value}`,
      );
    const types = ['copy', 'tune', 'copy'] as const;
    for (const [round, type] of types.entries()) {
      // As a new BackendRegistry over the same Metrics does (a driver started again in one process).
      const backend = new Backend(config, client, cap.log, metrics);
      backend.tasks.observe(type, `csv-${round}`, { id: round, status: TaskStatus.ACTIVE }, cap.log);
      expect(await gauge()).toEqual([`prod1/${type}/active=1`]);
    }
    expect(metrics.taskSources.size).toBe(1);
  });
});
