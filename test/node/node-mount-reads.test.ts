/**
 * Reads of the mount table per node call (issue 15): each RPC reads /proc/self/mountinfo once and
 * passes that snapshot down (path rules, idempotency checks, device-in-use checks), and reads it
 * again only after a mount or unmount of its own that a later check must see. Counted through a
 * Mounter whose every read is one read of the file, on real loop devices and mounts. Needs root.
 *
 * Before the snapshot (same calls, same counts taken): ext4 stage 2, repeated stage 3, publish 3,
 * repeated publish 3, unpublish 3, repeated unpublish 1, unstage 5, repeated unstage 2; block
 * stage 1, publish 3, unpublish 3, unstage 3.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Mounter, type MountInfo } from '../../src/host/mounts.js';
import { spawnExec } from '../../src/host/exec.js';
import { NodeHarness, blockCap, mountCap, publishReq, rootSkipReason, stageReq } from './harness.js';
import { describeUnless } from '../helpers/skip.js';

/** A Mounter that counts its reads of the mount table (each one a read of /proc/self/mountinfo). */
class CountingMounter extends Mounter {
  reads = 0;
  override read(): Promise<MountInfo[]> {
    this.reads++;
    return super.read();
  }
}

const d = describeUnless(rootSkipReason());

d('mount-table reads per node call', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  /** Runs one call and returns how many times it read the mount table. */
  async function reads(m: CountingMounter, call: () => Promise<unknown>): Promise<number> {
    const before = m.reads;
    await call();
    return m.reads - before;
  }

  it('ext4: stage, publish, unpublish, unstage (each repeated) read the table once, or once more after their own unmount', async () => {
    const m = new CountingMounter(spawnExec);
    const node = h.node('reads-fs', { mounter: m });
    const v = h.volume('reads-fs', 64);
    const staging = h.path('reads-fs/staging');
    const target = h.path('reads-fs/pods/a');
    const cap = mountCap('ext4');
    const stage = stageReq(v, staging, { cap });
    const publish = publishReq(v, staging, target, cap);
    const ids = { volume_id: stage.volume_id };
    const counts = {
      stage: await reads(m, () => node.NodeStageVolume(stage, h.ctx())),
      stageAgain: await reads(m, () => node.NodeStageVolume(stage, h.ctx())),
      publish: await reads(m, () => node.NodePublishVolume(publish, h.ctx())),
      publishAgain: await reads(m, () => node.NodePublishVolume(publish, h.ctx())),
      unpublish: await reads(m, () => node.NodeUnpublishVolume({ ...ids, target_path: target }, h.ctx())),
      unpublishAgain: await reads(m, () => node.NodeUnpublishVolume({ ...ids, target_path: target }, h.ctx())),
      unstage: await reads(m, () => node.NodeUnstageVolume({ ...ids, staging_target_path: staging }, h.ctx())),
      unstageAgain: await reads(m, () => node.NodeUnstageVolume({ ...ids, staging_target_path: staging }, h.ctx())),
    };
    expect(h.isMounted(staging)).toBe(false);
    expect(h.loopsOf(v.file)).toEqual([]);
    // Unpublish and unstage read once more after their unmount: umountAll checks nothing is left stacked.
    expect(counts).toEqual({ stage: 1, stageAgain: 1, publish: 1, publishAgain: 1, unpublish: 2, unpublishAgain: 1, unstage: 2, unstageAgain: 1 });
  });

  it('block: stage, publish, unpublish, unstage read the table once, or once more after their own unmount', async () => {
    const m = new CountingMounter(spawnExec);
    const node = h.node('reads-block', { mounter: m });
    const v = h.volume('reads-block', 16);
    const staging = h.path('reads-block/staging');
    const target = h.path('reads-block/pods/a/dev');
    const cap = blockCap();
    const ids = { volume_id: `sim/${v.name}` };
    const counts = {
      stage: await reads(m, () => node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx())),
      publish: await reads(m, () => node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx())),
      unpublish: await reads(m, () => node.NodeUnpublishVolume({ ...ids, target_path: target }, h.ctx())),
      unstage: await reads(m, () => node.NodeUnstageVolume({ ...ids, staging_target_path: staging }, h.ctx())),
    };
    expect(h.isMounted(target)).toBe(false);
    expect(h.loopsOf(v.file)).toEqual([]);
    expect(counts).toEqual({ stage: 1, publish: 1, unpublish: 2, unstage: 1 });
  });
});
