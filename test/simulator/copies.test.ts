/** Snapshots, physical copies, tasks (progress, queue, cancel, failure), promote, tune, set snapshots. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { session, until, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

// 10 GiB thin volumes use 1 GiB (thinUsedPct 10): a copy takes about 0.5 s at 2 GiB/s.
beforeAll(async () => {
  ({ sim, api } = await session({ copyRateMiBps: 2048, tickMs: 10, maxConcurrentTasks: 2 }));
});
afterAll(async () => sim.close());

const vol = (name: string, extra: Record<string, unknown> = {}): Promise<Res> =>
  api('POST', '/volumes', { name, cpg: 'SSD_r6', snapCPG: 'SSD_r6', sizeMiB: 10240, tpvv: true, ...extra });
const snap = (src: string, parameters: Record<string, unknown>): Promise<Res> =>
  api('POST', `/volumes/${src}`, { action: 'createSnapshot', parameters });
const copy = (src: string, parameters: Record<string, unknown>): Promise<Res> =>
  api('POST', `/volumes/${src}`, { action: 'createPhysicalCopy', parameters });
const task = async (id: number): Promise<Record<string, unknown>> => (await api('GET', `/tasks/${id}`)).body;
const done = (id: number): Promise<Record<string, unknown>> =>
  until(async () => ((await task(id)).status !== 2 ? task(id) : undefined));

describe('snapshots', () => {
  test('createSnapshot: 201 + Location, a read-only virtual copy of the source', async () => {
    await vol('s-base');
    const r = await snap('s-base', { name: 's-snap', readOnly: true, comment: 'x', expirationHours: 24 });
    expect([r.status, r.headers['location']]).toEqual([201, '/api/v1/volumes/s-snap']);
    const s = (await api('GET', '/volumes/s-snap')).body;
    const b = (await api('GET', '/volumes/s-base')).body;
    expect(s).toMatchObject({
      copyType: 3,
      provisioningType: 3,
      copyOf: 's-base',
      parentId: b.id,
      baseId: b.id,
      readOnly: true,
      sizeMiB: 10240,
      snapCPG: 'SSD_r6',
      comment: 'x',
    });
    expect(s).not.toHaveProperty('userCPG');
    expect(s.expirationTimeSec).toBeGreaterThan(Date.now() / 1000);
    expect(b.roChildId).toBe(s.id);
    expect(s.wwn).not.toBe(b.wwn);
  });

  test('snapshot errors', async () => {
    await api('POST', '/volumes', { name: 's-nosnapcpg', cpg: 'SSD_r6', sizeMiB: 256 });
    expect((await snap('s-nosnapcpg', { name: 'x1' })).body.code).toBe(33);
    expect((await snap('s-base', { name: 's-snap' })).body.code).toBe(22);
    expect((await snap('s-snap', { name: 'x2', readOnly: true })).status).toBe(403);
    expect((await snap('s-snap', { name: 'x3' })).status).toBe(201);
    expect((await snap('s-base', {})).body).toMatchObject({ code: 40, ref: 'parameters.name' });
    expect((await snap('s-base', { name: 'x4', bogus: 1 })).body).toMatchObject({ code: 12, ref: 'parameters.bogus' });
    expect((await api('POST', '/volumes/s-base', { action: 'createSnapshot' })).body).toMatchObject({
      code: 40,
      ref: 'parameters',
    });
    expect((await api('POST', '/volumes/s-base', { action: 'explode', parameters: {} })).body).toMatchObject({
      code: 12,
      ref: 'action',
    });
    expect((await snap('nope', { name: 'x5' })).body.code).toBe(23);
  });

  test('a snapshot status of 200 can be configured', async () => {
    sim.faults.set({ snapshotCreateStatus: 200 });
    expect((await snap('s-base', { name: 's-200' })).status).toBe(200);
    sim.faults.set({ snapshotCreateStatus: 201 });
  });
});

describe('online physical copy', () => {
  test('destination at once, task progresses, ends as an independent base', async () => {
    await vol('c-src');
    const r = await copy('c-src', {
      destVolume: 'c-dst',
      destCPG: 'SSD_r6',
      online: true,
      tpvv: true,
      snapCPG: 'SSD_r6',
    });
    expect(r.status).toBe(200);
    expect(r.headers['location']).toBe('/api/v1/volumes/c-dst');
    const id = r.body.taskid as number;
    expect(typeof id).toBe('number');
    const d = (await api('GET', '/volumes/c-dst')).body;
    expect(d).toMatchObject({
      copyType: 2,
      copyOf: 'c-src.ro.rw',
      additionalStates: [13],
      userCPG: 'SSD_r6',
      provisioningType: 2,
      sizeMiB: 10240,
    });
    expect((await api('GET', '/volumes/c-src')).body.additionalStates).toEqual([20]);
    const t = await task(id);
    expect(t).toMatchObject({
      id,
      type: 18,
      name: 'c-dst',
      status: 2,
      totalSteps: 1024,
      finishTime: '-',
      user: '3paradm',
    });
    // Guards while it runs.
    expect((await api('DELETE', '/volumes/c-dst')).body.code).toBe(29);
    sim.faults.set({ copyTargetDeleteError: 'code151' });
    expect((await api('DELETE', '/volumes/c-dst')).body.code).toBe(151);
    sim.faults.set({ copyTargetDeleteError: 'code29' });
    expect((await api('DELETE', '/volumes/c-src')).body.code).toBe(32);
    expect((await api('PUT', '/volumes/c-dst', { action: 3, sizeMiB: 1024 })).body.code).toBe(150);
    expect((await api('PUT', '/volumes/c-dst', { comment: 'ok' })).status).toBe(200);
    sim.faults.set({ refuseModifyDuringCopy: true });
    expect((await api('PUT', '/volumes/c-dst', { comment: 'refused' })).body.code).toBe(9011);
    // A VLUN on the online-copy target is allowed.
    await api('POST', '/hosts', { name: 'c-host' });
    expect(
      (await api('POST', '/vluns', { volumeName: 'c-dst', hostname: 'c-host', lun: 0, autoLun: true })).status,
    ).toBe(201);
    const mid = await until(async () => {
      const x = await task(id);
      return (x.completedSteps as number) > 0 ? x : undefined;
    });
    expect(mid.status === 2 || mid.status === 1).toBe(true);
    const end = await done(id);
    expect(end).toMatchObject({ status: 1, completedSteps: 1024, completedPhases: 1 });
    expect(end.finishTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const after = (await api('GET', '/volumes/c-dst')).body;
    expect(after).toMatchObject({ copyType: 1, additionalStates: [] });
    expect(after).not.toHaveProperty('copyOf');
    // The array removed its helper snapshots with the finished copy.
    expect((await api('GET', '/volumes/c-src.ro.rw')).status).toBe(404);
    expect((await api('GET', '/volumes/c-src.ro')).status).toBe(404);
    expect((await api('PUT', '/volumes/c-dst', { comment: 'now ok' })).status).toBe(200);
    sim.faults.set({ refuseModifyDuringCopy: false });
    expect((await api('PUT', '/volumes/c-dst', { action: 3, sizeMiB: 1024 })).status).toBe(200);
  });

  test('parameter rules', async () => {
    expect((await copy('c-src', { destVolume: 'x', online: true })).body).toMatchObject({ code: 40, ref: 'destCPG' });
    expect((await copy('c-src', { destVolume: 'x', destCPG: 'SSD_r6' })).body).toMatchObject({
      code: 44,
      ref: 'destCPG',
    });
    expect((await copy('c-src', { destVolume: 'x', online: true, destCPG: 'SSD_r6', priority: 1 })).body).toMatchObject(
      { code: 44, ref: 'priority' },
    );
    expect((await copy('c-src', { destVolume: 'c-dst', online: true, destCPG: 'SSD_r6' })).body.code).toBe(22);
    expect((await copy('c-src', { destVolume: 'x', online: true, destCPG: 'nope' })).body.code).toBe(15);
    expect((await copy('c-src', { destVolume: 'x', priority: 7 })).body.code).toBe(46);
  });

  test('queueing: at most maxConcurrentTasks progress; cancel leaves the destination', async () => {
    const ids: number[] = [];
    for (const n of [1, 2, 3])
      ids.push(
        (await copy('c-src', { destVolume: `q-${n}`, destCPG: 'SSD_r6', online: true, tpvv: true })).body.taskid,
      );
    await until(async () => ((await task(ids[0]!)).completedSteps as number) > 0);
    expect((await task(ids[2]!)).completedSteps).toBe(0);
    const c = await api('PUT', `/tasks/${ids[2]}`, { action: 1 });
    expect(c.status).toBe(200);
    expect((await task(ids[2]!)).status).toBe(3);
    expect((await api('PUT', `/tasks/${ids[2]}`, { action: 1 })).body.code).toBe(9028);
    // The cancelled destination stays the copy of its helper snapshots, which stay too.
    const q3 = (await api('GET', '/volumes/q-3')).body;
    expect(q3).toMatchObject({ copyType: 2, additionalStates: [] });
    expect((await api('DELETE', '/volumes/q-3')).status).toBe(200);
    const rw = (await api('GET', `/volumes/${String(q3.copyOf)}`)).body;
    expect(rw).toMatchObject({ copyType: 3, readOnly: false });
    expect((await api('DELETE', `/volumes/${String(rw.name)}`)).status).toBe(200);
    expect((await api('DELETE', `/volumes/${String(rw.copyOf)}`)).status).toBe(200);
    await done(ids[0]!);
    await done(ids[1]!);
  });

  test('task endpoint errors and list', async () => {
    expect((await api('GET', '/tasks/abc')).body.code).toBe(39);
    expect((await api('GET', '/tasks/0')).body.code).toBe(115);
    expect((await api('GET', '/tasks/99999')).body.code).toBe(145);
    expect((await api('PUT', '/tasks/1', { action: 2 })).body.code).toBe(46);
    const l = await api('GET', '/tasks');
    expect(l.body.total).toBeGreaterThan(0);
    expect(l.body.members[0]).toHaveProperty('startTime');
  });

  test('a failed task (fault): status 4, destination marked failed and deletable', async () => {
    const id = (await copy('c-src', { destVolume: 'f-1', destCPG: 'SSD_r6', online: true, tpvv: true })).body.taskid;
    expect(sim.faults.failTask(id)).toBe(true);
    expect((await task(id)).status).toBe(4);
    const f1 = (await api('GET', '/volumes/f-1')).body;
    expect(f1).toMatchObject({ state: 3, failedStates: [9], copyType: 2 });
    expect((await api('DELETE', '/volumes/f-1')).status).toBe(200);
    const rw = (await api('GET', `/volumes/${String(f1.copyOf)}`)).body;
    expect((await api('DELETE', `/volumes/${String(rw.name)}`)).status).toBe(200);
    expect((await api('DELETE', `/volumes/${String(rw.copyOf)}`)).status).toBe(200);
    sim.faults.failFutureTasks('^f-2$', 30);
    const id2 = (await copy('c-src', { destVolume: 'f-2', destCPG: 'SSD_r6', online: true, tpvv: true })).body.taskid;
    const t = await done(id2);
    expect(t.status).toBe(4);
    expect(t.completedSteps as number).toBeGreaterThan(0);
    expect(t.completedSteps as number).toBeLessThan(1024);
  });
});

describe('online copy helper snapshots (python-3parclient stopOnlinePhysicalCopy)', () => {
  const ids = async (): Promise<Map<string, Record<string, unknown>>> =>
    new Map(((await api('GET', '/volumes')).body.members as Record<string, unknown>[]).map((m) => [String(m.name), m]));

  test('a copy reads from a read-write snapshot of a read-only snapshot of the source; a cancel leaves all three', async () => {
    await vol('h-src');
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      const id = (await copy('h-src', { destVolume: 'h-dst', destCPG: 'SSD_r6', online: true, tpvv: true })).body
        .taskid as number;
      const all = await ids();
      const dst = all.get('h-dst')!;
      const rw = all.get(String(dst.copyOf))!;
      const ro = all.get(String(rw.copyOf))!;
      expect(rw).toMatchObject({ copyType: 3, readOnly: false });
      expect(ro).toMatchObject({ copyType: 3, readOnly: true, copyOf: 'h-src' });
      expect(rw).not.toHaveProperty('comment');
      expect(ro).not.toHaveProperty('comment');
      // The source has a child: its delete is refused, during the copy and after a cancel.
      expect((await api('DELETE', '/volumes/h-src')).body.code).toBe(32);
      expect((await api('DELETE', `/volumes/${String(rw.name)}`)).status).toBe(409);
      expect((await api('PUT', `/tasks/${id}`, { action: 1 })).status).toBe(200);
      expect((await api('DELETE', '/volumes/h-src')).body.code).toBe(32);
      const after = (await api('GET', '/volumes/h-dst')).body;
      expect(after.copyOf).toBe(rw.name);
      // A comment on a helper (the driver's marker): taken as on any snapshot, or refused with the switch [U].
      expect((await api('PUT', `/volumes/${String(ro.name)}`, { comment: 'mine' })).status).toBe(200);
      sim.faults.set({ helperSnapshotComment: 'refuse' });
      try {
        expect((await api('PUT', `/volumes/${String(rw.name)}`, { comment: 'mine' })).body).toMatchObject({
          code: 9042,
          ref: 'comment',
        });
        expect((await api('PUT', '/volumes/h-src', { comment: 'still ok' })).status).toBe(200);
      } finally {
        sim.faults.set({ helperSnapshotComment: 'accept' });
      }
      // The cleanup python-3parclient does: destination, then the read-write, then the read-only one.
      expect((await api('DELETE', `/volumes/${String(ro.name)}`)).body.code).toBe(32);
      for (const n of ['h-dst', rw.name, ro.name])
        expect((await api('DELETE', `/volumes/${String(n)}`)).status).toBe(200);
      expect((await api('DELETE', '/volumes/h-src')).status).toBe(200);
    } finally {
      sim.faults.set({ copyRateMiBps: 2048 });
    }
  });

  test("a finished copy takes its helpers with it; 'none' models no helpers", async () => {
    await vol('h2-src');
    const id = (await copy('h2-src', { destVolume: 'h2-dst', destCPG: 'SSD_r6', online: true, tpvv: true })).body
      .taskid as number;
    expect([...(await ids()).keys()].filter((n) => n.startsWith('h2-src.'))).toHaveLength(2);
    expect((await done(id)).status).toBe(1);
    expect([...(await ids()).keys()].filter((n) => n.startsWith('h2-src.'))).toEqual([]);
    expect((await api('DELETE', '/volumes/h2-src')).status).toBe(200);
    sim.faults.set({ onlineCopySnapshots: 'none' });
    try {
      await vol('h3-src');
      const id3 = (await copy('h3-src', { destVolume: 'h3-dst', destCPG: 'SSD_r6', online: true, tpvv: true })).body
        .taskid as number;
      expect((await api('GET', '/volumes/h3-dst')).body.copyOf).toBe('h3-src');
      expect((await api('PUT', `/tasks/${id3}`, { action: 1 })).status).toBe(200);
      expect((await api('GET', '/volumes/h3-dst')).body).toMatchObject({ copyType: 1 });
      expect((await api('DELETE', '/volumes/h3-src')).status).toBe(200);
    } finally {
      sim.faults.set({ onlineCopySnapshots: 'chain' });
    }
  });
});

describe('offline copy, resync, stop, promote, tune', () => {
  test('offline copy into an existing volume stays linked; stop unlinks; resync runs a task', async () => {
    await vol('o-dst');
    await api('POST', '/volumes', { name: 'o-small', cpg: 'SSD_r6', sizeMiB: 256 });
    expect((await copy('c-src', { destVolume: 'none' })).body).toMatchObject({ code: 23, ref: 'destVolume' });
    expect((await copy('c-src', { destVolume: 'o-small' })).status).toBe(409);
    const r = await copy('c-src', { destVolume: 'o-dst', priority: 1, saveSnapshot: false });
    expect(r.status).toBe(200);
    const t = await done(r.body.taskid);
    expect(t).toMatchObject({ type: 1, name: 'o-dst', status: 1, priority: 1 });
    expect((await api('GET', '/volumes/o-dst')).body).toMatchObject({ copyType: 2, copyOf: 'c-src' });
    expect((await api('PUT', '/volumes/o-dst', { action: 3, sizeMiB: 256 })).body.code).toBe(150);
    expect((await api('PUT', '/volumes/c-src', { action: 3, sizeMiB: 256 })).status).toBe(409);
    const rs = await api('PUT', '/volumes/o-dst', { action: 2 });
    expect(rs.status).toBe(200);
    expect((await done(rs.body.taskid)).type).toBe(2);
    expect((await api('PUT', '/volumes/o-dst', { action: 1 })).status).toBe(200);
    expect((await api('GET', '/volumes/o-dst')).body.copyType).toBe(1);
    expect((await api('PUT', '/volumes/o-dst', { action: 1 })).status).toBe(409);
  });

  test('promote a snapshot onto its base; stop with nothing running → 185', async () => {
    await vol('p-base');
    await snap('p-base', { name: 'p-snap', readOnly: true });
    await api('POST', '/hosts', { name: 'p-host' });
    await api('POST', '/vluns', { volumeName: 'p-base', hostname: 'p-host', lun: 0, autoLun: true });
    expect((await api('PUT', '/volumes/p-snap', { action: 4 })).status).toBe(409);
    const r = await api('PUT', '/volumes/p-snap', { action: 4, online: true, priority: 2 });
    expect(r.body).toMatchObject({ taskid: expect.any(Number), links: [{ rel: 'self' }] });
    expect((await task(r.body.taskid)).type).toBe(4);
    await done(r.body.taskid);
    expect((await api('PUT', '/volumes/p-snap', { action: 5 })).body.code).toBe(185);
  });

  test('tune: thin → full into another CPG, as a task, with the tune-in-progress guards', async () => {
    await vol('t-vol');
    expect((await api('PUT', '/volumes/t-vol', { action: 6, tuneOperation: 1 })).body).toMatchObject({
      code: 40,
      ref: 'userCPG',
    });
    expect(
      (await api('PUT', '/volumes/t-vol', { action: 6, tuneOperation: 1, userCPG: 'FC_r6', conversionOperation: 1 }))
        .status,
    ).toBe(403);
    expect((await api('PUT', '/volumes/t-vol', { action: 6, tuneOperation: 1, userCPG: 'nope' })).body.code).toBe(15);
    const r = await api('PUT', '/volumes/t-vol', {
      action: 6,
      tuneOperation: 1,
      userCPG: 'FC_r6',
      conversionOperation: 2,
      keepVV: 't-keep',
    });
    expect(r.status).toBe(200);
    expect((await api('PUT', '/volumes/t-vol', { action: 3, sizeMiB: 256 })).body.code).toBe(9008);
    expect((await api('PUT', '/volumes/t-vol', { action: 6, tuneOperation: 2, snapCPG: 'FC_r6' })).body.code).toBe(
      9008,
    );
    expect((await api('DELETE', '/volumes/t-vol')).body.code).toBe(9008);
    expect((await api('GET', '/volumes/t-vol')).body.additionalStates).toEqual([22]);
    expect((await done(r.body.taskid)).type).toBe(19);
    expect((await api('GET', '/volumes/t-vol')).body).toMatchObject({ userCPG: 'FC_r6', provisioningType: 1 });
    expect((await api('GET', '/volumes/t-keep')).body).toMatchObject({ userCPG: 'SSD_r6', provisioningType: 2 });
  });
});

describe('volume sets', () => {
  test('CRUD, members, and a snapshot of the set with a name pattern', async () => {
    for (const n of ['m-a', 'm-b', 'm-c']) await vol(n);
    const c = await api('POST', '/volumesets', { name: 'vs1', setmembers: ['m-a', 'm-b'], comment: 'grp' });
    expect([c.status, c.headers['location']]).toEqual([201, '/api/v1/volumesets/vs1']);
    expect((await api('POST', '/volumesets', { name: 'vs1' })).body.code).toBe(101);
    expect((await api('POST', '/volumesets', { name: 'x'.repeat(28) })).body.code).toBe(57);
    expect((await api('POST', '/volumesets', { name: 'vs2', setmembers: ['nope'] })).body.code).toBe(23);
    expect((await api('PUT', '/volumesets/vs1', { action: 1, setmembers: ['m-c'] })).status).toBe(200);
    expect((await api('PUT', '/volumesets/vs1', { action: 1, setmembers: ['m-c'] })).status).toBe(409);
    expect((await api('PUT', '/volumesets/vs1', { action: 1, newName: 'z' })).body.code).toBe(44);
    expect((await api('PUT', '/volumesets/vs1', { action: 2, setmembers: ['m-*'] })).body.code).toBe(69);
    expect((await api('GET', '/volumesets/vs1')).body).toMatchObject({
      name: 'vs1',
      comment: 'grp',
      setmembers: ['m-a', 'm-b', 'm-c'],
    });
    const s = await api('POST', '/volumesets/vs1', {
      action: 'createSnapshot',
      parameters: { name: 'gs-@count@', readOnly: true },
    });
    expect([s.status, s.headers['location']]).toEqual([201, '/api/v1/volumesets/vs1']);
    for (const [i, m] of ['m-a', 'm-b', 'm-c'].entries())
      expect((await api('GET', `/volumes/gs-${i}`)).body).toMatchObject({ copyOf: m, copyType: 3, readOnly: true });
    expect(
      (await api('POST', '/volumesets/vs1', { action: 'createSnapshot', parameters: { name: 'same' } })).body.code,
    ).toBe(9026);
    expect(
      (await api('POST', '/volumesets/vs1', { action: 'createSnapshot', parameters: { name: 'gs-@count@' } })).body
        .code,
    ).toBe(22);
    expect(
      (await api('POST', '/volumesets/vs1', { action: 'createSnapshot', parameters: { name: '@vvname@-x' } })).status,
    ).toBe(201);
    expect((await api('GET', '/volumes/m-b-x')).body.copyOf).toBe('m-b');
    await api('POST', '/volumesets', { name: 'empty' });
    expect(
      (await api('POST', '/volumesets/empty', { action: 'createSnapshot', parameters: { name: 'e-@count@' } })).body
        .code,
    ).toBe(9027);
    expect((await api('PUT', '/volumesets/vs1', { action: 2, setmembers: ['m-c'] })).status).toBe(200);
    expect((await api('PUT', '/volumesets/vs1', { newName: 'vs1b' })).headers['location']).toBe(
      '/api/v1/volumesets/vs1b',
    );
    expect((await api('DELETE', '/volumesets/vs1b')).status).toBe(200);
    expect((await api('GET', '/volumesets/vs1b')).body.code).toBe(102);
  });

  test('physical copy of a set into a destination set', async () => {
    for (const n of ['ps-a', 'ps-b', 'pd-a', 'pd-b']) await vol(n);
    await api('POST', '/volumesets', { name: 'src-set', setmembers: ['ps-a', 'ps-b'] });
    await api('POST', '/volumesets', { name: 'dst-set', setmembers: ['pd-a', 'pd-b'] });
    const r = await api('POST', '/volumesets/src-set', {
      action: 'createPhysicalCopy',
      parameters: { destVolume: 'dst-set', priority: 2 },
    });
    expect(r.status).toBe(201);
    expect((await api('GET', '/volumes/pd-b')).body.copyOf).toBe('ps-b');
    expect(
      (
        await api('POST', '/volumesets/src-set', {
          action: 'createPhysicalCopy',
          parameters: { destVolume: 'dst-set', online: true },
        })
      ).body.code,
    ).toBe(44);
    // Set actions on the destination set: resync (3) returns the task ids, stop (4) unlinks.
    for (const t of (await api('GET', '/tasks')).body.members.filter(
      (x: { name: string; status: number }) => x.name.startsWith('pd-') && x.status === 2,
    ))
      await done(t.id);
    const rs = await api('PUT', '/volumesets/dst-set', { action: 3, priority: 1 });
    expect(rs.body.taskids).toHaveLength(2);
    for (const id of rs.body.taskids) expect((await done(id)).type).toBe(2);
    expect((await api('PUT', '/volumesets/dst-set', { action: 4 })).status).toBe(200);
    expect((await api('GET', '/volumes/pd-a')).body.copyType).toBe(1);
    expect((await api('PUT', '/volumesets/dst-set', { priority: 1 })).body.code).toBe(44);
  });

  test('promote a set of snapshots (action 5) and stop it (action 6)', async () => {
    await vol('sp-a');
    await snap('sp-a', { name: 'sp-a-s', readOnly: true });
    await api('POST', '/volumesets', { name: 'snapset', setmembers: ['sp-a-s'] });
    const r = await api('PUT', '/volumesets/snapset', { action: 5 });
    expect(r.body.tasks).toHaveLength(1);
    expect((await api('PUT', '/volumesets/snapset', { action: 6 })).status).toBe(200);
    expect((await task(r.body.tasks[0].taskid)).status).toBe(3);
    expect((await api('PUT', '/hostsets/none', { action: 3 })).status).toBe(404);
  });
});
