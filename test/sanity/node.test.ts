/**
 * Conformance: the Node service of the full driver — NodeGetInfo / NodeGetCapabilities, the
 * required-field errors of every RPC, and (as root, on real loop devices with mkfs and mount)
 * NodeStage / NodePublish / NodeUnpublish / NodeUnstage with their repeats and conflicts,
 * NodeGetVolumeStats and NodeExpandVolume — each step's effect checked in the mount table and
 * on the array, and nothing left behind.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import {
  blockCap,
  GiB,
  hasCapSysResource,
  isMounted,
  loopsUnder,
  MiB,
  mountCap,
  nodeSkipReason,
  stagingDir,
  startSanity,
  targetPath,
  type Obj,
  type Sanity,
} from './harness.js';
import { describeUnless, itUnless } from '../helpers/skip.js';
import type { NodeGetVolumeStatsResponse__Output as Stats } from '../../src/gen/csi/v1/NodeGetVolumeStatsResponse.js';

const skipReason = nodeSkipReason();
const describeRoot = describeUnless(skipReason);

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
const MISSING = 'sim/csv-aaaaaaaaaaaaaaaaaaaa';

describe('NodeGetCapabilities', () => {
  test('only known types; staging is advertised (the driver has a device to attach)', async () => {
    const res = await s.node.call('NodeGetCapabilities');
    const types = res.capabilities.map((c) => c.rpc!.type);
    const known = [
      'STAGE_UNSTAGE_VOLUME',
      'GET_VOLUME_STATS',
      'EXPAND_VOLUME',
      'VOLUME_CONDITION',
      'SINGLE_NODE_MULTI_WRITER',
      'VOLUME_MOUNT_GROUP',
    ];
    for (const t of types) expect(known).toContain(t);
    expect(types).toContain('STAGE_UNSTAGE_VOLUME');
    expect(new Set(types).size).toBe(types.length);
  });
});

describe('NodeGetInfo', () => {
  test('a non-empty node_id within the spec’s 256 bytes, a non-negative volume limit, no topology with one backend', async () => {
    const info = await s.node.call('NodeGetInfo');
    expect(info.node_id).not.toBe('');
    expect(Buffer.byteLength(info.node_id)).toBeLessThanOrEqual(256);
    expect(Number(info.max_volumes_per_node)).toBeGreaterThanOrEqual(0);
    expect(info.accessible_topology).toBeNull();
  });

  test('stable across calls (the CO stores it on the Node object)', async () => {
    const a = await s.node.call('NodeGetInfo');
    const b = await s.node.call('NodeGetInfo');
    expect(b.node_id).toBe(a.node_id);
  });
});

describe('required fields → INVALID_ARGUMENT', () => {
  const pc = { protocol: 'loop', wwn: '60002AC0000000000000000000001234', lun: '0' };
  const stage = (): Obj => ({
    volume_id: MISSING,
    staging_target_path: '/tmp/sanity-staging',
    volume_capability: mountCap(),
    publish_context: pc,
  });
  const pub = (): Obj => ({
    volume_id: MISSING,
    staging_target_path: '/tmp/sanity-staging',
    target_path: '/tmp/sanity-target',
    volume_capability: mountCap(),
  });
  test.each<[string, string, Obj]>([
    ['NodeStageVolume', 'volume_id', { ...stage(), volume_id: '' }],
    ['NodeStageVolume', 'staging_target_path', { ...stage(), staging_target_path: '' }],
    ['NodeStageVolume', 'volume_capability', { ...stage(), volume_capability: null }],
    ['NodeStageVolume', 'an access mode', { ...stage(), volume_capability: { mount: {} } }],
    ['NodeUnstageVolume', 'volume_id', { staging_target_path: '/tmp/sanity-staging' }],
    ['NodeUnstageVolume', 'staging_target_path', { volume_id: MISSING }],
    ['NodePublishVolume', 'volume_id', { ...pub(), volume_id: '' }],
    ['NodePublishVolume', 'target_path', { ...pub(), target_path: '' }],
    ['NodePublishVolume', 'volume_capability', { ...pub(), volume_capability: null }],
    ['NodeUnpublishVolume', 'volume_id', { target_path: '/tmp/sanity-target' }],
    ['NodeUnpublishVolume', 'target_path', { volume_id: MISSING }],
    ['NodeGetVolumeStats', 'volume_id', { volume_path: '/tmp' }],
    ['NodeGetVolumeStats', 'volume_path', { volume_id: MISSING }],
    ['NodeExpandVolume', 'volume_id', { volume_path: '/tmp', capacity_range: { required_bytes: String(GiB) } }],
    ['NodeExpandVolume', 'volume_path', { volume_id: MISSING, capacity_range: { required_bytes: String(GiB) } }],
  ])('%s without %s', async (rpc, _field, req) => {
    expect(await codeOf(s.node.call(rpc, req))).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('csi-sanity’s bare requests (only what each of its tests sets) → INVALID_ARGUMENT', async () => {
    expect(await codeOf(s.node.call('NodePublishVolume', {}))).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(await codeOf(s.node.call('NodePublishVolume', { volume_id: 'fake-vol-id-0123456789' }))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(
      await codeOf(
        s.node.call('NodePublishVolume', { volume_id: 'fake-vol-id-0123456789', target_path: '/tmp/x/target' }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      await codeOf(
        s.node.call('NodeStageVolume', {
          staging_target_path: '/tmp/x',
          volume_capability: mountCap(),
          publish_context: { device: '/dev/mock' },
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      await codeOf(
        s.node.call('NodeStageVolume', {
          volume_id: 'fake-vol-id-0123456789',
          volume_capability: mountCap(),
          publish_context: { device: '/dev/mock' },
        }),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});

describe('volumes unknown to the node → NOT_FOUND', () => {
  test('NodeGetVolumeStats of a volume at a path that does not exist', async () => {
    expect(
      await codeOf(
        s.node.call('NodeGetVolumeStats', {
          volume_id: 'fake-vol-id-0123456789',
          volume_path: join(s.base, 'no-such-path'),
        }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
  });

  test('NodeExpandVolume of a volume this node never staged', async () => {
    expect(
      await codeOf(
        s.node.call('NodeExpandVolume', {
          volume_id: 'fake-vol-id-0123456789',
          volume_path: join(s.base, 'no-such-path'),
          capacity_range: { required_bytes: String(GiB) },
        }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
  });

  // csi-sanity sends the relative path "some/path" in these two checks and expects NOT_FOUND.
  test('csi-sanity: NodeGetVolumeStats of an unknown volume at "some/path" → NOT_FOUND', async () => {
    expect(
      await codeOf(
        s.node.call('NodeGetVolumeStats', { volume_id: 'fake-vol-id-0123456789', volume_path: 'some/path' }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
  });
  test('csi-sanity: NodeExpandVolume of an unknown volume at "some/path" → NOT_FOUND', async () => {
    expect(
      await codeOf(s.node.call('NodeExpandVolume', { volume_id: 'fake-vol-id-0123456789', volume_path: 'some/path' })),
    ).toBe(grpcStatus.NOT_FOUND);
  });

  test('NodeUnstageVolume and NodeUnpublishVolume of what is not staged or published succeed', async () => {
    await s.node.call('NodeUnstageVolume', { volume_id: MISSING, staging_target_path: stagingDir(s, 'never-staged') });
    await s.node.call('NodeUnpublishVolume', { volume_id: MISSING, target_path: targetPath(s, 'never-published') });
  });
});

describeRoot('stage, publish, unpublish, unstage (root, loop devices)', () => {
  /** Creates and controller-publishes a volume; returns what the node calls need. */
  async function attachable(name: string, cap: Obj = mountCap(), extra: Obj = {}) {
    const v = await create(name, { volume_capabilities: [cap], ...extra });
    const pub = await s.controller.call('ControllerPublishVolume', {
      volume_id: v.volume_id,
      node_id: nodeId,
      volume_capability: cap,
      readonly: false,
      volume_context: v.volume_context,
    });
    const staging = stagingDir(s, name);
    const target = targetPath(s, name);
    const stageReq = {
      volume_id: v.volume_id,
      staging_target_path: staging,
      volume_capability: cap,
      publish_context: pub.publish_context,
      volume_context: v.volume_context,
    };
    const publishReq = {
      volume_id: v.volume_id,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
      publish_context: pub.publish_context,
      volume_context: v.volume_context,
      readonly: false,
    };
    return { v, cap, staging, target, stageReq, publishReq };
  }
  type A = Awaited<ReturnType<typeof attachable>>;

  async function teardown(a: A): Promise<void> {
    await s.node.call('NodeUnpublishVolume', { volume_id: a.v.volume_id, target_path: a.target });
    await s.node.call('NodeUnstageVolume', { volume_id: a.v.volume_id, staging_target_path: a.staging });
    await s.controller.call('ControllerUnpublishVolume', { volume_id: a.v.volume_id, node_id: nodeId });
    await s.controller.call('DeleteVolume', { volume_id: a.v.volume_id });
  }

  test('the whole lifecycle, every step twice: mounts appear and go, the target path is removed, data is readable', async () => {
    const a = await attachable('sanity-node-life');
    for (let i = 0; i < 2; i++) await s.node.call('NodeStageVolume', a.stageReq);
    expect(isMounted(a.staging)).toBe(true);
    for (let i = 0; i < 2; i++) await s.node.call('NodePublishVolume', a.publishReq);
    expect(isMounted(a.target)).toBe(true);
    writeFileSync(join(a.target, 'hello.txt'), 'hello');
    expect(readFileSync(join(a.staging, 'hello.txt'), 'utf8')).toBe('hello');

    for (const path of [a.target, a.staging]) {
      const stats = await s.node.call('NodeGetVolumeStats', { volume_id: a.v.volume_id, volume_path: path });
      const bytes = stats.usage.find((u) => u.unit === 'BYTES')!;
      expect(Number(bytes.total)).toBeGreaterThan(0);
      expect(Number(bytes.total)).toBeLessThanOrEqual(Number(a.v.capacity_bytes));
      expect(Number(bytes.used)).toBeGreaterThan(0);
      expect(stats.usage.find((u) => u.unit === 'INODES')).toBeDefined();
      // VOLUME_CONDITION is advertised: the condition is reported, and normal.
      expect(stats.volume_condition).not.toBeNull();
      expect(stats.volume_condition!.abnormal).toBe(false);
    }

    for (let i = 0; i < 2; i++)
      await s.node.call('NodeUnpublishVolume', { volume_id: a.v.volume_id, target_path: a.target });
    expect(isMounted(a.target)).toBe(false);
    // The SP deletes the file or directory it created at target_path.
    expect(existsSync(a.target)).toBe(false);
    for (let i = 0; i < 2; i++)
      await s.node.call('NodeUnstageVolume', { volume_id: a.v.volume_id, staging_target_path: a.staging });
    expect(isMounted(a.staging)).toBe(false);
    expect(loopsUnder(s.sim.dataDir!)).toEqual([]);
    await teardown(a);
    expect(s.sim.array.volumes).toHaveLength(0);
    expect(s.sim.array.vluns).toHaveLength(0);
    expect(s.sim.array.hosts).toHaveLength(0);
  });

  test('NodeGetVolumeStats of a staged volume at a path that is not published → NOT_FOUND', async () => {
    const a = await attachable('sanity-node-stats-path');
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', a.publishReq);
    expect(
      await codeOf(
        s.node.call('NodeGetVolumeStats', { volume_id: a.v.volume_id, volume_path: join(s.base, 'some', 'path') }),
      ),
    ).toBe(grpcStatus.NOT_FOUND);
    await teardown(a);
  });

  // Spec (NodeGetVolumeStats errors): "Volume does not exist — NOT_FOUND: a volume corresponding
  // to the specified volume_id does not exist on specified volume_path".
  test('NodeGetVolumeStats naming another volume than the one at volume_path → NOT_FOUND', async () => {
    const a = await attachable('sanity-node-stats-other');
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', a.publishReq);
    try {
      expect(await codeOf(s.node.call('NodeGetVolumeStats', { volume_id: MISSING, volume_path: a.target }))).toBe(
        grpcStatus.NOT_FOUND,
      );
    } finally {
      await teardown(a);
    }
  });

  test('NodeStageVolume of a volume the controller no longer exports to this node fails at once, mounts nothing, and unstages cleanly', async () => {
    const a = await attachable('sanity-node-unexported');
    await s.controller.call('ControllerUnpublishVolume', { volume_id: a.v.volume_id, node_id: nodeId });
    // "At once": not after the 30 s device-discovery timeout, which this deadline (a safety net far
    // above the real time) would turn into DEADLINE_EXCEEDED.
    const code = await codeOf(s.node.call('NodeStageVolume', a.stageReq, { deadlineMs: 25_000 }));
    // The spec names no code for "not attached"; kubelet retries any of these.
    expect([grpcStatus.NOT_FOUND, grpcStatus.UNAVAILABLE, grpcStatus.FAILED_PRECONDITION]).toContain(code);
    expect(isMounted(a.staging)).toBe(false);
    await s.node.call('NodeUnstageVolume', { volume_id: a.v.volume_id, staging_target_path: a.staging });
    expect(loopsUnder(s.sim.dataDir!)).toEqual([]);
    await s.controller.call('DeleteVolume', { volume_id: a.v.volume_id });
  });

  test('NodePublishVolume before NodeStageVolume → FAILED_PRECONDITION, nothing mounted', async () => {
    const a = await attachable('sanity-node-unstaged');
    expect(await codeOf(s.node.call('NodePublishVolume', a.publishReq))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(isMounted(a.target)).toBe(false);
    await teardown(a);
  });

  test('NodeStageVolume again at the same path as raw block after a filesystem stage → ALREADY_EXISTS', async () => {
    const a = await attachable('sanity-node-stage-incompat', mountCap('SINGLE_NODE_WRITER', 'ext4'));
    await s.node.call('NodeStageVolume', a.stageReq);
    try {
      expect(await codeOf(s.node.call('NodeStageVolume', { ...a.stageReq, volume_capability: blockCap() }))).toBe(
        grpcStatus.ALREADY_EXISTS,
      );
      expect(isMounted(a.staging)).toBe(true);
    } finally {
      await teardown(a);
    }
  });

  // Spec (NodeStageVolume errors): "Volume published but is incompatible — ALREADY_EXISTS: the
  // volume has already been published at the specified staging_target_path but is incompatible
  // with the specified volume_capability".
  test('NodeStageVolume again at the same path with another fs_type → ALREADY_EXISTS', async () => {
    const a = await attachable('sanity-node-stage-fstype', mountCap('SINGLE_NODE_WRITER', 'ext4'));
    await s.node.call('NodeStageVolume', a.stageReq);
    try {
      expect(
        await codeOf(
          s.node.call('NodeStageVolume', { ...a.stageReq, volume_capability: mountCap('SINGLE_NODE_WRITER', 'xfs') }),
        ),
      ).toBe(grpcStatus.ALREADY_EXISTS);
    } finally {
      await teardown(a);
    }
  });

  test('NodePublishVolume again at the same target with another read-only flag → ALREADY_EXISTS', async () => {
    const a = await attachable('sanity-node-publish-incompat');
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', a.publishReq);
    expect(await codeOf(s.node.call('NodePublishVolume', { ...a.publishReq, readonly: true }))).toBe(
      grpcStatus.ALREADY_EXISTS,
    );
    await teardown(a);
  });

  test('a read-only publish cannot be written through', async () => {
    const a = await attachable('sanity-node-ro');
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', { ...a.publishReq, readonly: true });
    expect(() => writeFileSync(join(a.target, 'x'), 'x')).toThrow(/EROFS|read-only/i);
    await teardown(a);
  });

  test('SINGLE_NODE_SINGLE_WRITER: a second target → FAILED_PRECONDITION; SINGLE_NODE_MULTI_WRITER: a second target works', async () => {
    const single = await attachable('sanity-node-snsw', mountCap('SINGLE_NODE_SINGLE_WRITER'));
    await s.node.call('NodeStageVolume', single.stageReq);
    await s.node.call('NodePublishVolume', single.publishReq);
    const other = targetPath(s, 'sanity-node-snsw-other');
    expect(await codeOf(s.node.call('NodePublishVolume', { ...single.publishReq, target_path: other }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(isMounted(other)).toBe(false);
    await teardown(single);

    const multi = await attachable('sanity-node-snmw', mountCap('SINGLE_NODE_MULTI_WRITER'));
    await s.node.call('NodeStageVolume', multi.stageReq);
    await s.node.call('NodePublishVolume', multi.publishReq);
    const second = targetPath(s, 'sanity-node-snmw-other');
    await s.node.call('NodePublishVolume', { ...multi.publishReq, target_path: second });
    expect(isMounted(second)).toBe(true);
    await s.node.call('NodeUnpublishVolume', { volume_id: multi.v.volume_id, target_path: second });
    await teardown(multi);
  });

  test('raw block: the target is a block device file of the volume’s size; stats report its bytes; unpublish removes it', async () => {
    const a = await attachable('sanity-node-block', blockCap());
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', a.publishReq);
    expect(statSync(a.target).isBlockDevice()).toBe(true);
    const stats = await s.node.call('NodeGetVolumeStats', { volume_id: a.v.volume_id, volume_path: a.target });
    expect(stats.usage.find((u) => u.unit === 'BYTES')!.total).toBe(a.v.capacity_bytes);
    await s.node.call('NodeUnpublishVolume', { volume_id: a.v.volume_id, target_path: a.target });
    expect(existsSync(a.target)).toBe(false);
    await teardown(a);
  });

  test('NodeExpandVolume after ControllerExpandVolume grows a mounted xfs filesystem', async () => {
    const cap = mountCap('SINGLE_NODE_WRITER', 'xfs');
    const a = await attachable('sanity-node-expand-xfs', cap, {
      capacity_range: { required_bytes: String(512 * MiB) },
    });
    await s.node.call('NodeStageVolume', a.stageReq);
    await s.node.call('NodePublishVolume', a.publishReq);
    const before = await s.node.call('NodeGetVolumeStats', { volume_id: a.v.volume_id, volume_path: a.target });
    const grown = await s.controller.call('ControllerExpandVolume', {
      volume_id: a.v.volume_id,
      capacity_range: { required_bytes: String(GiB) },
      volume_capability: cap,
    });
    expect(grown.node_expansion_required).toBe(true);
    const req = {
      volume_id: a.v.volume_id,
      volume_path: a.target,
      capacity_range: { required_bytes: grown.capacity_bytes },
      volume_capability: cap,
      staging_target_path: a.staging,
    };
    const res = await s.node.call('NodeExpandVolume', req);
    expect(Number(res.capacity_bytes)).toBeGreaterThanOrEqual(GiB);
    // A repeat succeeds and reports the same size.
    expect((await s.node.call('NodeExpandVolume', req)).capacity_bytes).toBe(res.capacity_bytes);
    const after = await s.node.call('NodeGetVolumeStats', { volume_id: a.v.volume_id, volume_path: a.target });
    const total = (x: Stats) => Number(x.usage.find((u) => u.unit === 'BYTES')!.total);
    expect(total(after)).toBeGreaterThan(total(before) + 256 * MiB);
    await teardown(a);
  });

  itUnless(
    hasCapSysResource()
      ? undefined
      : 'csi-sanity’s ext4 node expansion: CapEff lacks bit 24 (CAP_SYS_RESOURCE), which the kernel requires to grow a mounted ext4',
  )(
    'csi-sanity’s node expansion: default filesystem (ext4), ControllerExpand to size + 1 GiB, NodeExpand at the target',
    async () => {
      const a = await attachable('sanity-node-expand-ext4', mountCap(), {
        capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
      });
      await s.controller.call('ControllerExpandVolume', {
        volume_id: a.v.volume_id,
        capacity_range: { required_bytes: String(2 * GiB) },
      });
      await s.node.call('NodeStageVolume', a.stageReq);
      await s.node.call('NodePublishVolume', a.publishReq);
      await s.node.call('NodeExpandVolume', {
        volume_id: a.v.volume_id,
        volume_path: a.target,
        capacity_range: { required_bytes: String(2 * GiB) },
      });
      await teardown(a);
    },
  );

  test('at the end: no mount, no loop device, and nothing on the array', () => {
    expect(loopsUnder(s.sim.dataDir!)).toEqual([]);
    expect(s.sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(s.sim.array.hosts.map((h) => h.name)).toEqual([]);
    expect(s.sim.array.vluns).toHaveLength(0);
  });
});
