/**
 * Reads of the mount table per node call (issue 15): each RPC reads /proc/self/mountinfo once and
 * passes that snapshot down (path rules, idempotency checks, what is published), and reads it
 * again only after a mount or unmount of its own that a later check must see; a filesystem stage
 * takes a new one after its attach (seconds long with iSCSI); the loop detach reads
 * fresh (the last check before a device goes: another process may have mounted it since, see
 * test/unit/node-detach-fresh.test.ts). Counted through a
 * Mounter whose every read is one read of the file, on real loop devices and mounts. Needs root.
 *
 * Before the snapshot (same calls, same counts taken): ext4 stage 2, repeated stage 3, publish 3,
 * repeated publish 3, unpublish 3, repeated unpublish 1, unstage 5, repeated unstage 2; block
 * stage 1, publish 3, unpublish 3, unstage 3.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { VolumeCapability__Output } from '../../src/gen/csi/v1/VolumeCapability.js';
import { spawnExec } from '../../src/host/exec.js';
import { NodeHarness, blockCap, mountCap, publishReq, rootSkipReason, stageReq } from './harness.js';
import { describeUnless } from '../helpers/skip.js';
import { CountingMounter } from '../helpers/mount-reads.js';

const d = describeUnless(rootSkipReason());

d('mount-table reads per node call', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  type Step = 'stage' | 'publish' | 'unpublish' | 'unstage';

  /**
   * Runs the steps on a new volume (a node service with a counting Mounter, one staging path,
   * one pod's target) and returns each step with its reads of the mount table.
   */
  async function readsPerStep(name: string, cap: VolumeCapability__Output, steps: Step[]) {
    const m = new CountingMounter(spawnExec);
    const node = h.node(name, { mounter: m });
    const v = h.volume(name, 64);
    const staging = h.path(name, 'staging');
    const target = h.path(name, 'pods/a', cap.block ? 'dev' : 'mnt');
    const ids = { volume_id: `sim/${v.name}` };
    const calls: Record<Step, () => Promise<unknown>> = {
      stage: () => node.NodeStageVolume(stageReq(v, staging, { cap }), h.ctx()),
      publish: () => node.NodePublishVolume(publishReq(v, staging, target, cap), h.ctx()),
      unpublish: () => node.NodeUnpublishVolume({ ...ids, target_path: target }, h.ctx()),
      unstage: () => node.NodeUnstageVolume({ ...ids, staging_target_path: staging }, h.ctx()),
    };
    const counts: [Step, number][] = [];
    for (const step of steps) counts.push([step, await m.readsOf(calls[step])]);
    expect(h.isMounted(staging) || h.isMounted(target)).toBe(false);
    expect(h.loopsOf(v.file)).toEqual([]);
    return counts;
  }

  // A filesystem stage reads once more after its attach; unpublish and unstage once more after their unmount (umountAll
  // checks nothing is left stacked), unstage once more at the detach.
  it('ext4: stage, publish, unpublish, unstage (each repeated) read the table once, or once more after their attach or their own unmount, and unstage fresh at the detach', async () => {
    const counts = await readsPerStep('reads-fs', mountCap('ext4'), [
      'stage',
      'stage',
      'publish',
      'publish',
      'unpublish',
      'unpublish',
      'unstage',
      'unstage',
    ]);
    expect(counts).toEqual([
      ['stage', 2],
      ['stage', 2],
      ['publish', 1],
      ['publish', 1],
      ['unpublish', 2],
      ['unpublish', 1],
      ['unstage', 3],
      ['unstage', 1],
    ]);
  });

  it('block: stage, publish, unpublish, unstage read the table once, or once more after their own unmount, and unstage fresh at the detach', async () => {
    const counts = await readsPerStep('reads-block', blockCap(), ['stage', 'publish', 'unpublish', 'unstage']);
    expect(counts).toEqual([
      ['stage', 1],
      ['publish', 1],
      ['unpublish', 2],
      ['unstage', 2],
    ]);
  });
});
