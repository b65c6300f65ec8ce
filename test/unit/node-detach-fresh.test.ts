/**
 * NodeUnstageVolume's last guard before it removes a volume's devices: the map flush and the
 * disk deletes check "not mounted" on a fresh read of the mount table, not on the RPC's snapshot
 * (issue 15 review). The snapshot is re-read only after a mount or unmount of this process; a
 * mount made by another process (an admin mounting the device to copy data off, a second node
 * plugin during a rolling update) after the snapshot was read is invisible in it, and the kernel
 * does not refuse `echo 1 > /sys/block/sdX/device/delete` of a mounted disk (the filesystem
 * loses every write not yet on the array). On the fake host (host-fakes.ts), an iSCSI block
 * volume with a multipath map; "another process" mounts by writing the mountinfo file directly.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeService, type NodeService } from '../../src/csi/node.js';
import type { Exec } from '../../src/host/exec.js';
import { Mounter, type MountInfo } from '../../src/host/mounts.js';
import type { CallContext } from '../../src/csi/server.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';
import { FakeHost, log } from './host-fakes.js';

const WWN = '60002AC000000000000000160001C0A1';

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

let h: FakeHost;
let m: HookedMounter;
/** Runs after each command the node runs (a hook on the Exec seam). */
let afterCommand: ((argv: string[]) => void) | undefined;
let s: NodeService;
let staging: string;
const ctx: CallContext = { rpc: 'test', log, signal: new AbortController().signal };

beforeEach(async () => {
  h = new FakeHost();
  h.multipath = true;
  h.iscsiHosts.set('10.1.1.10:3260', 3);
  h.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN });
  afterCommand = undefined;
  const exec: Exec = async (command, args, options) => {
    const r = await h.exec(command, args, options);
    afterCommand?.([command, ...args]);
    return r;
  };
  m = new HookedMounter(exec, h.mountinfo);
  const kubeletDir = join(h.root, 'kubelet');
  staging = join(kubeletDir, 'staging');
  s = createNodeService({
    driverName: 'csi.3par.hpe.com',
    nodeName: 'worker-1',
    backendIds: [],
    maxVolumesPerNode: 0,
    kubeletDir,
    exec,
    hostExec: 'direct',
    hostRoot: h.root,
    sysfs: h.sys,
    mounter: m,
    log,
    discovery: { intervalMs: 5, deviceTimeoutMs: 2000, mapTimeoutMs: 500 },
  });
  const req: NodeStageVolumeRequest__Output = {
    volume_id: 'prod/pvc-1',
    staging_target_path: staging,
    volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' }, access_type: 'block' },
    publish_context: {
      protocol: 'iscsi',
      wwn: WWN,
      lun: '1',
      targetIqns: 'iqn.2000-05.com.3pardata:20210002ac00383d',
      targetPortals: '10.1.1.10:3260',
    },
    secrets: {},
    volume_context: {},
  };
  await s.NodeStageVolume(req, ctx);
  expect(h.mapOf(WWN)).toBeDefined();
  h.calls.length = 0;
  h.writes.length = 0;
});
afterEach(() => h.cleanup());

const unstage = (): Promise<unknown> =>
  s.NodeUnstageVolume({ volume_id: 'prod/pvc-1', staging_target_path: staging }, ctx);
const devOf = (name: string): string => readFileSync(join(h.sysRoot, 'block', name, 'dev'), 'utf8').trim();

it('the map mounted by another process after the RPC read its snapshot: no flush, no delete, FAILED_PRECONDITION', async () => {
  const map = h.mapOf(WWN)!;
  m.after = () => h.addMount(devOf(map), '/mnt/copy-off');
  await expect(unstage()).rejects.toMatchObject({
    kind: 'failed-precondition',
    message: expect.stringContaining('/mnt/copy-off'),
  });
  expect(h.commands('multipath -f')).toEqual([]);
  expect(h.writes.filter((w) => w.path.endsWith('/delete'))).toEqual([]);
  expect(h.devicesOf(WWN)).toHaveLength(1);
});

it('a path disk mounted by another process while its map was being flushed: the disk is not deleted', async () => {
  const [sd] = h.devicesOf(WWN);
  // Once `multipath -f` removed the map its path disk is free, and another process mounts it.
  afterCommand = (argv) => {
    if (argv[0] === 'multipath' && argv[1] === '-f') h.addMount(devOf(sd!), '/mnt/copy-off');
  };
  await expect(unstage()).rejects.toMatchObject({
    kind: 'failed-precondition',
    message: expect.stringContaining(`${sd} of volume`),
  });
  expect(h.commands('multipath -f')).toHaveLength(1);
  expect(h.writes.filter((w) => w.path.endsWith('/delete'))).toEqual([]);
  expect(h.devicesOf(WWN)).toEqual([sd]);
});
