/**
 * GroupController over gRPC against the simulator with its data plane: a group snapshot of three
 * volumes holding different data is consistent (each member holds its source's bytes as they
 * were at the snapshot), idempotent by name, answers every error case with the spec's code and
 * leaves nothing behind on failure; members are ordinary snapshots that carry the group id,
 * restore like any snapshot and are deleted only with their group; no temporary VV set remains.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import {
  arrayRequests,
  backendOf,
  CLUSTER,
  GiB,
  mountCap,
  startDriver,
  startSim,
  type Driver,
} from '../helpers/controller-harness.js';
import { waitFor } from '../helpers/wait.js';
import type { VolumeGroupSnapshot__Output as Group } from '../../src/gen/csi/v1/VolumeGroupSnapshot.js';

let sim: RunningSimulator;
let d: Driver;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'group-sim-'));
  sim = await startSim({ dataDir });
  // A second backend id over the same array: only to show that a group never spans backends.
  d = await startDriver([backendOf(sim, 'sim', { default: true }), backendOf(sim, 'sim2')]);
});
afterAll(async () => {
  await d.stop();
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const arrayName = (id: string) => id.split('/')[1]!;
const volume = (name: string, parameters: Record<string, string> = { cpg: 'CPG1' }) =>
  d.client
    .call('CreateVolume', {
      name,
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters,
    })
    .then((r) => r.volume!.volume_id);
const createGroup = (name: string, sources: string[], parameters: Record<string, string> = {}) =>
  d.group
    .call('CreateVolumeGroupSnapshot', { name, source_volume_ids: sources, parameters })
    .then((r) => r.group_snapshot!);
const deleteGroup = (g: Group) =>
  d.group.call('DeleteVolumeGroupSnapshot', {
    group_snapshot_id: g.group_snapshot_id,
    snapshot_ids: g.snapshots.map((s) => s.snapshot_id),
  });

/** The backing file of an array volume (the simulator's data plane). */
const fileOf = (id: string) => join(dataDir, 'volumes', `${sim.array.volume(arrayName(id))!.wwn}.img`);
function writeAt(id: string, text: string, offset = 0): void {
  const fd = openSync(fileOf(id), 'r+');
  writeSync(fd, Buffer.from(text), 0, text.length, offset);
  closeSync(fd);
}
function readAt(id: string, length: number, offset = 0): string {
  const fd = openSync(fileOf(id), 'r');
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, offset);
  closeSync(fd);
  return buf.toString();
}
const leftoverSets = () => sim.array.state.volumeSets.map((s) => s.name);

describe('CreateVolumeGroupSnapshot', () => {
  let sources: string[] = [];
  let group: Group;

  beforeAll(async () => {
    sources = [await volume('pvc-g-a'), await volume('pvc-g-b'), await volume('pvc-g-c')];
    sources.forEach((id, i) => writeAt(id, `volume-${'abc'[i]}-before`, 4096 * i));
  });

  test('one VV-set snapshot: consistent members, markers, no temporary set, 13 WSAPI requests', async () => {
    sim.resetRequests();
    group = await createGroup('groupsnapshot-1', sources, {
      'csi.storage.k8s.io/volumegroupsnapshot/name': 'vgs',
      'csi.storage.k8s.io/volumegroupsnapshot/namespace': 'ns',
      description: 'nightly',
    });
    const requests = arrayRequests(sim);
    // GET member 0 (absent), GET each source, create set, set snapshot, delete set, GET + mark each member.
    expect(requests.filter((r) => r.startsWith('POST /api/v1/volumesets'))).toHaveLength(2);
    expect(requests).toHaveLength(4 + 3 * sources.length);
    expect(group.group_snapshot_id).toMatch(/^sim\/csg-[a-z2-7]{20}$/);
    expect(group.ready_to_use).toBe(true);
    expect(Number(group.creation_time!.seconds)).toBeGreaterThan(0);
    expect(group.snapshots.map((s) => s.source_volume_id)).toEqual(sources);
    const stem = arrayName(group.group_snapshot_id);
    group.snapshots.forEach((s, i) => {
      expect(s).toMatchObject({
        snapshot_id: `sim/${stem}-${i}`,
        group_snapshot_id: group.group_snapshot_id,
        ready_to_use: true,
      });
      const rec = sim.array.volume(arrayName(s.snapshot_id))!;
      expect(rec.readOnly).toBe(true);
      expect(JSON.parse(rec.comment!)).toMatchObject({
        c: CLUSTER,
        n: 'groupsnapshot-1',
        g: stem,
        i,
        k: 3,
        pvc: 'ns/vgs',
        desc: 'nightly',
      });
    });
    expect(leftoverSets()).toEqual([]);
    // The sources change after the snapshot; each member keeps its source's bytes of that moment.
    sources.forEach((id, i) => writeAt(id, `volume-${'abc'[i]}-AFTER!`, 4096 * i));
    group.snapshots.forEach((s, i) => expect(readAt(s.snapshot_id, 15, 4096 * i)).toBe(`volume-${'abc'[i]}-before`));
    expect(readAt(sources[1]!, 15, 4096)).toBe('volume-b-AFTER!');
  });

  test('idempotent by name: the same group with k GETs; other sources or parameters → ALREADY_EXISTS', async () => {
    sim.resetRequests();
    const again = await createGroup('groupsnapshot-1', sources);
    expect(arrayRequests(sim)).toEqual(group.snapshots.map((s) => `GET /api/v1/volumes/${arrayName(s.snapshot_id)}`));
    expect(again.snapshots.map((s) => s.snapshot_id)).toEqual(group.snapshots.map((s) => s.snapshot_id));
    // The order of the ids does not make another request.
    expect((await createGroup('groupsnapshot-1', [...sources].reverse())).group_snapshot_id).toBe(
      group.group_snapshot_id,
    );
    expect(await codeOf(createGroup('groupsnapshot-1', sources.slice(0, 2)))).toBe(grpcStatus.ALREADY_EXISTS);
    expect(await codeOf(createGroup('groupsnapshot-1', sources, { readOnly: 'false' }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
  });

  test('members are snapshots carrying the group id; DeleteSnapshot of one → INVALID_ARGUMENT', async () => {
    const member = group.snapshots[1]!;
    const got = await d.client.call('GetSnapshot', { snapshot_id: member.snapshot_id });
    expect(got.snapshot).toMatchObject({ group_snapshot_id: group.group_snapshot_id, source_volume_id: sources[1] });
    const listed = await d.client.call('ListSnapshots', { source_volume_id: sources[2] });
    expect(listed.entries.map((e) => e.snapshot!.group_snapshot_id)).toEqual([group.group_snapshot_id]);
    expect(await codeOf(d.client.call('DeleteSnapshot', { snapshot_id: member.snapshot_id }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(sim.array.volume(arrayName(member.snapshot_id))).toBeDefined();
  });

  test('GetVolumeGroupSnapshot: the group; mismatched snapshot_ids → INVALID_ARGUMENT; unknown → NOT_FOUND', async () => {
    const ids = group.snapshots.map((s) => s.snapshot_id);
    const got = await d.group.call('GetVolumeGroupSnapshot', {
      group_snapshot_id: group.group_snapshot_id,
      snapshot_ids: ids,
    });
    expect(got.group_snapshot!.snapshots.map((s) => s.snapshot_id)).toEqual(ids);
    expect(
      (await d.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: group.group_snapshot_id })).group_snapshot!
        .group_snapshot_id,
    ).toBe(group.group_snapshot_id);
    expect(
      await codeOf(
        d.group.call('GetVolumeGroupSnapshot', {
          group_snapshot_id: group.group_snapshot_id,
          snapshot_ids: ids.slice(1),
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(d.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: 'sim/csg-nothere' }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    expect(await codeOf(d.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: 'nobackend/csg-x' }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    expect(await codeOf(d.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: '' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('a member restores like any snapshot, with its source content of the snapshot moment', async () => {
    const member = group.snapshots[2]!;
    const restored = await d.client.call('CreateVolume', {
      name: 'pvc-g-restore',
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1' },
      volume_content_source: { snapshot: { snapshot_id: member.snapshot_id } },
    });
    const id = restored.volume!.volume_id;
    await waitFor('the restore copy task to end', () => !sim.array.tasks.some((t) => t.status === 2));
    expect(readAt(id, 15, 8192)).toBe('volume-c-before');
    await d.client.call('DeleteVolume', { volume_id: id });
  });

  test('DeleteVolumeGroupSnapshot: mismatched ids → INVALID_ARGUMENT; then all members go; repeats succeed', async () => {
    const stem = arrayName(group.group_snapshot_id);
    expect(
      await codeOf(
        d.group.call('DeleteVolumeGroupSnapshot', {
          group_snapshot_id: group.group_snapshot_id,
          snapshot_ids: ['sim/css-other'],
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(sim.array.volumes.filter((v) => v.name.startsWith(stem))).toHaveLength(3);
    sim.resetRequests();
    await deleteGroup(group);
    // k GETs, k DELETEs.
    expect(arrayRequests(sim)).toHaveLength(6);
    expect(sim.array.volumes.filter((v) => v.name.startsWith(stem))).toEqual([]);
    await deleteGroup(group);
    await d.group.call('DeleteVolumeGroupSnapshot', { group_snapshot_id: 'sim/csg-nothere', snapshot_ids: [] });
    await d.group.call('DeleteVolumeGroupSnapshot', {
      group_snapshot_id: 'unknown/csg-x',
      snapshot_ids: ['unknown/csg-x-0'],
    });
    expect(await codeOf(d.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: group.group_snapshot_id }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    // The name is free again: a new group of the same name is taken afresh.
    const again = await createGroup('groupsnapshot-1', sources);
    expect(again.group_snapshot_id).toBe(group.group_snapshot_id);
    await deleteGroup(again);
  });
});

describe('errors leave nothing behind', () => {
  let a = '';
  let b = '';
  beforeAll(async () => {
    a = await volume('pvc-g-err-a');
    b = await volume('pvc-g-err-b');
  });
  const members = () => sim.array.volumes.filter((v) => v.name.startsWith('csg-')).map((v) => v.name);

  test('INVALID_ARGUMENT for a missing name, no sources, a repeated source, an unknown parameter', async () => {
    expect(await codeOf(createGroup('', [a]))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(createGroup('g-x', []))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(createGroup('g-x', [a, a]))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(createGroup('g-x', [a], { retention: '1' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(createGroup('g-x', [a], { expirationHours: '2' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(d.group.call('DeleteVolumeGroupSnapshot', { group_snapshot_id: '' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('a missing source → NOT_FOUND; sources on two backends → FAILED_PRECONDITION', async () => {
    expect(await codeOf(createGroup('g-missing', [a, 'sim/csv-aaaaaaaaaaaaaaaaaaaa']))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(createGroup('g-missing', [a, 'nobackend/csv-x']))).toBe(grpcStatus.NOT_FOUND);
    const snap = (await d.client.call('CreateSnapshot', { name: 'snap-not-a-volume', source_volume_id: a })).snapshot!;
    expect(await codeOf(createGroup('g-missing', [a, snap.snapshot_id]))).toBe(grpcStatus.NOT_FOUND);
    await d.client.call('DeleteSnapshot', { snapshot_id: snap.snapshot_id });
    expect(await codeOf(createGroup('g-two', [a, `sim2/${arrayName(b)}`]))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(members()).toEqual([]);
    expect(leftoverSets()).toEqual([]);
  });

  test('the set snapshot refused, or a member not marked: nothing remains, and the retry succeeds', async () => {
    sim.faults.add({
      type: 'error',
      status: 503,
      code: 270,
      match: { method: 'POST', path: '^/api/v1/volumesets/', action: 'createSnapshot' },
      count: 1,
    });
    expect(await codeOf(createGroup('g-fail', [a, b]))).toBe(grpcStatus.UNAVAILABLE);
    expect(members()).toEqual([]);
    expect(leftoverSets()).toEqual([]);
    sim.faults.add({
      type: 'error',
      status: 500,
      code: 1,
      match: { method: 'PUT', path: '^/api/v1/volumes/csg-.*-1$' },
      count: 1,
    });
    expect(await codeOf(createGroup('g-fail', [a, b]))).toBe(grpcStatus.INTERNAL);
    expect(members()).toEqual([]);
    expect(leftoverSets()).toEqual([]);
    const g = await createGroup('g-fail', [a, b]);
    expect(g.snapshots).toHaveLength(2);
    await deleteGroup(g);
  });

  test('a lost answer to the set snapshot: what was made is removed, the retry makes the group whole', async () => {
    sim.faults.add({
      type: 'drop',
      when: 'after',
      match: { method: 'POST', path: '^/api/v1/volumesets/', action: 'createSnapshot' },
      count: 1,
    });
    const first = await codeOf(createGroup('g-drop', [a, b]));
    expect([grpcStatus.UNAVAILABLE, grpcStatus.INTERNAL]).toContain(first);
    const g = await createGroup('g-drop', [a, b]);
    expect(g.snapshots.map((s) => s.source_volume_id)).toEqual([a, b]);
    g.snapshots.forEach((s, i) =>
      expect(JSON.parse(sim.array.volume(arrayName(s.snapshot_id))!.comment!)).toMatchObject({ i, k: 2 }),
    );
    expect(leftoverSets()).toEqual([]);
    await deleteGroup(g);
    expect(members()).toEqual([]);
  });

  test('an attempt stopped before marking (its clean-up failed too): the retry finishes the members, nothing extra', async () => {
    // The answer to the set snapshot is lost, and the clean-up's deletes fail: the members stay,
    // carrying only the group-wide marker (no index), as after a crash at that point.
    sim.faults.add({
      type: 'drop',
      when: 'after',
      match: { method: 'POST', path: '^/api/v1/volumesets/', action: 'createSnapshot' },
      count: 1,
    });
    sim.faults.add({
      type: 'error',
      status: 503,
      code: 270,
      match: { method: 'DELETE', path: '^/api/v1/volumes/csg-' },
      count: 2,
    });
    await codeOf(createGroup('g-crash', [a, b]));
    const left = members();
    expect(left).toHaveLength(2);
    for (const name of left) expect(JSON.parse(sim.array.volume(name)!.comment!)).toMatchObject({ k: 2 });
    for (const name of left) expect(JSON.parse(sim.array.volume(name)!.comment!)['i']).toBeUndefined();
    // A member alone still cannot be deleted: it already names its group.
    expect(await codeOf(d.client.call('DeleteSnapshot', { snapshot_id: `sim/${left[0]}` }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    const g = await createGroup('g-crash', [a, b]);
    expect(g.snapshots.map((s) => s.source_volume_id)).toEqual([a, b]);
    g.snapshots.forEach((s, i) =>
      expect(JSON.parse(sim.array.volume(arrayName(s.snapshot_id))!.comment!)).toMatchObject({ i, k: 2 }),
    );
    expect(members()).toHaveLength(2);
    expect(leftoverSets()).toEqual([]);
    await deleteGroup(g);
    expect(members()).toEqual([]);
  });

  test('a member the array will not delete (it has a child) → FAILED_PRECONDITION; the retry finishes', async () => {
    const g = await createGroup('g-busy', [a, b]);
    sim.faults.add({
      type: 'error',
      status: 409,
      code: 32,
      match: { method: 'DELETE', path: '^/api/v1/volumes/csg-.*-0$' },
      count: 1,
    });
    expect(await codeOf(deleteGroup(g))).toBe(grpcStatus.FAILED_PRECONDITION);
    // Member 0 goes last, so the group is still found and the retry deletes the rest.
    expect(sim.array.volume(arrayName(g.snapshots[0]!.snapshot_id))).toBeDefined();
    expect(sim.array.volume(arrayName(g.snapshots[1]!.snapshot_id))).toBeUndefined();
    await deleteGroup(g);
    expect(members()).toEqual([]);
  });

  test('GroupControllerGetCapabilities', async () => {
    const caps = await d.group.call('GroupControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toEqual(['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT']);
  });
});
