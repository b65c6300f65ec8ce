/**
 * Raw block volumes on real loop devices: stage, publish onto a file, data written through the
 * published device and read back from the backing file, read-only publish, stats, expand (rescan
 * only), and two volumes whose loop devices are swapped between stage and unstage. Needs root.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { NodeHarness, MiB, blockCap, mountCap, publishReq, rootSkipReason, sha256File, stageReq } from './harness.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(rootSkipReason());

d('node service: raw block volumes on loop devices', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  it('stage, publish, data, read-only publish, stats, expand, unpublish, unstage — each step twice', async () => {
    const node = h.node();
    const v = h.volume('blk', 64);
    const staging = h.path('staging-blk');
    const target = h.path('pods/blk/dev');
    const roTarget = h.path('pods/blk/dev-ro');
    const cap = blockCap();
    const req = stageReq(v, staging, { cap });
    await node.NodeStageVolume(req, h.ctx());
    await node.NodeStageVolume(req, h.ctx());
    expect(h.loopsOf(v.file)).toHaveLength(1);
    expect(h.isMounted(staging)).toBe(false);
    await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
    // Same target with an incompatible capability (mount instead of block) → ALREADY_EXISTS.
    await expect(
      node.NodePublishVolume(publishReq(v, staging, target, mountCap('ext4')), h.ctx()),
    ).rejects.toMatchObject({ kind: 'already-exists' });
    const payload = Buffer.from('raw block payload');
    const fd = openSync(target, 'r+');
    writeSync(fd, payload, 0, payload.length, MiB);
    closeSync(fd);
    execFileSync('blockdev', ['--flushbufs', `/dev/${h.loopsOf(v.file)[0]!}`]);
    const back = Buffer.alloc(payload.length);
    const ffd = openSync(v.file, 'r');
    readSync(ffd, back, 0, back.length, MiB);
    closeSync(ffd);
    expect(back.toString()).toBe(payload.toString());
    // A read-only publish of a writable staged device: a read-only bind. The kernel does not apply a
    // mount's ro flag to device nodes, so the container runtime's read-only device mapping is what
    // enforces it; a read-only *staged* volume is protected by the device's own ro flag (next test).
    await node.NodePublishVolume(publishReq(v, staging, roTarget, cap, true), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, roTarget, cap, true), h.ctx());
    expect(h.mountOptions(roTarget)).toContain('ro');
    const rfd = openSync(roTarget, 'r');
    const viaRo = Buffer.alloc(payload.length);
    readSync(rfd, viaRo, 0, viaRo.length, MiB);
    closeSync(rfd);
    expect(viaRo.toString()).toBe(payload.toString());

    const stats = await node.NodeGetVolumeStats(
      { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: staging },
      h.ctx(),
    );
    expect(stats.usage).toEqual([{ unit: 'BYTES', total: String(64 * MiB) }]);
    expect(stats.volume_condition?.abnormal).toBe(false);

    h.grow(v, 96);
    const expand = {
      volume_id: `sim/${v.name}`,
      volume_path: target,
      staging_target_path: staging,
      capacity_range: { required_bytes: String(96 * MiB), limit_bytes: '0' },
      volume_capability: cap,
      secrets: {},
    };
    expect((await node.NodeExpandVolume(expand, h.ctx())).capacity_bytes).toBe(String(96 * MiB));
    expect((await node.NodeExpandVolume(expand, h.ctx())).capacity_bytes).toBe(String(96 * MiB));

    for (const p of [target, roTarget]) {
      await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: p }, h.ctx());
      await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: p }, h.ctx());
      expect(existsSync(p)).toBe(false);
    }
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect(h.loopsOf(v.file)).toHaveLength(0);
  });

  it('a read-only staged block volume: the device refuses writes; the backing file is unchanged', async () => {
    const node = h.node();
    const v = h.volume('blk-ro', 16);
    const fd0 = openSync(v.file, 'r+');
    writeSync(fd0, Buffer.from('existing'), 0, 8, 0);
    closeSync(fd0);
    const before = await sha256File(v.file);
    const staging = h.path('staging-blk-ro');
    const target = h.path('pods/blk-ro/dev');
    const cap = blockCap('MULTI_NODE_READER_ONLY');
    await node.NodeStageVolume(stageReq(v, staging, { cap, readonly: true }), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, target, cap, true), h.ctx());
    expect(() => {
      const fd = openSync(target, 'r+');
      try {
        writeSync(fd, Buffer.from('overwrite'), 0, 9, 0);
      } finally {
        closeSync(fd);
      }
    }).toThrow(/EROFS|EACCES|EPERM/);
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: target }, h.ctx());
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect(await sha256File(v.file)).toBe(before);
  });

  it('SINGLE_NODE_SINGLE_WRITER published at a second path → FAILED_PRECONDITION', async () => {
    const node = h.node();
    const v = h.volume('snsw', 16);
    const staging = h.path('staging-snsw');
    const cap = blockCap('SINGLE_NODE_SINGLE_WRITER');
    await node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, h.path('pods/snsw/a'), cap), h.ctx());
    await expect(
      node.NodePublishVolume(publishReq(v, staging, h.path('pods/snsw/b'), cap), h.ctx()),
    ).rejects.toMatchObject({ kind: 'failed-precondition' });
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: h.path('pods/snsw/a') }, h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, h.path('pods/snsw/b'), cap), h.ctx());
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: h.path('pods/snsw/b') }, h.ctx());
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
  });

  it('two volumes whose loop devices are swapped between stage and unstage: unstaging one leaves the other attached', async () => {
    const node = h.node();
    const a = h.volume('swap-a', 16);
    const b = h.volume('swap-b', 16);
    const cap = blockCap();
    await node.NodeStageVolume(stageReq(a, h.path('staging-swap-a'), { cap }), h.ctx());
    await node.NodeStageVolume(stageReq(b, h.path('staging-swap-b'), { cap }), h.ctx());
    const [loopA] = h.loopsOf(a.file);
    const [loopB] = h.loopsOf(b.file);
    // Swap: detach both and attach each file to the other's device.
    execFileSync('losetup', ['-d', `/dev/${loopA!}`, `/dev/${loopB!}`]);
    execFileSync('losetup', [`/dev/${loopA!}`, b.file]);
    execFileSync('losetup', [`/dev/${loopB!}`, a.file]);
    expect(h.loopsOf(a.file)).toEqual([loopB]);
    await node.NodeUnstageVolume(
      { volume_id: `sim/${a.name}`, staging_target_path: h.path('staging-swap-a') },
      h.ctx(),
    );
    expect(h.loopsOf(a.file)).toEqual([]);
    expect(h.loopsOf(b.file)).toEqual([loopA]);
    await node.NodeUnstageVolume(
      { volume_id: `sim/${b.name}`, staging_target_path: h.path('staging-swap-b') },
      h.ctx(),
    );
    expect(h.loopsOf(b.file)).toEqual([]);
  });
});
