/**
 * Conformance: ControllerPublishVolume / ControllerUnpublishVolume against the full driver and
 * its embedded array — idempotency, the single-node rule, unpublish with and without node_id,
 * the published-node status, and the spec's error codes. The array's hosts and VLUNs are the
 * evidence: after the last unpublish no VLUN and no driver-made host may remain.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { arrayName, blockCap, mountCap, startSanity, type Obj, type Sanity } from './harness.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';

let s: Sanity;
let nodeId: string;
beforeAll(async () => {
  s = await startSanity();
  nodeId = (await s.node.call('NodeGetInfo')).node_id;
});
afterAll(async () => {
  await s.close();
});

const create = (name: string, extra: Obj = {}) => s.createVolume(name, extra);
const del = (id: string) => s.controller.call('DeleteVolume', { volume_id: id });
const publish = (v: Volume, node: string, extra: Obj = {}) =>
  s.controller.call('ControllerPublishVolume', {
    volume_id: v.volume_id,
    node_id: node,
    volume_capability: mountCap(),
    readonly: false,
    volume_context: v.volume_context,
    ...extra,
  });
const unpublish = (volumeId: string, node: string) =>
  s.controller.call('ControllerUnpublishVolume', { volume_id: volumeId, node_id: node });
/** VLUNs of one volume on the array. */
const vlunsOf = (v: Volume) => {
  const rec = s.sim.array.volume(arrayName(v.volume_id));
  return rec ? s.sim.array.vlunsOfVolume(rec.id) : [];
};
const publishedNodes = async (v: Volume) =>
  (await s.controller.call('ControllerGetVolume', { volume_id: v.volume_id })).status!.published_node_ids;

describe('ControllerPublishVolume', () => {
  test('exports the volume to the node: a VLUN on the array, and a publish_context the node can use', async () => {
    const v = await create('sanity-publish');
    const res = await publish(v, nodeId);
    expect(Object.keys(res.publish_context).length).toBeGreaterThan(0);
    expect(vlunsOf(v)).toHaveLength(1);
    expect(s.sim.array.hosts).toHaveLength(1);
    expect(await publishedNodes(v)).toEqual([nodeId]);
    // LIST_VOLUMES_PUBLISHED_NODES: ListVolumes reports the node too.
    const listed = await s.controller.call('ListVolumes', {});
    expect(listed.entries.find((e) => e.volume!.volume_id === v.volume_id)?.status!.published_node_ids).toEqual([
      nodeId,
    ]);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });

  test('a repeat returns the same publish_context and adds no VLUN', async () => {
    const v = await create('sanity-publish-twice');
    const a = await publish(v, nodeId);
    const b = await publish(v, nodeId);
    expect(b.publish_context).toEqual(a.publish_context);
    expect(vlunsOf(v)).toHaveLength(1);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });

  test('a single-node volume already published to another node → FAILED_PRECONDITION, no second VLUN', async () => {
    const v = await create('sanity-publish-other-node');
    await publish(v, nodeId);
    expect(await codeOf(publish(v, 'node-2'))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(vlunsOf(v)).toHaveLength(1);
    expect(await publishedNodes(v)).toEqual([nodeId]);
    await unpublish(v.volume_id, nodeId);
    // Once unpublished from the first node it may go to the other.
    await publish(v, 'node-2');
    expect(await publishedNodes(v)).toEqual(['node-2']);
    await unpublish(v.volume_id, 'node-2');
    await del(v.volume_id);
  });

  test('a multi-node block volume is published to two nodes at once', async () => {
    const cap = blockCap('MULTI_NODE_MULTI_WRITER');
    const v = await create('sanity-publish-rwx', { volume_capabilities: [cap] });
    await publish(v, nodeId, { volume_capability: cap });
    await publish(v, 'node-2', { volume_capability: cap });
    expect(vlunsOf(v)).toHaveLength(2);
    expect((await publishedNodes(v)).sort()).toEqual([nodeId, 'node-2'].sort());
    await unpublish(v.volume_id, 'node-2');
    expect(await publishedNodes(v)).toEqual([nodeId]);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });

  test('with PUBLISH_READONLY advertised: a read-only publish says so in publish_context, and a repeat returns it again', async () => {
    // The suite's configuration is fixed: the capability is advertised, and asserted.
    const caps = await s.controller.call('ControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toContain('PUBLISH_READONLY');
    const v = await create('sanity-publish-ro');
    try {
      const ro = await publish(v, nodeId, { readonly: true });
      expect(ro.publish_context['readonly']).toBe('true');
      expect((await publish(v, nodeId, { readonly: true })).publish_context).toEqual(ro.publish_context);
    } finally {
      await unpublish(v.volume_id, nodeId);
      await del(v.volume_id);
    }
  });

  // Spec (ControllerPublishVolume errors): "Volume published but is incompatible — ALREADY_EXISTS:
  // published to the node … but incompatible with the specified volume_capability or readonly
  // flag"; csi-sanity checks it whenever PUBLISH_READONLY is advertised. A 3PAR VLUN cannot be
  // read-only: the flag of the volume's exports is kept in its marker.
  test('with PUBLISH_READONLY advertised: a repeat with the other readonly flag → ALREADY_EXISTS', async () => {
    const caps = await s.controller.call('ControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toContain('PUBLISH_READONLY');
    const v = await create('sanity-publish-ro-flip');
    try {
      await publish(v, nodeId, { readonly: false });
      expect(await codeOf(publish(v, nodeId, { readonly: true }))).toBe(grpcStatus.ALREADY_EXISTS);
    } finally {
      await unpublish(v.volume_id, nodeId);
      await del(v.volume_id);
    }
  });

  test.each<[string, Obj]>([
    ['no volume_id', { volume_id: '' }],
    ['no node_id', { node_id: '' }],
    ['no volume_capability', { volume_capability: null }],
  ])('%s → INVALID_ARGUMENT', async (_what, extra) => {
    const v = await create('sanity-publish-invalid');
    expect(await codeOf(publish(v, nodeId, extra))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(vlunsOf(v)).toHaveLength(0);
    await del(v.volume_id);
  });

  test('csi-sanity’s bare requests: only a volume id, or a volume and node id → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('ControllerPublishVolume', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(s.controller.call('ControllerPublishVolume', { volume_id: 'fake-vol-id-0123456789' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(
      await codeOf(
        s.controller.call('ControllerPublishVolume', {
          volume_id: 'fake-vol-id-0123456789',
          node_id: 'fake-node-id-0123456789',
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('a volume that does not exist → NOT_FOUND, and no host is created for it', async () => {
    for (const id of ['sim/csv-aaaaaaaaaaaaaaaaaaaa', 'fake-vol-id-0123456789', 'nobackend/csv-x']) {
      expect(
        await codeOf(
          s.controller.call('ControllerPublishVolume', {
            volume_id: id,
            node_id: nodeId,
            volume_capability: mountCap(),
            volume_context: { protocol: 'loop' },
          }),
        ),
      ).toBe(grpcStatus.NOT_FOUND);
    }
    expect(s.sim.array.hosts).toHaveLength(0);
  });

  test('a node that does not exist (csi-sanity: no volume_context) → NOT_FOUND', async () => {
    const v = await create('sanity-publish-no-node');
    const res = s.controller.call('ControllerPublishVolume', {
      volume_id: v.volume_id,
      node_id: 'fake-node-id-0123456789',
      volume_capability: mountCap(),
      readonly: false,
    });
    expect(await codeOf(res)).toBe(grpcStatus.NOT_FOUND);
    expect(vlunsOf(v)).toHaveLength(0);
    await del(v.volume_id);
  });

  test('a published volume cannot be deleted: FAILED_PRECONDITION, the volume and its VLUN stay', async () => {
    const v = await create('sanity-publish-delete');
    await publish(v, nodeId);
    expect(await codeOf(del(v.volume_id))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(s.sim.array.volume(arrayName(v.volume_id))).toBeDefined();
    expect(vlunsOf(v)).toHaveLength(1);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });
});

describe('ControllerUnpublishVolume', () => {
  test('removes the VLUN and the host the driver made; a repeat succeeds', async () => {
    const v = await create('sanity-unpublish');
    await publish(v, nodeId);
    await unpublish(v.volume_id, nodeId);
    expect(vlunsOf(v)).toHaveLength(0);
    expect(s.sim.array.hosts).toHaveLength(0);
    expect(await publishedNodes(v)).toEqual([]);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });

  test('the host stays while it has another volume’s VLUN', async () => {
    const a = await create('sanity-unpublish-a');
    const b = await create('sanity-unpublish-b');
    await publish(a, nodeId);
    await publish(b, nodeId);
    await unpublish(a.volume_id, nodeId);
    expect(s.sim.array.hosts).toHaveLength(1);
    expect(vlunsOf(b)).toHaveLength(1);
    await unpublish(b.volume_id, nodeId);
    expect(s.sim.array.hosts).toHaveLength(0);
    await del(a.volume_id);
    await del(b.volume_id);
  });

  test('an empty node_id unpublishes the volume from every node', async () => {
    const cap = blockCap('MULTI_NODE_MULTI_WRITER');
    const v = await create('sanity-unpublish-all', { volume_capabilities: [cap] });
    await publish(v, nodeId, { volume_capability: cap });
    await publish(v, 'node-2', { volume_capability: cap });
    await s.controller.call('ControllerUnpublishVolume', { volume_id: v.volume_id });
    expect(vlunsOf(v)).toHaveLength(0);
    expect(s.sim.array.hosts).toHaveLength(0);
    await del(v.volume_id);
  });

  test('from a node it was never published to: success, the other node’s VLUN untouched', async () => {
    const v = await create('sanity-unpublish-other');
    await publish(v, nodeId);
    await unpublish(v.volume_id, 'node-2');
    await unpublish(v.volume_id, 'fake-node-id-0123456789');
    expect(vlunsOf(v)).toHaveLength(1);
    await unpublish(v.volume_id, nodeId);
    await del(v.volume_id);
  });

  test('a volume or node that does not exist: success (it is not published there)', async () => {
    for (const id of ['sim/csv-aaaaaaaaaaaaaaaaaaaa', 'fake-vol-id-0123456789', 'nobackend/csv-x'])
      await unpublish(id, nodeId);
    await unpublish('sim/csv-aaaaaaaaaaaaaaaaaaaa', 'fake-node-id');
  });

  test('no volume_id → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.controller.call('ControllerUnpublishVolume', { node_id: nodeId }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
  });
});

describe('volume lifecycle, repeated (as csi-sanity’s “should be idempotent”)', () => {
  test('create, publish ×3, unpublish ×3, delete ×3: every step succeeds and nothing is left', async () => {
    const v = await create('sanity-lifecycle');
    for (let i = 0; i < 3; i++) await publish(v, nodeId);
    expect(vlunsOf(v)).toHaveLength(1);
    for (let i = 0; i < 3; i++) await unpublish(v.volume_id, nodeId);
    for (let i = 0; i < 3; i++) await del(v.volume_id);
    expect(s.sim.array.volumes).toHaveLength(0);
    expect(s.sim.array.hosts).toHaveLength(0);
    expect(s.sim.array.vluns).toHaveLength(0);
  });
});

describe('at the end', () => {
  test('the array holds no volume, host or VLUN', () => {
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(s.sim.array.hosts.map((h) => h.name)).toEqual([]);
    expect(s.sim.array.vluns).toHaveLength(0);
  });
});
