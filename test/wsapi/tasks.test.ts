import { describe, expect, it } from '@jest/globals';
import { TaskStatus, WsapiAbortedError, WsapiTaskError, type Task } from '../../src/wsapi/index.js';
import { apiRequests, clientsOnFakes, reply, type ClientOnFake } from './fake-array.js';

const onFake = clientsOnFakes();

/** A task that is ACTIVE for `activePolls` polls, then ends with `final`; answers wait for `gate`. */
async function setup(
  activePolls: number,
  final: number,
  gate: Promise<void> = Promise.resolve(),
): Promise<ClientOnFake> {
  let polls = 0;
  return onFake((req, res) => {
    const status = polls++ < activePolls ? TaskStatus.ACTIVE : final;
    void gate.then(() =>
      reply(res, 200, { id: 7, type: 18, name: 'dst', status, completedSteps: polls, totalSteps: activePolls + 1 }),
    );
  });
}

describe('waitForTask', () => {
  it('polls until DONE, reporting progress', async () => {
    const { fake, c } = await setup(3, TaskStatus.DONE);
    const seen: Task[] = [];
    const task = await c.waitForTask(7, { intervalMs: 10, timeoutMs: 5000, onProgress: (t) => seen.push(t) });
    expect(task.status).toBe(TaskStatus.DONE);
    expect(seen.map((t) => t.status)).toEqual([2, 2, 2, 1]);
    expect(apiRequests(fake).map((r) => r.url)).toEqual(Array(4).fill('/api/v1/tasks/7'));
  });

  it.each([
    [TaskStatus.FAILED, 'failed'],
    [TaskStatus.CANCELLED, 'cancelled'],
  ])('throws a task error when the task ends with status %d', async (status, reason) => {
    const { c } = await setup(1, status);
    const err = await c.waitForTask(7, { intervalMs: 10, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiTaskError);
    expect(err).toMatchObject({ reason, taskId: 7, task: { status } });
  });

  it('times out, with the last state seen', async () => {
    // ACTIVE for 1000 polls: only the timeout can end this wait.
    const { c } = await setup(1000, TaskStatus.DONE);
    const err = await c.waitForTask(7, { intervalMs: 20, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiTaskError);
    expect(err).toMatchObject({ reason: 'timeout', task: { status: TaskStatus.ACTIVE } });
  });

  it('times out even while a poll hangs', async () => {
    // The poll gets no answer until the waiter has given up.
    let answer!: () => void;
    const { c } = await setup(1000, TaskStatus.DONE, new Promise<void>((r) => (answer = r)));
    const err = await c.waitForTask(7, { intervalMs: 20, timeoutMs: 100 }).catch((e: unknown) => e);
    answer();
    expect(err).toMatchObject({ reason: 'timeout' });
  });

  it('judges a state the caller already read first, and polls one interval later (no timeout: the signal bounds it)', async () => {
    const { fake, c } = await setup(1, TaskStatus.DONE);
    const seen: number[] = [];
    const ac = new AbortController();
    const task = await c.waitForTask(7, {
      intervalMs: 10,
      signal: ac.signal,
      seen: { id: 7, status: TaskStatus.ACTIVE },
      onProgress: (t) => seen.push(t.status ?? 0),
    });
    expect(task.status).toBe(TaskStatus.DONE);
    // The poll after `seen` found it ACTIVE once more, then DONE: `seen` itself is not reported.
    expect(seen).toEqual([2, 1]);
    expect(apiRequests(fake)).toHaveLength(2);
    // An ended `seen` needs no request at all.
    const ended = await c
      .waitForTask(7, { intervalMs: 10, signal: ac.signal, seen: { id: 7, status: TaskStatus.CANCELLED } })
      .catch((e: unknown) => e);
    expect(ended).toMatchObject({ reason: 'cancelled' });
    expect(apiRequests(fake)).toHaveLength(2);
    // Unbounded (neither a timeout nor a signal) is refused.
    await expect(c.waitForTask(7, { intervalMs: 10 })).rejects.toBeInstanceOf(RangeError);
  });

  it('stops at once when the caller aborts', async () => {
    const { c } = await setup(1000, TaskStatus.DONE);
    const ac = new AbortController();
    // Aborted after the first poll, while waiting out an interval and a timeout no test would wait for.
    await expect(
      c.waitForTask(7, { intervalMs: 600_000, timeoutMs: 1_200_000, signal: ac.signal, onProgress: () => ac.abort() }),
    ).rejects.toBeInstanceOf(WsapiAbortedError);
  });
});
