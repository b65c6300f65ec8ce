/**
 * Conformance, GroupController beyond the basic RPC checks of group-snapshots.test.ts: which
 * modes serve and advertise it, concurrent identical creates (the spec's "operation pending"),
 * one point in time for every member, class parameters, sources deleted while the group exists
 * (members keep naming them; the group delete takes the soft-deleted volumes along), and no
 * temporary VV set or volume left on the array.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { codeOf, CsiTestClient, grpcStatus } from '../helpers/grpc.js';
import { arrayName, startSanity, type Sanity } from './harness.js';
import type { VolumeGroupSnapshot__Output as Group } from '../../src/gen/csi/v1/VolumeGroupSnapshot.js';

let s: Sanity;
beforeAll(async () => {
  s = await startSanity();
});
afterAll(async () => {
  await s.close();
});

const create = (name: string) => s.createVolume(name).then((v) => v.volume_id);
const group = (name: string, sources: string[], parameters: Record<string, string> = {}) =>
  s.group
    .call('CreateVolumeGroupSnapshot', { name, source_volume_ids: sources, parameters })
    .then((r) => r.group_snapshot!);
const delGroup = (g: Group) =>
  s.group.call('DeleteVolumeGroupSnapshot', {
    group_snapshot_id: g.group_snapshot_id,
    snapshot_ids: g.snapshots.map((x) => x.snapshot_id),
  });
const pluginServices = async (id: CsiTestClient<'Identity'>) =>
  (await id.call('GetPluginCapabilities')).capabilities.map((c) => c.service?.type);

describe('served where the controller is', () => {
  test('mode all advertises GROUP_CONTROLLER_SERVICE and serves CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT', async () => {
    expect(await pluginServices(s.identity)).toContain('GROUP_CONTROLLER_SERVICE');
    const caps = await s.group.call('GroupControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toEqual(['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT']);
  });

  test('mode node neither advertises nor serves it', async () => {
    const node = await startSanity({ mode: 'node' });
    try {
      expect(await pluginServices(node.identity)).not.toContain('GROUP_CONTROLLER_SERVICE');
      expect(await codeOf(node.group.call('GroupControllerGetCapabilities'))).toBe(grpcStatus.UNIMPLEMENTED);
    } finally {
      await node.close();
    }
  });
});

describe('CreateVolumeGroupSnapshot', () => {
  test('concurrent identical requests: the same group or ABORTED, one set of members, no VV set left', async () => {
    const a = await create('sanity-grp-race-a');
    const b = await create('sanity-grp-race-b');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => group('sanity-grp-race', [a, b])));
    const ok = results.filter((r): r is PromiseFulfilledResult<Group> => r.status === 'fulfilled').map((r) => r.value);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as { code: number }).code).toBe(grpcStatus.ABORTED);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((g) => g.group_snapshot_id)).size).toBe(1);
    const stem = arrayName(ok[0]!.group_snapshot_id);
    expect(s.sim.array.volumes.filter((v) => v.name.startsWith(`${stem}-`))).toHaveLength(2);
    expect(s.sim.array.volumeSets).toEqual([]);
    await delGroup(ok[0]!);
    for (const id of [a, b]) await s.controller.call('DeleteVolume', { volume_id: id });
  });

  test('every member is taken at one point in time, and names its own source', async () => {
    const ids = [
      await create('sanity-grp-time-a'),
      await create('sanity-grp-time-b'),
      await create('sanity-grp-time-c'),
    ];
    s.sim.resetRequests();
    const g = await group('sanity-grp-time', ids);
    // One request to the array made every member: a VV-set snapshot, none per volume.
    const posts = s.sim.requests.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(posts).toHaveLength(2);
    expect(posts[0]).toBe('/api/v1/volumesets');
    expect(posts[1]).toMatch(/^\/api\/v1\/volumesets\/[^/]+$/);
    expect(
      Math.max(...g.snapshots.map((m) => Number(m.creation_time?.seconds))) -
        Math.min(...g.snapshots.map((m) => Number(m.creation_time?.seconds))),
    ).toBeLessThanOrEqual(1);
    expect(g.snapshots.map((m) => m.source_volume_id).sort()).toEqual([...ids].sort());
    for (const m of g.snapshots) {
      const got = await s.controller.call('GetSnapshot', { snapshot_id: m.snapshot_id });
      expect(got.snapshot).toMatchObject({
        source_volume_id: m.source_volume_id,
        group_snapshot_id: g.group_snapshot_id,
      });
    }
    await delGroup(g);
    for (const id of ids) await s.controller.call('DeleteVolume', { volume_id: id });
  });

  test('class parameters: an unknown key → INVALID_ARGUMENT; the extra-metadata keys are accepted', async () => {
    const a = await create('sanity-grp-params');
    expect(await codeOf(group('sanity-grp-params', [a], { bogus: 'x' }))).toBe(grpcStatus.INVALID_ARGUMENT);
    const g = await group('sanity-grp-params', [a], {
      'csi.storage.k8s.io/volumegroupsnapshot/name': 'vgs',
      'csi.storage.k8s.io/volumegroupsnapshot/namespace': 'ns',
      'csi.storage.k8s.io/volumegroupsnapshotcontent/name': 'vgsc',
    });
    expect(g.snapshots).toHaveLength(1);
    await delGroup(g);
    await s.controller.call('DeleteVolume', { volume_id: a });
  });
});

describe('sources deleted while the group exists', () => {
  test('members keep naming the deleted sources; deleting the group leaves nothing', async () => {
    const a = await create('sanity-grp-gone-a');
    const b = await create('sanity-grp-gone-b');
    const g = await group('sanity-grp-gone', [a, b]);
    for (const id of [a, b]) await s.controller.call('DeleteVolume', { volume_id: id });
    const listed = await s.controller.call('ListVolumes', {});
    expect(listed.entries.map((e) => e.volume!.volume_id).filter((id) => id === a || id === b)).toEqual([]);
    const got = await s.group.call('GetVolumeGroupSnapshot', {
      group_snapshot_id: g.group_snapshot_id,
      snapshot_ids: g.snapshots.map((m) => m.snapshot_id),
    });
    expect(got.group_snapshot!.snapshots.map((m) => m.source_volume_id).sort()).toEqual([a, b].sort());
    await delGroup(g);
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(s.sim.array.volumeSets).toEqual([]);
  });
});
