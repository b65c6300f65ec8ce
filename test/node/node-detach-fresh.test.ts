/**
 * The loop detach's "in use" check reads the mount table fresh, not the RPC's snapshot (issue 15
 * review; the SCSI twin is test/unit/node-detach-fresh.test.ts). The snapshot is re-read only
 * after a mount or unmount of this process; here another process (a plain `mount` run by the
 * test, as an admin copying data off would) mounts the volume's loop device after the unstage
 * read its snapshot. The device must be left to that user: no `blockdev --setrw` (it would turn
 * a read-only user's device writable) and no `losetup --detach` (the kernel only marks a busy
 * loop device autoclear, and it vanishes under its user at the unmount). And the stage's check of
 * the staging path, after its attach, sees a mount made there meanwhile. Real loop devices; root.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { spawnExec, type Exec } from '../../src/host/exec.js';
import { Mounter, type MountInfo } from '../../src/host/mounts.js';
import { NodeHarness, blockCap, mountCap, rootSkipReason, stageReq } from './harness.js';
import { describeUnless } from '../helpers/skip.js';

/** A Mounter that runs `after` once, right after its next read (the RPC's snapshot) returns. */
class HookedMounter extends Mounter {
  after: (() => void) | undefined;
  override async read(): Promise<MountInfo[]> {
    const table = await super.read();
    const f = this.after;
    this.after = undefined;
    f?.();
    return table;
  }
}

const d = describeUnless(rootSkipReason());

d('loop detach and a mount made by another process', () => {
  let h: NodeHarness;
  beforeAll(() => {
    h = new NodeHarness();
  });
  afterAll(() => h?.cleanup());

  it('a block volume mounted elsewhere after the unstage read its snapshot: its loop device is neither made writable nor detached', async () => {
    const commands: string[] = [];
    const exec: Exec = (command, args, options) => {
      commands.push([command, ...args].join(' '));
      return spawnExec(command, args, options);
    };
    const m = new HookedMounter(exec);
    const node = h.node('detach-fresh', { exec, mounter: m });
    const v = h.volume('detach-fresh', 64);
    const staging = h.path('detach-fresh', 'staging');
    await node.NodeStageVolume(stageReq(v, staging, { cap: blockCap() }), h.ctx());
    const [loop] = h.loopsOf(v.file);
    expect(loop).toBeDefined();
    // What a tenant writes into a raw block volume: a filesystem, which an admin then mounts.
    execFileSync('mkfs.ext4', ['-q', '-F', `/dev/${loop}`]);
    const copyOff = h.path('detach-fresh', 'copy-off');
    mkdirSync(copyOff, { recursive: true });
    m.after = () => execFileSync('mount', ['-o', 'ro', `/dev/${loop}`, copyOff]);
    commands.length = 0;
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect(h.isMounted(copyOff)).toBe(true);
    expect(commands.filter((c) => c.startsWith('losetup --detach') || c.startsWith('blockdev --setrw'))).toEqual([]);
    expect(h.loopsOf(v.file)).toEqual([loop]);
    expect(readFileSync(`/sys/block/${loop}/loop/autoclear`, 'utf8').trim()).toBe('0');
  });

  // The same for the stage's "staging path already holds a mount" check, which runs after the
  // attach (an iSCSI login and device discovery: seconds, up to the discovery timeout).
  it('a mount another process made at the staging path while the stage attached: ALREADY_EXISTS, nothing mounted over it', async () => {
    const m = new HookedMounter(spawnExec);
    const node = h.node('stage-fresh', { mounter: m });
    const v = h.volume('stage-fresh', 64);
    const staging = h.path('stage-fresh', 'staging');
    m.after = () => {
      mkdirSync(staging, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'other', staging]);
    };
    await expect(node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx())).rejects.toMatchObject({
      kind: 'already-exists',
    });
    const tops = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[4] === staging);
    expect(tops.map((l) => l.split(' - ')[1]!.split(' ')[0])).toEqual(['tmpfs']);
  });
});
