/**
 * Conformance: the GroupController service (volume group snapshots), which the driver in mode
 * all advertises (GROUP_CONTROLLER_SERVICE, CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT; asserted) —
 * create / get / delete with their repeats and errors, members as snapshots of their sources,
 * restore from a member, and nothing left on the array.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { arrayName, eventually, mountCap, startSanity, type Obj, type Sanity } from './harness.js';
import type { VolumeGroupSnapshot__Output as Group } from '../../src/gen/csi/v1/VolumeGroupSnapshot.js';

let s: Sanity;
beforeAll(async () => {
  s = await startSanity();
});
afterAll(async () => {
  await s.close();
});

// The suite's configuration is fixed (mode all): the capability is asserted, not tested for.
test('GROUP_CONTROLLER_SERVICE and CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT are advertised', async () => {
  const plugin = await s.identity.call('GetPluginCapabilities');
  expect(plugin.capabilities.some((c) => c.service?.type === 'GROUP_CONTROLLER_SERVICE')).toBe(true);
  const caps = await s.group.call('GroupControllerGetCapabilities');
  expect(caps.capabilities.map((c) => c.rpc!.type)).toContain('CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT');
});

const create = (name: string) => s.createVolume(name).then((v) => v.volume_id);
const group = (name: string, sources: string[], extra: Obj = {}) =>
  s.group
    .call('CreateVolumeGroupSnapshot', { name, source_volume_ids: sources, ...extra })
    .then((r) => r.group_snapshot!);
const delGroup = (g: Group) =>
  s.group.call('DeleteVolumeGroupSnapshot', {
    group_snapshot_id: g.group_snapshot_id,
    snapshot_ids: g.snapshots.map((x) => x.snapshot_id),
  });
const activeTasks = () => s.sim.array.tasks.filter((t) => t.status === 2).length;

describe('CreateVolumeGroupSnapshot', () => {
  test('one snapshot per source, each naming its source and the group; ready; a repeat returns the same group', async () => {
    const a = await create('sanity-group-a');
    const b = await create('sanity-group-b');
    const g = await group('sanity-group-1', [a, b]);
    expect(g.group_snapshot_id).not.toBe('');
    expect(g.ready_to_use).toBe(true);
    expect(Number(g.creation_time?.seconds ?? 0)).toBeGreaterThan(0);
    expect(g.snapshots.map((x) => x.source_volume_id).sort()).toEqual([a, b].sort());
    for (const m of g.snapshots) {
      expect(m.group_snapshot_id).toBe(g.group_snapshot_id);
      expect(m.ready_to_use).toBe(true);
      expect(s.sim.array.volume(arrayName(m.snapshot_id))).toBeDefined();
    }
    const count = s.sim.array.volumes.length;
    const again = await group('sanity-group-1', [a, b]);
    expect(again.group_snapshot_id).toBe(g.group_snapshot_id);
    expect(again.snapshots.map((x) => x.snapshot_id).sort()).toEqual(g.snapshots.map((x) => x.snapshot_id).sort());
    expect(s.sim.array.volumes.length).toBe(count);
    // Members are listed as snapshots and can be restored like any snapshot.
    const listed = await s.controller.call('ListSnapshots', { snapshot_id: g.snapshots[0]!.snapshot_id });
    expect(listed.entries[0]?.snapshot!.group_snapshot_id).toBe(g.group_snapshot_id);
    const restored = await s.controller.call('CreateVolume', {
      name: 'sanity-group-restore',
      volume_capabilities: [mountCap()],
      volume_content_source: { snapshot: { snapshot_id: g.snapshots[0]!.snapshot_id } },
    });
    await eventually(() => activeTasks() === 0);
    await s.controller.call('DeleteVolume', { volume_id: restored.volume!.volume_id });
    // A member alone cannot be deleted: the group goes as a whole.
    const code = await codeOf(s.controller.call('DeleteSnapshot', { snapshot_id: g.snapshots[0]!.snapshot_id }));
    expect([grpcStatus.INVALID_ARGUMENT, grpcStatus.FAILED_PRECONDITION]).toContain(code);
    expect(s.sim.array.volume(arrayName(g.snapshots[0]!.snapshot_id))).toBeDefined();
    await delGroup(g);
    for (const m of g.snapshots) expect(s.sim.array.volume(arrayName(m.snapshot_id))).toBeUndefined();
    await delGroup(g);
    for (const id of [a, b]) await s.controller.call('DeleteVolume', { volume_id: id });
  });

  test('the same name with other sources → ALREADY_EXISTS', async () => {
    const a = await create('sanity-group-clash-a');
    const b = await create('sanity-group-clash-b');
    const g = await group('sanity-group-clash', [a]);
    expect(await codeOf(group('sanity-group-clash', [a, b]))).toBe(grpcStatus.ALREADY_EXISTS);
    await delGroup(g);
    for (const id of [a, b]) await s.controller.call('DeleteVolume', { volume_id: id });
  });

  test('no name, or no source volumes → INVALID_ARGUMENT; a source that does not exist → NOT_FOUND', async () => {
    const a = await create('sanity-group-errors');
    expect(await codeOf(s.group.call('CreateVolumeGroupSnapshot', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(s.group.call('CreateVolumeGroupSnapshot', { source_volume_ids: [a] }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(
      await codeOf(s.group.call('CreateVolumeGroupSnapshot', { name: 'sanity-group-nosrc', source_volume_ids: [] })),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(group('sanity-group-missing', [a, 'sim/csv-aaaaaaaaaaaaaaaaaaaa']))).toBe(grpcStatus.NOT_FOUND);
    await s.controller.call('DeleteVolume', { volume_id: a });
  });
});

describe('GetVolumeGroupSnapshot and DeleteVolumeGroupSnapshot', () => {
  test('get returns the group; no id → INVALID_ARGUMENT; unknown → NOT_FOUND; a snapshot list that does not match → INVALID_ARGUMENT', async () => {
    const a = await create('sanity-group-get-a');
    const b = await create('sanity-group-get-b');
    const g = await group('sanity-group-get', [a, b]);
    const ids = g.snapshots.map((x) => x.snapshot_id);
    const got = await s.group.call('GetVolumeGroupSnapshot', {
      group_snapshot_id: g.group_snapshot_id,
      snapshot_ids: ids,
    });
    expect(got.group_snapshot!.group_snapshot_id).toBe(g.group_snapshot_id);
    expect(got.group_snapshot!.snapshots.map((x) => x.snapshot_id).sort()).toEqual([...ids].sort());
    expect(await codeOf(s.group.call('GetVolumeGroupSnapshot', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(s.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: 'fake-vol-id' }))).toBe(
      grpcStatus.NOT_FOUND,
    );
    expect(
      await codeOf(
        s.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: [ids[0]!] }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      await codeOf(
        s.group.call('DeleteVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: [ids[0]!] }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    for (const id of ids) expect(s.sim.array.volume(arrayName(id))).toBeDefined();
    await delGroup(g);
    expect(
      await codeOf(
        s.group.call('GetVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: ids }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    for (const id of [a, b]) await s.controller.call('DeleteVolume', { volume_id: id });
  });

  test('delete: no id → INVALID_ARGUMENT; an unknown or malformed id succeeds', async () => {
    expect(await codeOf(s.group.call('DeleteVolumeGroupSnapshot', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    await s.group.call('DeleteVolumeGroupSnapshot', { group_snapshot_id: 'fake-vol-id' });
    await s.group.call('DeleteVolumeGroupSnapshot', { group_snapshot_id: 'sim/csg-aaaaaaaaaaaaaaaaaaaa' });
  });
});

describe('at the end', () => {
  test('the array holds no volume, snapshot or volume set', async () => {
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(s.sim.array.volumeSets.map((x) => x.name)).toEqual([]);
  });
});
