/**
 * ControllerPublish / ControllerUnpublish over gRPC against the simulator: host markers, VLUN
 * reuse, single-node rules, CHAP, import, races (also between two driver processes), request
 * counts, and no VLUN or host left behind.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { hostOwnerTag } from '../../src/array/marker.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import {
  arrayRequests,
  backendOf,
  blockCap,
  CLUSTER,
  DRIVER,
  GiB,
  iscsiNode,
  mountCap,
  startDriver,
  type Driver,
  startOnSim,
} from '../helpers/controller-harness.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';

let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim({ backend: { chap: { user: 'chapuser', secret: 'chapsecret12' } } }));
});
afterAll(() => stop());

async function volume(
  name: string,
  cap: Record<string, unknown> = mountCap(),
  params: Record<string, string> = {},
  drv: Driver = d,
): Promise<Volume> {
  return (
    await drv.client.call('CreateVolume', {
      name,
      volume_capabilities: [cap],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1', ...params },
    })
  ).volume!;
}

const publish = (
  v: Pick<Volume, 'volume_id' | 'volume_context'>,
  nodeId: string,
  cap: Record<string, unknown> = mountCap(),
  drv: Driver = d,
  extra: Record<string, unknown> = {},
) =>
  drv.client.call('ControllerPublishVolume', {
    volume_id: v.volume_id,
    node_id: nodeId,
    volume_capability: cap,
    readonly: false,
    volume_context: v.volume_context,
    ...extra,
  });
const unpublish = (volumeId: string, nodeId: string, drv: Driver = d) =>
  drv.client.call('ControllerUnpublishVolume', { volume_id: volumeId, node_id: nodeId });
const arrayName = (id: string) => id.split('/')[1]!;
const vlunsOf = (name: string) => sim.array.vluns.filter((l) => l.volumeId === sim.array.volume(name)?.id);

describe('ControllerPublishVolume', () => {
  test('creates the node host with the marker and CHAP, exports, and returns the targets', async () => {
    const v = await volume('pvc-pub-1');
    const node = iscsiNode('worker-1');
    const res = await publish(v, node);
    const rec = sim.array.volume(arrayName(v.volume_id))!;
    expect(res.publish_context).toMatchObject({ protocol: 'iscsi', lun: expect.stringMatching(/^\d+$/), wwn: rec.wwn });
    expect(res.publish_context['targetIqns']!.split(',').length).toBeGreaterThan(0);
    expect(res.publish_context['targetIqns']!.split(',').length).toBe(
      res.publish_context['targetPortals']!.split(',').length,
    );
    expect(res.publish_context['targetPortals']).toMatch(/^127\.0\.0\.\d+:3260/);
    expect(JSON.stringify(res.publish_context)).not.toContain('chapsecret12');
    const hosts = sim.array.hosts.filter((h) => h.iSCSINames.includes('iqn.1994-05.com.redhat:worker-1'));
    expect(hosts).toHaveLength(1);
    expect(JSON.parse(hosts[0]!.descriptors!['comment']!)).toEqual({ v: 1, o: hostOwnerTag(DRIVER, CLUSTER), n: node });
    expect(hosts[0]!.initiatorChap).toEqual({ name: 'chapuser', secret: 'chapsecret12' });
    expect(vlunsOf(rec.name)).toHaveLength(1);
  });

  test('a second volume to a known host takes at most 3 WSAPI requests; the repeat reuses the VLUN', async () => {
    const node = iscsiNode('worker-2');
    await publish(await volume('pvc-pub-2a'), node);
    const v = await volume('pvc-pub-2b');
    sim.resetRequests();
    const first = await publish(v, node);
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(3);
    sim.resetRequests();
    const again = await publish(v, node);
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(2);
    expect(again.publish_context['lun']).toBe(first.publish_context['lun']);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(1);
  });

  test('a read-only publish says so in publish_context', async () => {
    const v = await volume('pvc-ro', mountCap('MULTI_NODE_READER_ONLY'));
    const res = await publish(v, iscsiNode('worker-ro'), mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: true });
    expect(res.publish_context['readonly']).toBe('true');
  });

  test('a single-node volume published elsewhere → FAILED_PRECONDITION; a reader-many volume goes to both', async () => {
    const v = await volume('pvc-single');
    await publish(v, iscsiNode('worker-3'));
    expect(await codeOf(publish(v, iscsiNode('worker-4')))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(1);
    const many = await volume('pvc-many', mountCap('MULTI_NODE_READER_ONLY'));
    await publish(many, iscsiNode('worker-3'), mountCap('MULTI_NODE_READER_ONLY'));
    await publish(many, iscsiNode('worker-4'), mountCap('MULTI_NODE_READER_ONLY'));
    expect(vlunsOf(arrayName(many.volume_id))).toHaveLength(2);
  });

  test('DeleteVolume of an exported volume → FAILED_PRECONDITION, with or without snapshots', async () => {
    const v = await volume('pvc-exported');
    const node = iscsiNode('worker-del');
    await publish(v, node);
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    const snap = await d.client.call('CreateSnapshot', { name: 'snap-exported', source_volume_id: v.volume_id });
    expect(await codeOf(d.client.call('DeleteVolume', { volume_id: v.volume_id }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(sim.array.volume(arrayName(v.volume_id))).toBeDefined();
    await unpublish(v.volume_id, node);
    await d.client.call('DeleteSnapshot', { snapshot_id: snap.snapshot!.snapshot_id });
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume(arrayName(v.volume_id))).toBeUndefined();
  });

  test('spec error codes', async () => {
    const v = await volume('pvc-errs');
    expect(await codeOf(publish({ volume_id: 'sim/csv-nothere', volume_context: {} }, iscsiNode('worker-5')))).toBe(
      grpcStatus.NOT_FOUND,
    );
    expect(await codeOf(publish(v, 'some-fake-node-id'))).toBe(grpcStatus.NOT_FOUND);
    expect(await codeOf(publish(v, ''))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      await codeOf(d.client.call('ControllerPublishVolume', { volume_id: v.volume_id, node_id: iscsiNode('w') })),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(publish(v, iscsiNode('worker-5'), mountCap('MULTI_NODE_MULTI_WRITER')))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });

  test('a host marked for another cluster, or initiators split over two hosts → FAILED_PRECONDITION', async () => {
    const v = await volume('pvc-hosts');
    await wsapi.hosts.create({
      name: 'foreign-host',
      iSCSINames: ['iqn.1994-05.com.redhat:stolen'],
      descriptors: { comment: JSON.stringify({ v: 1, o: 'ffffffffffffffff', n: 'stolen' }) },
    });
    expect(await codeOf(publish(v, iscsiNode('stolen')))).toBe(grpcStatus.FAILED_PRECONDITION);
    await wsapi.hosts.create({ name: 'split-a', iSCSINames: ['iqn.1994-05.com.redhat:split'] });
    await wsapi.hosts.create({ name: 'split-b', FCWWNs: ['10000000C9ABCDEF'] });
    expect(await codeOf(publish(v, 'split;i=iqn.1994-05.com.redhat:split;w=10000000c9abcdef'))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    for (const h of ['foreign-host', 'split-a', 'split-b']) await wsapi.hosts.delete(h);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });

  test('an unmarked volume is published only when the static PV imports it', async () => {
    await wsapi.volumes.create({ name: 'legacy-vol', cpg: 'CPG1', sizeMiB: 1024, tpvv: true, comment: 'old data' });
    const v = { volume_id: 'sim/legacy-vol', volume_context: {} };
    expect(await codeOf(publish(v, iscsiNode('worker-6')))).toBe(grpcStatus.FAILED_PRECONDITION);
    await publish({ ...v, volume_context: { import: 'true' } }, iscsiNode('worker-6'));
    expect(JSON.parse(sim.array.volume('legacy-vol')!.comment!)).toMatchObject({ c: CLUSTER, im: 1, desc: 'old data' });
    await unpublish(v.volume_id, iscsiNode('worker-6'));
    await d.client.call('DeleteVolume', { volume_id: v.volume_id });
    expect(sim.array.volume('legacy-vol')).toBeUndefined();
  });

  test('an FC volume is exported to an FC host and returns the target WWNs', async () => {
    const v = await volume('pvc-fc', mountCap(), { accessProtocol: 'fc' });
    const node = 'fc-node;w=10000000c9abcd01,10000000c9abcd02';
    const res = await publish(v, node);
    expect(res.publish_context).toMatchObject({
      protocol: 'fc',
      targetWwns: expect.stringMatching(/^[0-9a-f]{16}(,[0-9a-f]{16})*$/),
    });
    const host = sim.array.hosts.find(
      (h) => h.fcWWNs.length > 0 && JSON.parse(h.descriptors?.['comment'] ?? '{}').n === node,
    )!;
    expect(host.fcWWNs.map((w) => w.toLowerCase()).sort()).toEqual(['10000000c9abcd01', '10000000c9abcd02']);
    expect(host.initiatorChap).toBeUndefined();
    expect((await publish(v, node)).publish_context['lun']).toBe(res.publish_context['lun']);
    await unpublish(v.volume_id, node);
    expect(sim.array.hosts.some((h) => h.name === host.name)).toBe(false);
  });

  // Matched-set VLUNs share one LUN across ports (EXISTENT_LUN is "for that host/port", §4.2).
  test('hostSeesVLUN "false" exports through each chosen port at one LUN', async () => {
    const v = await volume('pvc-ports', mountCap(), { hostSeesVLUN: 'false' });
    const node = iscsiNode('worker-ports');
    const res = await publish(v, node);
    const portals = res.publish_context['targetPortals']!.split(',');
    const rules = vlunsOf(arrayName(v.volume_id));
    expect(rules).toHaveLength(portals.length);
    expect(new Set(rules.map((l) => l.lun))).toEqual(new Set([Number(res.publish_context['lun'])]));
    expect(rules.every((l) => l.portPos !== undefined)).toBe(true);
    expect((await publish(v, node)).publish_context['lun']).toBe(res.publish_context['lun']);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(portals.length);
    await unpublish(v.volume_id, node);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });

  test('hostSeesVLUN "false": a port whose VLUN the array refuses fails the publish; the retry completes it', async () => {
    const v = await volume('pvc-ports-partial', mountCap(), { hostSeesVLUN: 'false' });
    const node = iscsiNode('worker-ports-2');
    const res = await publish(v, node);
    const ports = res.publish_context['targetPortals']!.split(',').length;
    expect(ports).toBeGreaterThan(1);
    // One port's export disappears (an admin removed it); the next publish must recreate it.
    const one = (await wsapi.vluns.list()).find(
      (l) => l.volumeName === arrayName(v.volume_id) && l.portPos !== undefined,
    )!;
    await wsapi.vluns.delete({
      volumeName: one.volumeName,
      lun: one.lun,
      hostname: one.hostname!,
      portPos: one.portPos,
    });
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(ports - 1);
    sim.faults.add({
      type: 'error',
      status: 409,
      code: 29,
      match: { method: 'POST', path: '^/api/v1/vluns$' },
      count: 1,
    });
    expect(await codeOf(publish(v, node))).not.toBe(grpcStatus.OK);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(ports - 1);
    expect((await publish(v, node)).publish_context['lun']).toBe(res.publish_context['lun']);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(ports);
    await unpublish(v.volume_id, node);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });

  test('the readonly flag of a volume’s exports is kept in its marker: the other flag while exported → ALREADY_EXISTS', async () => {
    const v = await volume('pvc-ro-flag', mountCap('MULTI_NODE_READER_ONLY'));
    const [a, b] = [iscsiNode('worker-ro-a'), iscsiNode('worker-ro-b')];
    const marker = () => JSON.parse(sim.array.volume(arrayName(v.volume_id))!.comment!) as { ro?: number };
    await publish(v, a, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: true });
    expect(marker().ro).toBe(1);
    expect(
      (await publish(v, a, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: true })).publish_context['readonly'],
    ).toBe('true');
    expect(await codeOf(publish(v, a, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: false }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
    expect(await codeOf(publish(v, b, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: false }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
    await publish(v, b, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: true });
    await unpublish(v.volume_id, '');
    // Exported nowhere: a read-write publish clears the flag.
    await publish(v, a, mountCap('MULTI_NODE_READER_ONLY'), d, { readonly: false });
    expect(marker().ro).toBeUndefined();
    await unpublish(v.volume_id, a);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });

  test('a node without initiators (loop) is found by host name and marker', async () => {
    const v = await volume('pvc-loop', mountCap(), { accessProtocol: 'loop' });
    const res = await publish(v, 'loop-node');
    expect(res.publish_context).toMatchObject({ protocol: 'loop' });
    const again = await publish(v, 'loop-node');
    expect(again.publish_context['lun']).toBe(res.publish_context['lun']);
    await unpublish(v.volume_id, 'loop-node');
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });
});

describe('ControllerUnpublishVolume', () => {
  test('removes the VLUN and the driver host with its last VLUN in at most 3 requests; repeats succeed', async () => {
    const v = await volume('pvc-unpub');
    const node = iscsiNode('worker-7');
    await publish(v, node);
    sim.resetRequests();
    await unpublish(v.volume_id, node);
    expect(arrayRequests(sim).length).toBeLessThanOrEqual(3);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
    expect(sim.array.hosts.some((h) => h.iSCSINames.includes('iqn.1994-05.com.redhat:worker-7'))).toBe(false);
    await unpublish(v.volume_id, node);
    await unpublish('sim/csv-nothere', node);
    await unpublish(v.volume_id, 'never-seen;i=iqn.2000-01.com.example:x');
    expect(await codeOf(unpublish('', node))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('an empty node_id unpublishes from every node', async () => {
    const v = await volume('pvc-all', blockCap('MULTI_NODE_MULTI_WRITER'));
    await publish(v, iscsiNode('worker-8'), blockCap('MULTI_NODE_MULTI_WRITER'));
    await publish(v, iscsiNode('worker-9'), blockCap('MULTI_NODE_MULTI_WRITER'));
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(2);
    await unpublish(v.volume_id, '');
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(0);
  });
});

describe('races', () => {
  test('50 parallel publishes of different volumes to one new node make one array host', async () => {
    const vols = await Promise.all(Array.from({ length: 50 }, (_, i) => volume(`pvc-race-${i}`)));
    const node = iscsiNode('worker-race');
    const results = await Promise.all(vols.map((v) => publish(v, node)));
    expect(sim.array.hosts.filter((h) => h.iSCSINames.includes('iqn.1994-05.com.redhat:worker-race'))).toHaveLength(1);
    expect(new Set(results.map((r) => r.publish_context['lun'])).size).toBe(50);
    await Promise.all(vols.map((v) => unpublish(v.volume_id, node)));
    expect(sim.array.hosts.filter((h) => h.iSCSINames.includes('iqn.1994-05.com.redhat:worker-race'))).toHaveLength(0);
  });

  test('a single-node volume raced to two nodes ends on exactly one', async () => {
    const v = await volume('pvc-race-single');
    const outcomes = await Promise.allSettled([publish(v, iscsiNode('worker-ra')), publish(v, iscsiNode('worker-rb'))]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(1);
  });

  test('the same two races with two driver processes against one array', async () => {
    const d2 = await startDriver([backendOf(sim, 'sim')]);
    try {
      const vols = await Promise.all(Array.from({ length: 20 }, (_, i) => volume(`pvc-race2-${i}`)));
      const node = iscsiNode('worker-two');
      await Promise.all(vols.map((v, i) => publish(v, node, mountCap(), i % 2 === 0 ? d : d2)));
      expect(sim.array.hosts.filter((h) => h.iSCSINames.includes('iqn.1994-05.com.redhat:worker-two'))).toHaveLength(1);
      for (const v of vols) expect(vlunsOf(arrayName(v.volume_id))).toHaveLength(1);
      const single = await volume('pvc-race2-single');
      const outcomes = await Promise.allSettled([
        publish(single, iscsiNode('worker-tx')),
        publish(single, iscsiNode('worker-ty'), mountCap(), d2),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(vlunsOf(arrayName(single.volume_id))).toHaveLength(1);
      await Promise.all([...vols, single].map((v) => unpublish(v.volume_id, '')));
    } finally {
      await d2.stop();
    }
  });

  test('a duplicate publish while the first runs → ABORTED', async () => {
    const v = await volume('pvc-dup');
    // The first call is held at the array's POST /vluns, so it is surely still running.
    const hold = sim.faults.hold({ method: 'POST', path: '^/api/v1/vluns' });
    try {
      const node = iscsiNode('worker-dup');
      const first = publish(v, node);
      await hold.arrived();
      expect(await codeOf(publish(v, node))).toBe(grpcStatus.ABORTED);
      hold.release();
      await first;
    } finally {
      hold.release();
    }
  });
});

describe('ListVolumes published nodes', () => {
  test('entries carry the exact node_ids from host markers', async () => {
    const v = await volume('pvc-listed', blockCap('MULTI_NODE_MULTI_WRITER'));
    await publish(v, iscsiNode('worker-l1'), blockCap('MULTI_NODE_MULTI_WRITER'));
    await publish(v, iscsiNode('worker-l2'), blockCap('MULTI_NODE_MULTI_WRITER'));
    const res = await d.client.call('ListVolumes', {});
    const entry = res.entries.find((e) => e.volume!.volume_id === v.volume_id)!;
    expect(entry.status!.published_node_ids).toEqual([iscsiNode('worker-l1'), iscsiNode('worker-l2')].sort());
    const got = await d.client.call('ControllerGetVolume', { volume_id: v.volume_id });
    expect(got.status!.published_node_ids).toEqual(entry.status!.published_node_ids);
  });
});

describe('the end of the suite', () => {
  test('unpublishing everything leaves no VLUN and no driver host', async () => {
    const res = await d.client.call('ListVolumes', {});
    for (const e of res.entries) await unpublish(e.volume!.volume_id, '');
    for (const e of res.entries) await d.client.call('DeleteVolume', { volume_id: e.volume!.volume_id });
    expect(sim.array.vluns).toHaveLength(0);
    expect(sim.array.hosts).toHaveLength(0);
    expect(sim.array.volumes).toHaveLength(0);
  });
});
