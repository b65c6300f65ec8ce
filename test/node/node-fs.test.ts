/**
 * The node service on real loop devices (the simulator's data plane made by hand): ext4 and
 * xfs stage → publish → read-only publish → data → stats → expand → unpublish → unstage, every
 * step repeated, and a node-service restart between stage and unstage. Needs root.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  NodeHarness,
  MiB,
  hasCapSysResource,
  mountCap,
  publishReq,
  rootSkipReason,
  stageReq,
  type TestVolume,
} from './harness.js';
import { declareSkip, describeUnless, itUnless } from '../helpers/skip.js';

const d = describeUnless(rootSkipReason());

d('node service: filesystem volumes on loop devices', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  for (const fsType of ['ext4', 'xfs'] as const) {
    it(`${fsType}: stage, publish, read-only publish, data, stats, unpublish, unstage — each step twice`, async () => {
      const node = h.node();
      const v = h.volume(`life-${fsType}`, 512);
      const staging = h.path(`staging-${fsType}`);
      const target = h.path(`pods/${fsType}/rw`);
      const roTarget = h.path(`pods/${fsType}/ro`);
      const cap = mountCap(fsType);
      const req = stageReq(v, staging, { cap, volumeContext: { fsOwner: '1000:2000', fsMode: '0770' } });
      const t0 = Date.now();
      await node.NodeStageVolume(req, h.ctx());
      const stageMs = Date.now() - t0;
      await node.NodeStageVolume(req, h.ctx());
      expect(h.isMounted(staging)).toBe(true);
      expect(blkidType(v.file)).toBe(fsType);
      expect(h.loopsOf(v.file)).toHaveLength(1);
      // fsOwner / fsMode on first format
      const st = statOf(staging);
      expect(st).toEqual({ uid: 1000, gid: 2000, mode: 0o770 });
      // The record holds no device name.
      const stateDir = h.path('kubelet-node-a/plugins/csi.3par.test/state');
      const rec = readFileSync(`${stateDir}/${readdirSync(stateDir)[0]!}`, 'utf8');
      expect(rec).toContain(v.wwn);
      expect(rec).not.toMatch(/\/dev\/|loop\d/);

      await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
      await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
      writeFileSync(`${target}/hello.txt`, `data on ${fsType}`);
      await node.NodePublishVolume(publishReq(v, staging, roTarget, cap, true), h.ctx());
      await node.NodePublishVolume(publishReq(v, staging, roTarget, cap, true), h.ctx());
      expect(readFileSync(`${roTarget}/hello.txt`, 'utf8')).toBe(`data on ${fsType}`);
      expect(() => writeFileSync(`${roTarget}/nope.txt`, 'x')).toThrow(/EROFS|read-only/);
      // Same target, other read-only flag → ALREADY_EXISTS.
      await expect(node.NodePublishVolume(publishReq(v, staging, target, cap, true), h.ctx())).rejects.toMatchObject({
        kind: 'already-exists',
      });

      const stats = await node.NodeGetVolumeStats(
        { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: staging },
        h.ctx(),
      );
      expect(stats.volume_condition).toEqual({ abnormal: false, message: 'ok' });
      const bytes = stats.usage!.find((u) => u.unit === 'BYTES')!;
      expect(Number(bytes.total)).toBeGreaterThan(400 * MiB);
      expect(Number(bytes.used)).toBeGreaterThan(0);
      expect(stats.usage!.find((u) => u.unit === 'INODES')).toBeDefined();

      // Unstage while published is refused: the device is in use.
      await expect(
        node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx()),
      ).rejects.toMatchObject({ kind: 'failed-precondition' });

      for (const p of [target, roTarget]) {
        await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: p }, h.ctx());
        await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: p }, h.ctx());
        expect(existsSync(p)).toBe(false);
      }
      const stagedStats = await node.NodeGetVolumeStats(
        { volume_id: `sim/${v.name}`, volume_path: staging, staging_target_path: '' },
        h.ctx(),
      );
      expect(stagedStats.volume_condition?.abnormal).toBe(false);

      const t1 = Date.now();
      await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
      const unstageMs = Date.now() - t1;
      await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
      expect(h.isMounted(staging)).toBe(false);
      expect(h.loopsOf(v.file)).toHaveLength(0);
      expect(readdirSync(stateDir)).toHaveLength(0);
      console.log(`${fsType} on a 512 MiB loop volume: stage (with mkfs) ${stageMs} ms, unstage ${unstageMs} ms`);

      // Staged again: the filesystem is mounted, not formatted — the data is still there.
      await node.NodeStageVolume(req, h.ctx());
      expect(readFileSync(`${staging}/hello.txt`, 'utf8')).toBe(`data on ${fsType}`);
      await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    });
  }

  it('xfs: online expand (rescan + xfs_growfs), stats see the new size', async () => {
    await expandCase('xfs');
  });

  itUnless(
    hasCapSysResource()
      ? undefined
      : 'online ext4 expand: CapEff lacks bit 24 (CAP_SYS_RESOURCE), which the kernel requires to grow a mounted ext4',
  )('ext4: online expand (rescan + resize2fs)', async () => {
    await expandCase('ext4');
  });

  async function expandCase(fsType: 'ext4' | 'xfs'): Promise<void> {
    const node = h.node();
    const v = h.volume(`grow-${fsType}`, 512);
    const staging = h.path(`staging-grow-${fsType}`);
    const target = h.path(`pods/grow-${fsType}`);
    const cap = mountCap(fsType);
    await node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
    writeFileSync(`${target}/keep.txt`, 'kept');
    const before = Number(
      (
        await node.NodeGetVolumeStats(
          { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: '' },
          h.ctx(),
        )
      ).usage![0]!.total,
    );
    h.grow(v, 768);
    const expandReq = {
      volume_id: `sim/${v.name}`,
      volume_path: target,
      staging_target_path: staging,
      capacity_range: { required_bytes: String(768 * MiB), limit_bytes: '0' },
      volume_capability: cap,
      secrets: {},
    };
    const res = await node.NodeExpandVolume(expandReq, h.ctx());
    expect(res.capacity_bytes).toBe(String(768 * MiB));
    const again = await node.NodeExpandVolume(expandReq, h.ctx());
    expect(again.capacity_bytes).toBe(String(768 * MiB));
    const after = Number(
      (
        await node.NodeGetVolumeStats(
          { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: '' },
          h.ctx(),
        )
      ).usage![0]!.total,
    );
    expect(after).toBeGreaterThan(before + 200 * MiB);
    expect(readFileSync(`${target}/keep.txt`, 'utf8')).toBe('kept');
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: target }, h.ctx());
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
  }

  it('a node-service restart between stage and unstage: the new process reads the record and unstages', async () => {
    const first = h.node('node-r');
    const v = h.volume('restart', 64);
    const staging = h.path('staging-restart');
    await first.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx());
    const second = h.node('node-r');
    const records = await second.loadState();
    expect(records.map((r) => r.volumeId)).toEqual([`sim/${v.name}`]);
    expect(h.isMounted(staging)).toBe(true);
    await second.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect(h.isMounted(staging)).toBe(false);
    expect(h.loopsOf(v.file)).toHaveLength(0);
  });

  it('no node record (state lost): NodeUnstage refuses, naming the path, and leaves the mount and the device alone', async () => {
    // Issue #14: without a record nothing says the mount is this volume's (NodeUnstage carries no WWN).
    const node = h.node('node-lost');
    const v = h.volume('lost', 64);
    const staging = h.path('staging-lost');
    await node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx());
    execFileSync('rm', ['-rf', h.path('kubelet-node-lost/plugins/csi.3par.test/state')]);
    const refused = node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    await expect(refused).rejects.toMatchObject({
      kind: 'failed-precondition',
      message: expect.stringContaining(staging),
    });
    expect(h.isMounted(staging)).toBe(true);
    expect(h.loopsOf(v.file)).toHaveLength(1);
  });

  it('volume condition: a filesystem that went read-only after an error is abnormal', async () => {
    const node = h.node();
    const v = h.volume('fserr', 64);
    const staging = h.path('staging-fserr');
    const target = h.path('pods/fserr');
    const cap = mountCap('ext4', 'SINGLE_NODE_WRITER', ['errors=remount-ro']);
    await node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
    const stats = (): Promise<{ volume_condition?: { abnormal?: boolean } | null }> =>
      node.NodeGetVolumeStats(
        { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: staging },
        h.ctx(),
      );
    expect((await stats()).volume_condition?.abnormal).toBe(false);
    const trigger = `/sys/fs/ext4/${h.loopsOf(v.file)[0]!}/trigger_fs_error`;
    if (existsSync(trigger)) {
      // ext4's own error path (as on an I/O error): the superblock goes read-only under a rw mount.
      writeFileSync(trigger, 'test error');
      expect((await stats()).volume_condition?.abnormal).toBe(true);
    } else {
      declareSkip(`the fs-error half of the stats test: ${trigger} does not exist on this kernel`);
    }
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: target }, h.ctx());
    expect(await stats().catch((e: unknown) => e)).toMatchObject({ kind: 'not-found' });
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
  });

  it('stats: NOT_FOUND for a volume that is not at volume_path; abnormal when its mount vanished', async () => {
    const node = h.node();
    // A volume this node never staged, at a missing path and at an existing directory.
    await expect(
      node.NodeGetVolumeStats({ volume_id: 'sim/x', volume_path: h.path('nowhere'), staging_target_path: '' }, h.ctx()),
    ).rejects.toMatchObject({ kind: 'not-found' });
    const dir = h.path('plain-dir');
    execFileSync('mkdir', ['-p', dir]);
    await expect(
      node.NodeGetVolumeStats({ volume_id: 'sim/x', volume_path: dir, staging_target_path: '' }, h.ctx()),
    ).rejects.toMatchObject({ kind: 'not-found' });
    // A staged and published volume whose publish mount disappeared behind the driver's back.
    const v = h.volume('stats-vanished', 512);
    const staging = h.path('staging-vanished');
    const target = h.path('pods/vanished/mount');
    const cap = mountCap('ext4');
    await node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx());
    await node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx());
    // Another volume's id at this volume's path is NOT_FOUND too.
    await expect(
      node.NodeGetVolumeStats({ volume_id: 'sim/other', volume_path: target, staging_target_path: staging }, h.ctx()),
    ).rejects.toMatchObject({ kind: 'not-found' });
    execFileSync('umount', [target]);
    const res = await node.NodeGetVolumeStats(
      { volume_id: `sim/${v.name}`, volume_path: target, staging_target_path: staging },
      h.ctx(),
    );
    expect(res.volume_condition?.abnormal).toBe(true);
    await node.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: target }, h.ctx());
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect(h.isMounted(staging)).toBe(false);
  });
});

function blkidType(file: string): string {
  return execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', file], { encoding: 'utf8' }).trim();
}

function statOf(path: string): { uid: number; gid: number; mode: number } {
  const out = execFileSync('stat', ['-c', '%u %g %a', path], { encoding: 'utf8' }).trim().split(' ');
  return { uid: Number(out[0]), gid: Number(out[1]), mode: parseInt(out[2]!, 8) };
}

export type { TestVolume };
