import { afterEach, describe, expect, it } from '@jest/globals';
import { TaskStatus, WsapiAbortedError, WsapiClient, WsapiTaskError, type Task } from '../../src/wsapi/index.js';
import { apiRequests, reply, startFake, withSessions, type FakeArray } from './fake-array.js';

const fakes: FakeArray[] = [];
const clients: WsapiClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** A task that is ACTIVE for `activePolls` polls, then ends with `final`. */
async function setup(activePolls: number, final: number, delayMs = 0): Promise<{ fake: FakeArray; c: WsapiClient }> {
  let polls = 0;
  const fake = await startFake(
    withSessions((req, res) => {
      const status = polls++ < activePolls ? TaskStatus.ACTIVE : final;
      setTimeout(() => reply(res, 200, { id: 7, type: 18, name: 'dst', status, completedSteps: polls, totalSteps: activePolls + 1 }), delayMs);
    }),
  );
  fakes.push(fake);
  const c = new WsapiClient({ backendId: 't', url: fake.url, username: 'u', password: 'secret', retry: { attempts: 1 } });
  clients.push(c);
  return { fake, c };
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
    const { c } = await setup(1000, TaskStatus.DONE);
    const started = Date.now();
    const err = await c.waitForTask(7, { intervalMs: 20, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiTaskError);
    expect(err).toMatchObject({ reason: 'timeout', task: { status: TaskStatus.ACTIVE } });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('times out even while a poll hangs', async () => {
    const { c } = await setup(1000, TaskStatus.DONE, 400);
    const started = Date.now();
    const err = await c.waitForTask(7, { intervalMs: 20, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(350);
  });

  it('stops at once when the caller aborts', async () => {
    const { c } = await setup(1000, TaskStatus.DONE);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 60);
    const started = Date.now();
    await expect(c.waitForTask(7, { intervalMs: 1000, timeoutMs: 10_000, signal: ac.signal })).rejects.toBeInstanceOf(WsapiAbortedError);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
