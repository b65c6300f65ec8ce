/**
 * The `hang` fault (issue 18): the array accepts and reads requests and answers nothing until
 * the hang ends; the admin endpoint (a test's or the soak's) keeps answering and ends it.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { call, session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session({ admin: true }));
});
afterAll(async () => sim.close());

/** Polls a condition an event makes true; 30 s is a safety net that says so. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const stop = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > stop) throw new Error(`safety net: waited 30 s for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('hang fault', () => {
  test('holds matching requests without an answer until removed through the admin endpoint, then serves them', async () => {
    const add = await call(sim, 'POST', '/sim/faults', {
      type: 'hang',
      match: { method: 'GET', path: '^/api/v1/cpgs$' },
    });
    expect(add.status).toBe(201);
    const id = (add.body as { id: number }).id;
    let answered = false;
    const held = api('GET', '/cpgs').then((r) => {
      answered = true;
      return r;
    });
    await until(() => sim.faults.held === 1, 'the request to be held');
    // Other requests and the admin endpoint still answer; the held one has not.
    expect((await api('GET', '/system')).status).toBe(200);
    expect(
      ((await call(sim, 'GET', '/sim/faults')).body as { spec: { type: string } }[]).map((f) => f.spec.type),
    ).toEqual(['hang']);
    expect(answered).toBe(false);
    expect((await call(sim, 'DELETE', `/sim/faults/${id}`)).status).toBe(200);
    expect((await held).status).toBe(200);
    expect(sim.faults.held).toBe(0);
  });

  test('without a match, everything hangs, GET /api included, and ends on its own after ms', async () => {
    sim.faults.add({ type: 'hang', ms: 1000 });
    const version = call(sim, 'GET', '/api');
    await until(() => sim.faults.held === 1, 'GET /api to be held');
    expect((await version).status).toBe(200);
    expect(sim.faults.hung).toBe(false);
  });
});
