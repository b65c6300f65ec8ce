/**
 * Snapshots, clones and soft delete over gRPC against the simulator: CreateSnapshot /
 * DeleteSnapshot / GetSnapshot / ListSnapshots, volumes from snapshots and clones as online
 * copies tracked as tasks (larger sizes, restarts, lost answers, refused markers, adoption,
 * failures, cancellation), and the soft delete of volumes with snapshots.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { arrayNameFor, isTombstoneName } from '../../src/array/names.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { until } from '../simulator/helpers.js';
import {
  arrayRequests,
  backendOf,
  CLUSTER,
  DRIVER,
  GiB,
  mountCap,
  startDriver,
  type Driver,
  startOnSim,
} from '../helpers/controller-harness.js';
import type { Volume__Output as Vol } from '../../src/gen/csi/v1/Volume.js';

let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim());
});
afterAll(() => stop());

const arrayName = (id: string) => id.split('/')[1]!;
async function volume(
  name: string,
  extra: Record<string, unknown> = {},
  drv: Driver = d,
  deadlineMs?: number,
): Promise<Vol> {
  const res = await drv.client.call(
    'CreateVolume',
    {
      name,
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1' },
      ...extra,
    },
    deadlineMs ? { deadlineMs } : {},
  );
  return res.volume!;
}
const snapshot = (name: string, source: string, parameters: Record<string, string> = {}) =>
  d.client.call('CreateSnapshot', { name, source_volume_id: source, parameters }).then((r) => r.snapshot!);
const fromSnapshot = (snapshotId: string) => ({ volume_content_source: { snapshot: { snapshot_id: snapshotId } } });
const fromVolume = (volumeId: string) => ({ volume_content_source: { volume: { volume_id: volumeId } } });
const activeTasks = () => sim.array.tasks.filter((t) => t.status === 2);

describe('snapshots', () => {
  test('CreateSnapshot takes two WSAPI requests, is idempotent, and is listed', async () => {
    const v = await volume('pvc-snap-src');
    sim.resetRequests();
    const s = await snapshot('snapshot-1', v.volume_id, {
      'csi.storage.k8s.io/volumesnapshot/name': 'snap',
      'csi.storage.k8s.io/volumesnapshot/namespace': 'ns',
    });
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    expect(s).toMatchObject({ source_volume_id: v.volume_id, size_bytes: String(GiB), ready_to_use: true });
    expect(s.snapshot_id).toMatch(/^sim\/css-/);
    expect(Number(s.creation_time!.seconds)).toBeGreaterThan(0);
    const rec = sim.array.volume(arrayName(s.snapshot_id))!;
    expect(rec.readOnly).toBe(true);
    expect(JSON.parse(rec.comment!)).toMatchObject({ c: CLUSTER, n: 'snapshot-1', pvc: 'ns/snap' });
    sim.resetRequests();
    expect((await snapshot('snapshot-1', v.volume_id)).snapshot_id).toBe(s.snapshot_id);
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    const other = await volume('pvc-snap-other');
    expect(await codeOf(snapshot('snapshot-1', other.volume_id))).toBe(grpcStatus.ALREADY_EXISTS);
    const got = await d.client.call('GetSnapshot', { snapshot_id: s.snapshot_id });
    expect(got.snapshot!.snapshot_id).toBe(s.snapshot_id);
    const bySource = await d.client.call('ListSnapshots', { source_volume_id: v.volume_id });
    expect(bySource.entries.map((e) => e.snapshot!.snapshot_id)).toEqual([s.snapshot_id]);
    const byId = await d.client.call('ListSnapshots', { snapshot_id: s.snapshot_id });
    expect(byId.entries).toHaveLength(1);
    const none = await d.client.call('ListSnapshots', { snapshot_id: 'sim/css-nothere' });
    expect(none.entries).toHaveLength(0);
  });

  test('spec error codes and class parameters', async () => {
    const v = await volume('pvc-snap-errs');
    expect(await codeOf(snapshot('snap-x', 'sim/csv-nothere'))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(snapshot('snap-x', 'garbage'))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(snapshot('', v.volume_id))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(snapshot('snap-x', v.volume_id, { expirationHours: '2' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(snapshot('snap-x', v.volume_id, { retentionHours: '2' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    const expiring = await snapshot('snap-exp', v.volume_id, { allowExpiry: 'true', expirationHours: '2' });
    expect(sim.array.volume(arrayName(expiring.snapshot_id))!.expirationTimeSec).toBeGreaterThan(0);
    expect(await codeOf(d.client.call('GetSnapshot', { snapshot_id: 'sim/css-nothere' }))).toBe(grpcStatus.NOT_FOUND);
    await d.client.call('DeleteSnapshot', { snapshot_id: 'sim/css-nothere' });
    await d.client.call('DeleteSnapshot', { snapshot_id: 'garbage' });
    sim.resetRequests();
    await d.client.call('DeleteSnapshot', { snapshot_id: expiring.snapshot_id });
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    expect(sim.array.volume(arrayName(expiring.snapshot_id))).toBeUndefined();
  });

  test('pagination: max_entries, next_token, invalid token → ABORTED', async () => {
    const v = await volume('pvc-snap-page');
    for (let i = 0; i < 5; i++) await snapshot(`snap-page-${i}`, v.volume_id);
    const seen: string[] = [];
    let token = '';
    do {
      const page = await d.client.call('ListSnapshots', {
        source_volume_id: v.volume_id,
        max_entries: 2,
        starting_token: token,
      });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.snapshot!.snapshot_id));
      token = page.next_token;
    } while (token !== '');
    expect(new Set(seen).size).toBe(5);
    expect(await codeOf(d.client.call('ListSnapshots', { starting_token: 'bogus' }))).toBe(grpcStatus.ABORTED);
    expect(await codeOf(d.client.call('ListVolumes', { starting_token: 'ffffffffffff:1' }))).toBe(grpcStatus.ABORTED);
  });
});

describe('volumes from snapshots and clones', () => {
  test('a volume from a snapshot is a marked online copy, not created empty', async () => {
    const v = await volume('pvc-restore-src');
    const s = await snapshot('snap-restore', v.volume_id);
    const r = await volume('pvc-restored', fromSnapshot(s.snapshot_id));
    expect(r.volume_context).toMatchObject({ isCopy: 'true' });
    expect(r.volume_context['createdEmpty']).toBeUndefined();
    const rec = sim.array.volume(arrayName(r.volume_id))!;
    expect(JSON.parse(rec.comment!)).toMatchObject({ c: CLUSTER, n: 'pvc-restored' });
    expect(JSON.parse(rec.comment!).e).toBeUndefined();
    expect(rec.policies.oneHost).toBe(true);
    expect(sim.array.tasks.filter((t) => t.name === rec.name)).toHaveLength(1);
    expect((await volume('pvc-restored', fromSnapshot(s.snapshot_id))).volume_id).toBe(r.volume_id);
    expect(sim.array.tasks.filter((t) => t.name === rec.name)).toHaveLength(1);
    expect(await codeOf(volume('pvc-restored', fromVolume(v.volume_id)))).toBe(grpcStatus.ALREADY_EXISTS);
    expect(await codeOf(volume('pvc-restore-missing', fromSnapshot('sim/css-nothere')))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(volume('pvc-restore-missing', fromVolume('sim/csv-nothere')))).toBe(grpcStatus.NOT_FOUND);
  });

  test('a larger clone waits for the copy, then grows', async () => {
    const v = await volume('pvc-clone-src');
    const c = await volume('pvc-clone-big', {
      ...fromVolume(v.volume_id),
      capacity_range: { required_bytes: String(2 * GiB) },
    });
    expect(c.capacity_bytes).toBe(String(2 * GiB));
    expect(sim.array.volume(arrayName(c.volume_id))!.sizeMiB).toBe(2048);
    expect(activeTasks()).toHaveLength(0);
  });

  test('a clone survives a driver restart mid-copy: ABORTED at the deadline, resumed, never copied twice', async () => {
    const v = await volume('pvc-restart-src', { capacity_range: { required_bytes: String(4 * GiB) } });
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      const d1 = await startDriver([backendOf(sim, 'sim')], { copyPollIntervalMs: 20 });
      const first = await codeOf(
        volume(
          'pvc-restart',
          { ...fromVolume(v.volume_id), capacity_range: { required_bytes: String(5 * GiB) } },
          d1,
          300,
        ),
      );
      expect([grpcStatus.ABORTED, grpcStatus.DEADLINE_EXCEEDED]).toContain(first);
      await d1.stop();
      const name = arrayNameFor('volume', CLUSTER, 'pvc-restart');
      expect(sim.array.volume(name)).toBeDefined();
      sim.faults.set({ copyRateMiBps: 1_000_000 });
      const r = await volume('pvc-restart', {
        ...fromVolume(v.volume_id),
        capacity_range: { required_bytes: String(5 * GiB) },
      });
      expect(r.capacity_bytes).toBe(String(5 * GiB));
      expect(sim.array.tasks.filter((t) => t.name === name)).toHaveLength(1);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
  });

  test('a clone whose marker the array refuses mid-copy is marked after the copy', async () => {
    sim.faults.set({ refuseModifyDuringCopy: true, copyRateMiBps: 0.001 });
    try {
      const v = await volume('pvc-refuse-src', { capacity_range: { required_bytes: String(4 * GiB) } });
      sim.resetRequests();
      const pending = volume('pvc-refuse', fromVolume(v.volume_id));
      // The copy is held until the array has refused the marker; then it may finish.
      await until(() => sim.requests.some((r) => r.method === 'PUT' && r.status === 409));
      sim.faults.set({ copyRateMiBps: 1_000_000 });
      const c = await pending;
      const rec = sim.array.volume(arrayName(c.volume_id))!;
      expect(JSON.parse(rec.comment!)).toMatchObject({ c: CLUSTER, n: 'pvc-refuse' });
    } finally {
      sim.faults.set({ refuseModifyDuringCopy: false, copyRateMiBps: 1_000_000 });
    }
  });

  test('an unmarked copy destination left by a crash is adopted by the retry', async () => {
    const v = await volume('pvc-adopt-src');
    const name = arrayNameFor('volume', CLUSTER, 'pvc-adopt');
    await wsapi.volumes.createPhysicalCopy(arrayName(v.volume_id), {
      destVolume: name,
      online: true,
      destCPG: 'CPG1',
      tpvv: true,
      snapCPG: 'CPG1',
    });
    const c = await volume('pvc-adopt', fromVolume(v.volume_id));
    expect(arrayName(c.volume_id)).toBe(name);
    expect(JSON.parse(sim.array.volume(name)!.comment!)).toMatchObject({ c: CLUSTER, n: 'pvc-adopt' });
  });

  test('a create whose answer is lost is retried to the same volume', async () => {
    const fault = sim.faults.dropConnection('after', { method: 'POST', path: '^/api/v1/volumes$' });
    try {
      const lost = await codeOf(volume('pvc-lost'));
      expect(lost).toBe(grpcStatus.UNAVAILABLE);
    } finally {
      sim.faults.remove(fault);
    }
    const v = await volume('pvc-lost');
    expect(sim.array.volumes.filter((x) => x.name === arrayName(v.volume_id))).toHaveLength(1);
  });

  test('a failing copy task leaves nothing behind', async () => {
    const v = await volume('pvc-fail-src');
    const name = arrayNameFor('volume', CLUSTER, 'pvc-fail');
    sim.faults.failFutureTasks(`^${name}$`, 10);
    sim.faults.set({ copyRateMiBps: 200 });
    try {
      expect(
        await codeOf(
          volume('pvc-fail', { ...fromVolume(v.volume_id), capacity_range: { required_bytes: String(2 * GiB) } }),
        ),
      ).toBe(grpcStatus.INTERNAL);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(sim.array.volume(name)).toBeUndefined();
  });

  test('a copy that fails after CreateVolume returned shows abnormal, and a retry never returns it', async () => {
    const v = await volume('pvc-late-src', { capacity_range: { required_bytes: String(4 * GiB) } });
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      const c = await volume('pvc-late', fromVolume(v.volume_id));
      const task = activeTasks().find((t) => t.name === arrayName(c.volume_id))!;
      expect(sim.faults.failTask(task.id)).toBe(true);
      const got = await d.client.call('ControllerGetVolume', { volume_id: c.volume_id });
      expect(got.status!.volume_condition!.abnormal).toBe(true);
      expect(await codeOf(volume('pvc-late', fromVolume(v.volume_id)))).toBe(grpcStatus.INTERNAL);
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    const again = await volume('pvc-late', fromVolume(v.volume_id));
    expect(sim.array.volume(arrayName(again.volume_id))!.failedStates).toEqual([]);
  });

  test('growing or snapshotting a clone still copying → ABORTED', async () => {
    const v = await volume('pvc-busy-src', { capacity_range: { required_bytes: String(4 * GiB) } });
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      const c = await volume('pvc-busy', fromVolume(v.volume_id));
      expect(
        await codeOf(
          d.client.call('ControllerExpandVolume', {
            volume_id: c.volume_id,
            capacity_range: { required_bytes: String(8 * GiB) },
          }),
        ),
      ).toBe(grpcStatus.ABORTED);
      expect(await codeOf(snapshot('snap-busy', c.volume_id))).toBe(grpcStatus.ABORTED);
      await d.client.call('DeleteVolume', { volume_id: c.volume_id });
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
  });

  test('deleting a clone still copying cancels the task and removes it', async () => {
    const v = await volume('pvc-cancel-src', { capacity_range: { required_bytes: String(4 * GiB) } });
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      const c = await volume('pvc-cancel', fromVolume(v.volume_id));
      expect(activeTasks().some((t) => t.name === arrayName(c.volume_id))).toBe(true);
      await d.client.call('DeleteVolume', { volume_id: c.volume_id });
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
      // Only this clone's task: an earlier test's re-copy (pvc-late) may still run at this rate.
      expect(activeTasks().filter((t) => t.name === arrayName(c.volume_id))).toHaveLength(0);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
  });
});

describe('soft delete', () => {
  test('a volume with snapshots is hidden, and disappears with its last snapshot', async () => {
    const v = await volume('pvc-soft');
    const s1 = await snapshot('snap-soft-1', v.volume_id);
    const s2 = await snapshot('snap-soft-2', v.volume_id);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
    const tomb = sim.array.volumes.filter((x) => isTombstoneName(x.name));
    expect(tomb).toHaveLength(1);
    const list = await d.client.call('ListVolumes', {});
    expect(list.entries.some((e) => isTombstoneName(arrayName(e.volume!.volume_id)))).toBe(false);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    const listed = await d.client.call('ListSnapshots', { source_volume_id: v.volume_id });
    expect(listed.entries.map((e) => e.snapshot!.snapshot_id).sort()).toEqual([s1.snapshot_id, s2.snapshot_id].sort());
    const one = await d.client.call('GetSnapshot', { snapshot_id: s1.snapshot_id });
    expect(one.snapshot!.source_volume_id).toBe(v.volume_id);
    const again = await volume('pvc-soft');
    expect(again.volume_id).toBe(v.volume_id);
    await d.client.call('DeleteSnapshot', { snapshot_id: s1.snapshot_id });
    expect(sim.array.volumes.filter((x) => isTombstoneName(x.name))).toHaveLength(1);
    await d.client.call('DeleteSnapshot', { snapshot_id: s2.snapshot_id });
    expect(sim.array.volumes.filter((x) => isTombstoneName(x.name))).toHaveLength(0);
    await d.client.call('DeleteVolume', { volume_id: again.volume_id });
  });

  test("another cluster's snapshots are never deleted", async () => {
    const other = await startDriver([backendOf(sim, 'sim')], { clusterId: 'cluster-b' });
    try {
      const v = (
        await other.client.call('CreateVolume', {
          name: 'pvc-b',
          volume_capabilities: [mountCap()],
          parameters: { cpg: 'CPG1' },
        })
      ).volume!;
      const s = (await other.client.call('CreateSnapshot', { name: 'snap-b', source_volume_id: v.volume_id }))
        .snapshot!;
      expect(await codeOf(d.client.call('DeleteSnapshot', { snapshot_id: s.snapshot_id }))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      const mine = await d.client.call('ListSnapshots', {});
      expect(mine.entries.some((e) => e.snapshot!.snapshot_id === s.snapshot_id)).toBe(false);
      await other.client.call('DeleteSnapshot', { snapshot_id: s.snapshot_id });
      await other.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await other.stop();
    }
  });
});

describe('online copy helper snapshots (issue 16 item 8)', () => {
  /** The array's helper snapshots of the copy into `dest`: its `copyOf` chain of unmarked snapshots. */
  const chainOf = (dest: string): string[] => {
    const out: string[] = [];
    let v = sim.array.volume(dest);
    while (v?.parentId !== undefined) {
      const p = sim.array.volumeById(v.parentId);
      if (!p || p.copyType !== 3 || p.comment !== undefined) break;
      out.push(p.name);
      v = p;
    }
    return out;
  };
  const present = (names: string[]) => names.filter((n) => sim.array.volume(n) !== undefined);
  const tombstonesOf = (csiName: string) =>
    sim.array.volumes.filter((x) => isTombstoneName(x.name) && x.comment?.includes(`"n":"${csiName}"`));

  test('a clone deleted mid-copy takes the helper snapshots with it, and its source then deletes for good', async () => {
    const v = await volume('pvc-stop-src');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      const c = await volume('pvc-stop', fromVolume(v.volume_id));
      helpers = chainOf(arrayName(c.volume_id));
      expect(helpers).toHaveLength(2);
      await d.client.call('DeleteVolume', { volume_id: c.volume_id });
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    // Before the fix: the helpers stayed, the source became a csx-… tombstone nothing ever deletes.
    expect(tombstonesOf('pvc-stop-src').map((x) => x.name)).toEqual([]);
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test('a failed copy is removed with its helper snapshots', async () => {
    const v = await volume('pvc-hfail-src');
    const name = arrayNameFor('volume', CLUSTER, 'pvc-hfail');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      const c = await volume('pvc-hfail', fromVolume(v.volume_id));
      helpers = chainOf(name);
      expect(helpers).toHaveLength(2);
      expect(sim.faults.failTask(activeTasks().find((t) => t.name === name)!.id)).toBe(true);
      // The retry finds the failed copy, removes it (and the helpers), and answers INTERNAL.
      expect(await codeOf(volume('pvc-hfail', fromVolume(v.volume_id)))).toBe(grpcStatus.INTERNAL);
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(tombstonesOf('pvc-hfail-src')).toEqual([]);
  });

  /** The answer to the next DELETE of array volume `name` is lost after the array deleted it. */
  const loseDeleteAnswer = (name: string) =>
    sim.faults.add({
      type: 'drop',
      when: 'after',
      match: { method: 'DELETE', path: `^/api/v1/volumes/${name}$` },
      count: 1,
    });

  test('a clone deleted mid-copy whose delete answer is lost still takes its helper snapshots (the retry cannot find them)', async () => {
    const v = await volume('pvc-dlost-src');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      const c = await volume('pvc-dlost', fromVolume(v.volume_id));
      helpers = chainOf(arrayName(c.volume_id));
      expect(helpers).toHaveLength(2);
      loseDeleteAnswer(arrayName(c.volume_id));
      // Before the fix: UNAVAILABLE here, the retry found no destination, the helpers stayed and
      // the source's DeleteVolume answered FAILED_PRECONDITION for ever (quick soak, seed 771081535).
      await d.client.call('DeleteVolume', { volume_id: c.volume_id });
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test('a failed copy whose removal answer is lost is still removed with its helper snapshots', async () => {
    const v = await volume('pvc-lostfail-src');
    const name = arrayNameFor('volume', CLUSTER, 'pvc-lostfail');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      await volume('pvc-lostfail', fromVolume(v.volume_id));
      helpers = chainOf(name);
      expect(helpers).toHaveLength(2);
      expect(sim.faults.failTask(activeTasks().find((t) => t.name === name)!.id)).toBe(true);
      loseDeleteAnswer(name);
      expect(await codeOf(volume('pvc-lostfail', fromVolume(v.volume_id)))).toBe(grpcStatus.INTERNAL);
      expect(sim.array.volume(name)).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(tombstonesOf('pvc-lostfail-src')).toEqual([]);
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  /**
   * A driver process killed after it deleted a copy's destination and before that copy's helper
   * snapshots: the DELETE of the read-write helper `rw` never reaches the array (a fault answers it
   * instead, so the call fails right after the destination's delete), then the process is stopped.
   * What happens next is a fresh process's work, with nothing remembered of the copy.
   */
  async function killedAfterDestDelete(rw: string, call: (drv: Driver) => Promise<unknown>): Promise<Driver> {
    const d1 = await startDriver([backendOf(sim, 'sim')]);
    const fault = sim.faults.add({
      type: 'error',
      status: 500,
      code: 1,
      match: { method: 'DELETE', path: `^/api/v1/volumes/${rw.replace(/\./g, '\\.')}$` },
      count: 100,
    });
    try {
      expect(await codeOf(call(d1))).toBe(grpcStatus.INTERNAL);
    } finally {
      sim.faults.remove(fault);
      await d1.stop();
    }
    return startDriver([backendOf(sim, 'sim')]);
  }

  test('a clone deleted mid-copy by a driver killed before its helpers went: the source still deletes (quick soak seed 967243634)', async () => {
    const v = await volume('pvc-hkill-src');
    const src = arrayName(v.volume_id);
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let d2: Driver;
    let c: Vol;
    try {
      c = await volume('pvc-hkill', fromVolume(v.volume_id));
      helpers = chainOf(arrayName(c.volume_id));
      expect(helpers).toHaveLength(2);
      d2 = await killedAfterDestDelete(helpers[0]!, (drv) =>
        drv.client.call('DeleteVolume', { volume_id: c.volume_id }),
      );
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
      expect(present(helpers)).toEqual(helpers);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    try {
      // Marked helpers are no CSI snapshots: not listed, not found, never deleted by DeleteSnapshot.
      const listed = await d2.client.call('ListSnapshots', {});
      expect(listed.entries.filter((e) => helpers.includes(arrayName(e.snapshot!.snapshot_id)))).toEqual([]);
      expect(await codeOf(d2.client.call('GetSnapshot', { snapshot_id: `sim/${helpers[1]!}` }))).toBe(
        grpcStatus.NOT_FOUND,
      );
      expect(await codeOf(d2.client.call('DeleteSnapshot', { snapshot_id: `sim/${helpers[1]!}` }))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      expect(present(helpers)).toEqual(helpers);
      // The CO's retry: the destination is gone, nothing leads to its helpers any more.
      await d2.client.call('DeleteVolume', { volume_id: c.volume_id });
      // Before the fix: FAILED_PRECONDITION naming the helpers, at every retry, for ever.
      await d2.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await d2.stop();
    }
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(src)).toBeUndefined();
    expect(tombstonesOf('pvc-hkill-src')).toEqual([]);
  });

  test.each([
    ['after it marked the helpers, before the destination went', 'dest'],
    ['between the read-write helper and the read-only one', 'ro'],
  ])('a clone deleted mid-copy by a driver killed %s: the retries delete all of it', async (_when, at) => {
    const v = await volume(`pvc-hk${at}-src`);
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let d2: Driver;
    let c: Vol;
    try {
      c = await volume(`pvc-hk${at}`, fromVolume(v.volume_id));
      const dest = arrayName(c.volume_id);
      helpers = chainOf(dest);
      expect(helpers).toHaveLength(2);
      d2 = await killedAfterDestDelete(at === 'dest' ? dest : helpers[1]!, (drv) =>
        drv.client.call('DeleteVolume', { volume_id: c.volume_id }),
      );
      expect(sim.array.volume(dest) !== undefined).toBe(at === 'dest');
      expect(present(helpers)).toEqual(at === 'dest' ? helpers : [helpers[1]]);
      for (const h of present(helpers)) expect(JSON.parse(sim.array.volume(h)!.comment!)).toMatchObject({ h: dest });
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    try {
      await d2.client.call('DeleteVolume', { volume_id: c.volume_id });
      await d2.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await d2.stop();
    }
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
    expect(tombstonesOf(`pvc-hk${at}-src`)).toEqual([]);
  });

  test('a failed copy removed by a driver killed before its helpers went: the source still deletes', async () => {
    const v = await volume('pvc-fkill-src');
    const name = arrayNameFor('volume', CLUSTER, 'pvc-fkill');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let d2: Driver;
    try {
      await volume('pvc-fkill', fromVolume(v.volume_id));
      helpers = chainOf(name);
      expect(helpers).toHaveLength(2);
      expect(sim.faults.failTask(activeTasks().find((t) => t.name === name)!.id)).toBe(true);
      // The retried CreateVolume finds the failed copy and removes it; the kill cuts that short.
      d2 = await killedAfterDestDelete(helpers[0]!, (drv) => volume('pvc-fkill', fromVolume(v.volume_id), drv));
      expect(sim.array.volume(name)).toBeUndefined();
      expect(present(helpers)).toEqual(helpers);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    try {
      const again = await volume('pvc-fkill', fromVolume(v.volume_id), d2);
      await until(() => activeTasks().every((t) => t.name !== name));
      await d2.client.call('DeleteVolume', { volume_id: again.volume_id });
      await d2.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await d2.stop();
    }
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
    expect(tombstonesOf('pvc-fkill-src')).toEqual([]);
  });

  test('a restore deleted by a driver killed before its helpers went: the snapshot and its source still delete', async () => {
    const v = await volume('pvc-skill-src');
    const s = await snapshot('snap-skill', v.volume_id);
    const dest = arrayNameFor('volume', CLUSTER, 'pvc-skill');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let d2: Driver;
    try {
      await volume('pvc-skill', fromSnapshot(s.snapshot_id));
      helpers = chainOf(dest);
      expect(helpers).toHaveLength(2);
      d2 = await killedAfterDestDelete(helpers[0]!, (drv) =>
        drv.client.call('DeleteVolume', { volume_id: `sim/${dest}` }),
      );
      expect(sim.array.volume(dest)).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    try {
      await d2.client.call('DeleteSnapshot', { snapshot_id: s.snapshot_id });
      await d2.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await d2.stop();
    }
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(arrayName(s.snapshot_id))).toBeUndefined();
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test('a copy of a read-write group snapshot member deleted by a driver killed before its helpers went: the group still deletes', async () => {
    const v = await volume('pvc-gkill-src');
    const g = (
      await d.group.call('CreateVolumeGroupSnapshot', {
        name: 'group-gkill',
        source_volume_ids: [v.volume_id],
        parameters: { readOnly: 'false' },
      })
    ).group_snapshot!;
    const member = g.snapshots[0]!;
    const dest = arrayNameFor('volume', CLUSTER, 'pvc-gkill');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let d2: Driver;
    try {
      await volume('pvc-gkill', fromSnapshot(member.snapshot_id));
      helpers = chainOf(dest);
      expect(helpers).toHaveLength(2);
      // Straight from the writable member: no temporary source between them.
      expect(sim.array.volumeById(sim.array.volume(helpers[1]!)!.parentId!)!.name).toBe(arrayName(member.snapshot_id));
      d2 = await killedAfterDestDelete(helpers[0]!, (drv) =>
        drv.client.call('DeleteVolume', { volume_id: `sim/${dest}` }),
      );
      expect(sim.array.volume(dest)).toBeUndefined();
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    try {
      // Before the fix: FAILED_PRECONDITION "member … is in use", for ever.
      await d2.group.call('DeleteVolumeGroupSnapshot', {
        group_snapshot_id: g.group_snapshot_id,
        snapshot_ids: [member.snapshot_id],
      });
      await d2.client.call('DeleteVolume', { volume_id: v.volume_id });
    } finally {
      await d2.stop();
    }
    expect(present(helpers)).toEqual([]);
    expect(sim.array.volume(arrayName(member.snapshot_id))).toBeUndefined();
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test('an array that refuses a comment on its helper snapshots ([U]): they are deleted unmarked, as before', async () => {
    const v = await volume('pvc-hrefuse-src');
    const src = arrayName(v.volume_id);
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      const c = await volume('pvc-hrefuse', fromVolume(v.volume_id));
      helpers = chainOf(arrayName(c.volume_id));
      sim.faults.set({ helperSnapshotComment: 'refuse' });
      await d.client.call('DeleteVolume', { volume_id: c.volume_id });
      expect(sim.array.volume(arrayName(c.volume_id))).toBeUndefined();
    } finally {
      sim.faults.set({ helperSnapshotComment: 'accept', copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(src)).toBeUndefined();
  });

  test('a clone deleted mid-copy: its helpers carry the mark before the destination goes', async () => {
    const v = await volume('pvc-hmark-src');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    let c: Vol;
    const hold = sim.faults.hold({ method: 'DELETE', path: '^/api/v1/volumes/csv-' });
    try {
      c = await volume('pvc-hmark', fromVolume(v.volume_id));
      helpers = chainOf(arrayName(c.volume_id));
      const deleting = d.client.call('DeleteVolume', { volume_id: c.volume_id });
      await hold.arrived();
      // The destination's delete is on its way: its helpers are already this cluster's.
      for (const h of helpers)
        expect(JSON.parse(sim.array.volume(h)!.comment!)).toEqual({
          v: 1,
          hd: DRIVER,
          hc: CLUSTER,
          h: arrayName(c.volume_id),
        });
      hold.release();
      await deleting;
    } finally {
      hold.release();
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test.each([
    ['unmarked, named like helpers', 'none', undefined],
    [
      "marked as another cluster's helpers",
      'cluster',
      JSON.stringify({ v: 1, hd: DRIVER, hc: 'cluster-b', h: 'csv-x' }),
    ],
    [
      "marked as another cluster's helpers (the mark's first form)",
      'cluster1',
      JSON.stringify({ v: 1, d: DRIVER, c: 'cluster-b', h: 'csv-x' }),
    ],
    [
      "marked by another driver with this cluster's id",
      'driver',
      JSON.stringify({ v: 1, hd: 'other.example.com', hc: CLUSTER, h: 'csv-x' }),
    ],
  ])('snapshots %s under a source are never deleted (FAILED_PRECONDITION)', async (_what, tag, c) => {
    const v = await volume(`pvc-alike-${tag}`);
    const src = arrayName(v.volume_id);
    await wsapi.volumes.createSnapshot(src, { name: `${src}.ro`, readOnly: true, ...(c && { comment: c }) });
    await wsapi.volumes.createSnapshot(`${src}.ro`, {
      name: `${src}.ro.rw`,
      readOnly: false,
      ...(c && { comment: c }),
    });
    const alike = [`${src}.ro.rw`, `${src}.ro`];
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(present(alike)).toEqual(alike);
    expect(sim.array.volume(src)).toBeDefined();
    const snaps = await d.client.call('ListSnapshots', { source_volume_id: v.volume_id });
    expect(snaps.entries).toEqual([]);
    for (const h of alike) await wsapi.volumes.delete(h);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(src)).toBeUndefined();
  });

  test('the source of a running copy is not soft-deleted (ABORTED); once the copy ended it is deleted', async () => {
    const v = await volume('pvc-busysrc');
    sim.faults.set({ copyRateMiBps: 0.001 });
    let c: Vol;
    try {
      c = await volume('pvc-busysrc-clone', fromVolume(v.volume_id));
      expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(grpcStatus.ABORTED);
      expect(sim.array.volume(arrayName(v.volume_id))).toBeDefined();
      expect(tombstonesOf('pvc-busysrc')).toEqual([]);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    const task = sim.array.tasks.find((t) => t.name === arrayName(c.volume_id))!;
    await until(() => task.status !== 2);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
    expect(tombstonesOf('pvc-busysrc')).toEqual([]);
    await d.client.call('DeleteVolume', { volume_id: c.volume_id });
  });

  test('a restore whose copy stopped after its destination went (a kill mid-cleanup) leaves no helper that blocks DeleteSnapshot', async () => {
    const v = await volume('pvc-rkill-src');
    const s = await snapshot('snap-rkill', v.volume_id);
    const dest = arrayNameFor('volume', CLUSTER, 'pvc-rkill');
    sim.faults.set({ copyRateMiBps: 0.001 });
    try {
      await volume('pvc-rkill', fromSnapshot(s.snapshot_id));
      // What a driver killed between the destination's delete and its helpers' leaves: the copy
      // stopped, the destination gone, the array's helpers under the temporary read-write source.
      const task = activeTasks().find((t) => t.name === dest)!;
      await wsapi.tasks.cancel(task.id);
      await wsapi.volumes.delete(dest);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    // Before the fix: FAILED_PRECONDITION "in use on the array" at every retry, for ever.
    await d.client.call('DeleteSnapshot', { snapshot_id: s.snapshot_id });
    expect(sim.array.volume(arrayName(s.snapshot_id))).toBeUndefined();
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test("helper snapshots another tool's stopped copy left behind keep the source (FAILED_PRECONDITION naming them), as any foreign snapshot", async () => {
    const v = await volume('pvc-left-src');
    const src = arrayName(v.volume_id);
    // Another client (an older driver, an admin with python-3parclient) stopped a copy and deleted only its
    // destination.
    sim.faults.set({ copyRateMiBps: 0.001 });
    let helpers: string[];
    try {
      const { taskId } = await wsapi.volumes.createPhysicalCopy(src, {
        destVolume: 'left-dst',
        online: true,
        destCPG: 'CPG1',
        tpvv: true,
      });
      helpers = chainOf('left-dst');
      await wsapi.tasks.cancel(taskId);
      await wsapi.volumes.delete('left-dst');
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(present(helpers)).toHaveLength(2);
    // Nothing tells them from an admin's read-only snapshot with a writable child: the driver keeps them.
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(present(helpers)).toHaveLength(2);
    expect(tombstonesOf('pvc-left-src')).toEqual([]);
    for (const h of helpers) await wsapi.volumes.delete(h);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(src)).toBeUndefined();
  });

  test("an admin's unmarked read-only snapshot with a read-write child (a stopped copy's shape) is never deleted", async () => {
    const v = await volume('pvc-admin-pair');
    const src = arrayName(v.volume_id);
    // createsv -ro, then a writable snapshot of it for a backup host: no comments, nothing below the read-write one.
    await wsapi.volumes.createSnapshot(src, { name: 'adm-ro', readOnly: true });
    await wsapi.volumes.createSnapshot('adm-ro', { name: 'adm-rw', readOnly: false });
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(present(['adm-ro', 'adm-rw'])).toEqual(['adm-ro', 'adm-rw']);
    expect(sim.array.volume(src)).toBeDefined();
    expect(tombstonesOf('pvc-admin-pair')).toEqual([]);
    await wsapi.volumes.delete('adm-rw');
    await wsapi.volumes.delete('adm-ro');
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(src)).toBeUndefined();
  });

  test.each([['created empty', false] as const, ['a clone', true] as const])(
    "an admin's offline copy into a volume %s (a restore from their snapshot) keeps that snapshot when the volume is deleted",
    async (_what, clone) => {
      const other = await volume(`pvc-restore-from-${clone}`);
      const v = await volume(`pvc-restored-${clone}`, clone ? fromVolume(other.volume_id) : {});
      await until(() => sim.array.volume(arrayName(v.volume_id))?.parentId === undefined);
      // The admin restores data into the PV from an unmarked writable snapshot of another volume (createvvcopy -p,
      // offline).
      await wsapi.volumes.createSnapshot(arrayName(other.volume_id), { name: 'adm-restore', readOnly: false });
      const { taskId } = await wsapi.volumes.createPhysicalCopy('adm-restore', { destVolume: arrayName(v.volume_id) });
      await until(() => sim.array.tasks.find((t) => t.id === taskId)?.status !== 2);
      expect(sim.array.volume(arrayName(v.volume_id))?.copyType).toBe(2);
      await d.client.call('DeleteVolume', { volume_id: v.volume_id });
      expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
      expect(present(['adm-restore'])).toEqual(['adm-restore']);
      await wsapi.volumes.delete('adm-restore');
      await d.client.call('DeleteVolume', { volume_id: other.volume_id });
    },
  );

  test('a tombstone whose snapshots are gone is swept at the next delete', async () => {
    const v = await volume('pvc-sweep');
    const s = await snapshot('snap-sweep', v.volume_id);
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(tombstonesOf('pvc-sweep')).toHaveLength(1);
    // The snapshot goes without the driver (an admin, or a crash before the tombstone's delete).
    await wsapi.volumes.delete(arrayName(s.snapshot_id));
    const d2 = await startDriver([backendOf(sim, 'sim')]);
    try {
      const other = await volume('pvc-sweep-other', {}, d2);
      await d2.client.call('DeleteVolume', { volume_id: other.volume_id });
    } finally {
      await d2.stop();
    }
    expect(tombstonesOf('pvc-sweep')).toEqual([]);
  });
});

describe('the end of the suite', () => {
  test('deleting everything leaves no volume, snapshot, task or host behind', async () => {
    const snaps = await d.client.call('ListSnapshots', {});
    for (const e of snaps.entries) await d.client.call('DeleteSnapshot', { snapshot_id: e.snapshot!.snapshot_id });
    const vols = await d.client.call('ListVolumes', {});
    for (const e of vols.entries) await d.client.call('DeleteVolume', { volume_id: e.volume!.volume_id });
    expect(sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(activeTasks()).toHaveLength(0);
    expect(sim.array.hosts).toHaveLength(0);
  });
});
