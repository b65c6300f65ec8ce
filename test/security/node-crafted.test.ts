/**
 * A filesystem a tenant wrote itself. A tenant with a raw block volume writes any bytes, and a
 * clone or an imported copy of it is then mounted by the node's kernel as a filesystem. ext4 keeps
 * its error behaviour in the superblock (mke2fs -e, tune2fs -e): a superblock saying "panic" makes
 * the first metadata error it meets crash the node. The driver mounts ext4 with errors=remount-ro,
 * which overrides the superblock (checked here in /proc/fs/ext4/<device>/options; the test never
 * triggers an error). Root and loop devices: skipped otherwise, with the reason.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { NodeHarness, mountCap, rootSkipReason, stageReq } from '../node/harness.js';
import { describeUnless } from '../helpers/skip.js';
import type { NodeService } from '../../src/csi/node.js';

describeUnless(rootSkipReason())('a crafted ext4 superblock cannot make the node panic', () => {
  let h: NodeHarness;
  let node: NodeService;
  beforeAll(() => {
    h = new NodeHarness();
    node = h.node('node-a');
  });
  afterAll(() => h?.cleanup());

  it('a volume whose ext4 superblock says errors=panic is mounted with errors=remount-ro', async () => {
    const v = h.volume('panic-sb', 64);
    execFileSync('mkfs.ext4', ['-q', '-e', 'panic', v.file]);
    expect(execFileSync('dumpe2fs', ['-h', v.file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(
      /Errors behavior:\s+Panic/,
    );
    const staging = h.path('panic-sb', 'globalmount');
    // A clone or import: it holds a filesystem and was not created empty.
    await node.NodeStageVolume(
      stageReq(v, staging, { cap: mountCap('ext4'), createdEmpty: false, isCopy: true }),
      h.ctx(),
    );
    try {
      const dev = h.loopsOf(v.file)[0]!;
      const options = readFileSync(`/proc/fs/ext4/${dev}/options`, 'utf8').split('\n');
      expect(options).toContain('errors=remount-ro');
      expect(options).not.toContain('errors=panic');
    } finally {
      await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    }
    expect(h.loopsOf(v.file)).toEqual([]);
  });
});
