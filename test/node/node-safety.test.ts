/**
 * The node-safety rules of DESIGN.md on real loop devices: an existing filesystem is mounted,
 * never formatted; a copy or a static volume without a filesystem fails; a probe error (blkid
 * failing, a device in use, data blkid does not know) never leads to a format; read-only volumes
 * staged concurrently on two "nodes" and twice on one are never written; mkfs runs without
 * discard; mount flags (SELinux context=) reach mount; XFS copies mount with nouuid. Needs root.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync, constants } from 'node:fs';
import { open } from 'node:fs/promises';
import {
  NodeHarness,
  MiB,
  interceptExec,
  mountCap,
  publishReq,
  rootSkipReason,
  sha256File,
  stageReq,
  type TestVolume,
} from './harness.js';
import { ExecError, spawnExec, type Exec } from '../../src/host/exec.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(rootSkipReason());

/** An Exec that records every command line it runs. */
function recording(inner: Exec = spawnExec): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    exec: (command, args, options) => {
      calls.push([command, ...args]);
      return inner(command, args, options);
    },
  };
}

const mkfsCalls = (calls: string[][]): string[][] => calls.filter((c) => c[0]!.startsWith('mkfs'));

d('node safety on loop devices', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  const unstage = (node: ReturnType<NodeHarness['node']>, v: TestVolume, staging: string): Promise<unknown> =>
    node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());

  it('a device that already has a filesystem is mounted, not formatted', async () => {
    const v = h.volume('existing', 64);
    execFileSync('mkfs.ext4', ['-q', '-F', '-U', '11111111-2222-3333-4444-555555555555', v.file]);
    const { exec, calls } = recording();
    const node = h.node('node-a', { exec });
    const staging = h.path('staging-existing');
    await node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx());
    expect(mkfsCalls(calls)).toEqual([]);
    expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', v.file], { encoding: 'utf8' }).trim()).toBe(
      '11111111-2222-3333-4444-555555555555',
    );
    // Asking for another filesystem type than the one on the device fails, never reformats.
    await unstage(node, v, staging);
    await expect(node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('xfs') }), h.ctx())).rejects.toMatchObject({
      kind: 'failed-precondition',
    });
    expect(mkfsCalls(calls)).toEqual([]);
    await unstage(node, v, staging);
  });

  it('a copy without a filesystem fails instead of formatting; so does a static (not created-empty) volume', async () => {
    const { exec, calls } = recording();
    const node = h.node('node-a', { exec });
    const copy = h.volume('copy-blank', 64);
    await expect(
      node.NodeStageVolume(stageReq(copy, h.path('staging-copy'), { cap: mountCap('ext4'), isCopy: true }), h.ctx()),
    ).rejects.toMatchObject({ kind: 'failed-precondition' });
    const stat = h.volume('static-blank', 64);
    await expect(
      node.NodeStageVolume(
        stageReq(stat, h.path('staging-static'), { cap: mountCap('ext4'), createdEmpty: false }),
        h.ctx(),
      ),
    ).rejects.toMatchObject({ kind: 'failed-precondition' });
    expect(mkfsCalls(calls)).toEqual([]);
    await unstage(node, copy, h.path('staging-copy'));
    await unstage(node, stat, h.path('staging-static'));
    expect(h.loopsOf(copy.file)).toEqual([]);
  });

  it('a probe error never leads to a format: blkid failing, blkid 2 with stderr, device in use, partition table, unknown data', async () => {
    // blkid exits 4 ("usage or I/O error") / exits 2 but prints an error: neither proves blank.
    for (const [i, answer] of [
      { code: 4, stdout: '', stderr: 'blkid: error: /dev/loopX: Input/output error\n' },
      { code: 2, stdout: '', stderr: 'blkid: probing failed\n' },
    ].entries()) {
      const v = h.volume(`probe-${i}`, 64);
      const { exec, calls } = recording(
        interceptExec((command) => (command === 'blkid' ? Promise.reject(execError(answer)) : undefined)),
      );
      const node = h.node('node-a', { exec });
      await expect(
        node.NodeStageVolume(stageReq(v, h.path(`staging-probe-${i}`), { cap: mountCap('ext4') }), h.ctx()),
      ).rejects.toMatchObject({ kind: 'failed-precondition' });
      expect(mkfsCalls(calls)).toEqual([]);
      await unstage(node, v, h.path(`staging-probe-${i}`));
    }
    // The device is held open exclusively by someone else: the driver's own O_EXCL open fails.
    const busy = h.volume('probe-busy', 64);
    const loop = execFileSync('losetup', ['--find', '--show', busy.file], { encoding: 'utf8' }).trim();
    const holder = await open(loop, constants.O_RDONLY | constants.O_EXCL);
    try {
      const { exec, calls } = recording();
      const node = h.node('node-a', { exec });
      await expect(
        node.NodeStageVolume(stageReq(busy, h.path('staging-busy'), { cap: mountCap('ext4') }), h.ctx()),
      ).rejects.toMatchObject({ kind: 'failed-precondition' });
      expect(mkfsCalls(calls)).toEqual([]);
    } finally {
      await holder.close();
    }
    // A partition table (no filesystem on the whole device): something, not blank.
    const parted = h.volume('probe-gpt', 64);
    // An MBR with one Linux partition (type 0x83 from LBA 2048) and the 0x55AA signature.
    const mbr = Buffer.alloc(512);
    Buffer.from([0, 0, 0, 0, 0x83, 0, 0, 0]).copy(mbr, 446);
    mbr.writeUInt32LE(2048, 454);
    mbr.writeUInt32LE(4096, 458);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    const pfd = openSync(parted.file, 'r+');
    writeSync(pfd, mbr, 0, 512, 0);
    closeSync(pfd);
    const partedSum = await sha256File(parted.file);
    {
      const { exec, calls } = recording();
      const node = h.node('node-a', { exec });
      await expect(
        node.NodeStageVolume(stageReq(parted, h.path('staging-gpt'), { cap: mountCap('ext4') }), h.ctx()),
      ).rejects.toMatchObject({ kind: 'failed-precondition' });
      expect(mkfsCalls(calls)).toEqual([]);
      await unstage(node, parted, h.path('staging-gpt'));
      expect(await sha256File(parted.file)).toBe(partedSum);
    }
    // Data blkid does not recognise, at the start and at the end: still data.
    for (const at of ['start', 'end'] as const) {
      const v = h.volume(`data-${at}`, 64);
      const fd = openSync(v.file, 'r+');
      writeSync(fd, Buffer.from('application data'), 0, 16, at === 'start' ? 300_000 : 64 * MiB - 4096);
      closeSync(fd);
      const sum = await sha256File(v.file);
      const { exec, calls } = recording();
      const node = h.node('node-a', { exec });
      await expect(
        node.NodeStageVolume(stageReq(v, h.path(`staging-data-${at}`), { cap: mountCap('ext4') }), h.ctx()),
      ).rejects.toMatchObject({ kind: 'failed-precondition' });
      expect(mkfsCalls(calls)).toEqual([]);
      await unstage(node, v, h.path(`staging-data-${at}`));
      expect(await sha256File(v.file)).toBe(sum);
    }
  });

  it('mkfs without discard, mount flags passed through (SELinux context=)', async () => {
    const context = 'context="system_u:object_r:container_file_t:s0:c1,c2"';
    const mounts: string[][] = [];
    // This kernel may not run SELinux: record the context= flag, then mount without it.
    const exec: Exec = (command, args, options) => {
      if (command === 'mount' && args.includes('-o')) {
        mounts.push([...args]);
        const i = args.indexOf('-o') + 1;
        const opts = args[i]!.replace(`,${context}`, '').replace(context, '');
        const rest = opts
          ? [...args.slice(0, i), opts, ...args.slice(i + 1)]
          : [...args.slice(0, i - 1), ...args.slice(i + 1)];
        return spawnExec(command, rest, options);
      }
      return spawnExec(command, args, options);
    };
    const rec = recording(exec);
    const node = h.node('node-a', { exec: rec.exec });
    for (const fsType of ['ext4', 'xfs'] as const) {
      const v = h.volume(`flags-${fsType}`, 512);
      const staging = h.path(`staging-flags-${fsType}`);
      await node.NodeStageVolume(
        stageReq(v, staging, { cap: mountCap(fsType, 'SINGLE_NODE_WRITER', ['noatime', context]) }),
        h.ctx(),
      );
      expect(h.mountOptions(staging)).toContain('noatime');
      await unstage(node, v, staging);
    }
    expect(mkfsCalls(rec.calls).map((c) => c.slice(0, -1))).toEqual([
      ['mkfs.ext4', '-E', 'nodiscard'],
      ['mkfs.xfs', '-K'],
    ]);
    expect(mounts.every((m) => m[m.indexOf('-o') + 1]!.includes(context))).toBe(true);
  });

  it('an XFS copy mounts with nouuid next to its source', async () => {
    const { exec, calls } = recording();
    const node = h.node('node-a', { exec });
    const src = h.volume('xfs-src', 512);
    const cap = mountCap('xfs');
    await node.NodeStageVolume(stageReq(src, h.path('staging-xfs-src'), { cap }), h.ctx());
    writeFileSync(h.path('staging-xfs-src', 'f.txt'), 'source');
    await unstage(node, src, h.path('staging-xfs-src'));
    const copy = h.volume('xfs-copy', 512);
    execFileSync('cp', ['--sparse=always', src.file, copy.file]);
    await node.NodeStageVolume(stageReq(src, h.path('staging-xfs-src'), { cap }), h.ctx());
    await node.NodeStageVolume(
      stageReq(copy, h.path('staging-xfs-copy'), { cap, isCopy: true, createdEmpty: false }),
      h.ctx(),
    );
    const copyMount = calls.find((c) => c[0] === 'mount' && c.includes(h.path('staging-xfs-copy')))!;
    expect(copyMount[copyMount.indexOf('-o') + 1]).toContain('nouuid');
    expect(readFileSync(h.path('staging-xfs-copy', 'f.txt'), 'utf8')).toBe('source');
    await unstage(node, copy, h.path('staging-xfs-copy'));
    await unstage(node, src, h.path('staging-xfs-src'));
  });

  it('two filesystem volumes: unstaging one leaves the other mounted and intact', async () => {
    const node = h.node();
    const a = h.volume('pair-a', 64);
    const b = h.volume('pair-b', 64);
    await node.NodeStageVolume(stageReq(a, h.path('staging-pair-a'), { cap: mountCap('ext4') }), h.ctx());
    await node.NodeStageVolume(stageReq(b, h.path('staging-pair-b'), { cap: mountCap('ext4') }), h.ctx());
    writeFileSync(h.path('staging-pair-b', 'b.txt'), 'volume b');
    await unstage(node, a, h.path('staging-pair-a'));
    expect(h.loopsOf(a.file)).toEqual([]);
    expect(h.loopsOf(b.file)).toHaveLength(1);
    expect(readFileSync(h.path('staging-pair-b', 'b.txt'), 'utf8')).toBe('volume b');
    await unstage(node, b, h.path('staging-pair-b'));
  });

  for (const fsType of ['ext4', 'xfs'] as const) {
    it(`${fsType}: a read-only volume staged twice at once (and on a second node) is never written`, async () => {
      // mkfs.xfs needs ≥ 300 MB; ext4 is content with less, which keeps the checksums quick.
      const v = h.volume(`ro-${fsType}`, fsType === 'xfs' ? 320 : 64);
      const writer = h.node('node-w');
      await writer.NodeStageVolume(stageReq(v, h.path(`staging-ro-w-${fsType}`), { cap: mountCap(fsType) }), h.ctx());
      writeFileSync(h.path(`staging-ro-w-${fsType}`, 'r.txt'), 'read me');
      await unstage(writer, v, h.path(`staging-ro-w-${fsType}`));
      const before = await sha256File(v.file);

      const nodeA = h.node('node-ro-a');
      const nodeB = h.node('node-ro-b');
      const cap = mountCap(fsType, 'MULTI_NODE_READER_ONLY');
      const reqA = stageReq(v, h.path(`staging-ro-a-${fsType}`), { cap, readonly: true });
      const reqB = stageReq(v, h.path(`staging-ro-b-${fsType}`), { cap, readonly: true });
      const results = await Promise.allSettled([
        nodeA.NodeStageVolume(reqA, h.ctx()),
        nodeA.NodeStageVolume(reqA, h.ctx()),
        nodeB.NodeStageVolume(reqB, h.ctx()),
      ]);
      // The duplicate on node A either ran after the first or was refused as busy (ABORTED).
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ kind: 'busy' });
      expect(results[2]!.status).toBe('fulfilled');
      await nodeA.NodeStageVolume(reqA, h.ctx());
      expect(h.mountOptions(h.path(`staging-ro-a-${fsType}`))).toContain('ro');
      expect(readFileSync(h.path(`staging-ro-a-${fsType}`, 'r.txt'), 'utf8')).toBe('read me');
      expect(readFileSync(h.path(`staging-ro-b-${fsType}`, 'r.txt'), 'utf8')).toBe('read me');
      const target = h.path(`pods/ro-${fsType}`);
      await nodeA.NodePublishVolume(publishReq(v, h.path(`staging-ro-a-${fsType}`), target, cap, true), h.ctx());
      expect(() => writeFileSync(`${target}/w.txt`, 'x')).toThrow(/EROFS|read-only/);
      await nodeA.NodeUnpublishVolume({ volume_id: `sim/${v.name}`, target_path: target }, h.ctx());
      await unstage(nodeA, v, h.path(`staging-ro-a-${fsType}`));
      await unstage(nodeB, v, h.path(`staging-ro-b-${fsType}`));
      expect(h.loopsOf(v.file)).toEqual([]);
      expect(await sha256File(v.file)).toBe(before);
    });
  }

  it('a blank read-only volume → FAILED_PRECONDITION, never formatted', async () => {
    const v = h.volume('ro-blank', 64);
    const before = await sha256File(v.file);
    const { exec, calls } = recording();
    const node = h.node('node-a', { exec });
    const staging = h.path('staging-ro-blank');
    await expect(
      node.NodeStageVolume(
        stageReq(v, staging, { cap: mountCap('ext4', 'MULTI_NODE_READER_ONLY'), readonly: true }),
        h.ctx(),
      ),
    ).rejects.toMatchObject({ kind: 'failed-precondition' });
    expect(mkfsCalls(calls)).toEqual([]);
    expect(calls.some((c) => c[0] === 'blockdev' && c[1] === '--setro')).toBe(true);
    await unstage(node, v, staging);
    expect(await sha256File(v.file)).toBe(before);
  });
});

function execError(a: { code: number; stdout: string; stderr: string }): ExecError {
  return new ExecError({
    commandLine: 'blkid -p -o export /dev/loopX',
    failure: 'exit',
    exitCode: a.code,
    stdout: a.stdout,
    stderr: a.stderr,
  });
}
