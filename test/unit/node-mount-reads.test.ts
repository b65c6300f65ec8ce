/**
 * Reads of the mount table per node call on an iSCSI volume with a multipath map (issue 15): the
 * call's snapshot serves the path rules and the unstage checks; the map flush and the disk removal
 * (Multipath.flush, ScsiVolumes.remove) each read fresh, as the last check before a device goes
 * (node-detach-fresh.test.ts: another process may have mounted it since the snapshot).
 * On the fake host (host-fakes.ts); counted through a Mounter whose every read is one read of
 * the mountinfo file. Before the snapshot: stage 1, repeated stage 2, unstage 4. And the
 * snapshot itself: stale after any mount or unmount of this process, never holding a failed read.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { createNodeService } from '../../src/csi/node.js';
import { Mounter } from '../../src/host/mounts.js';
import type { CallContext } from '../../src/csi/server.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';
import { FakeHost, log } from './host-fakes.js';
import { CountingMounter } from '../helpers/mount-reads.js';

const WWN = '60002AC000000000000000160001C0A1';

let h: FakeHost;
beforeEach(() => {
  h = new FakeHost();
  h.multipath = true;
  h.iscsiHosts.set('10.1.1.10:3260', 3);
  h.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN });
});
afterEach(() => h.cleanup());

it('iSCSI block volume with a map: stage reads the mount table once, unstage once and fresh before the flush and the deletes', async () => {
  const m = new CountingMounter(h.exec, h.mountinfo);
  const kubeletDir = join(h.root, 'kubelet');
  const s = createNodeService({
    driverName: 'csi.3par.hpe.com',
    nodeName: 'worker-1',
    backendIds: [],
    maxVolumesPerNode: 0,
    kubeletDir,
    exec: h.exec,
    hostExec: 'direct',
    hostRoot: h.root,
    sysfs: h.sys,
    mounter: m,
    log,
    discovery: { intervalMs: 5, deviceTimeoutMs: 2000, mapTimeoutMs: 500 },
  });
  const ctx: CallContext = { rpc: 'test', log, signal: new AbortController().signal };
  const staging = join(kubeletDir, 'staging');
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
  const reads = (call: () => Promise<unknown>): Promise<number> => m.readsOf(call);
  const counts = {
    stage: await reads(() => s.NodeStageVolume(req, ctx)),
    stageAgain: await reads(() => s.NodeStageVolume(req, ctx)),
    unstage: await reads(() => s.NodeUnstageVolume({ volume_id: req.volume_id, staging_target_path: staging }, ctx)),
  };
  // The map was there, and the unstage flushed it and removed its disk.
  expect(h.commands('multipath -f')).toHaveLength(1);
  expect(h.mapOf(WWN)).toBeUndefined();
  expect(h.devicesOf(WWN)).toEqual([]);
  expect(counts).toEqual({ stage: 1, stageAgain: 1, unstage: 3 });
});

it('a snapshot is re-read after any mount or unmount this process makes, failed ones too, and never keeps a failed read', async () => {
  const m = new CountingMounter(h.exec, h.mountinfo);
  h.addMount('8:16', '/var/lib/kubelet/x');
  const snap = m.snapshot();
  expect(await snap.at('/var/lib/kubelet/x')).toBeDefined();
  expect(await snap.at('/var/lib/kubelet/x')).toBeDefined();
  expect(m.reads).toBe(1);
  // Another Mounter (another node service of this process) unmounts: this snapshot is stale.
  await new Mounter(h.exec, h.mountinfo).umount('/var/lib/kubelet/x');
  expect(await snap.at('/var/lib/kubelet/x')).toBeUndefined();
  expect(m.reads).toBe(2);
  // A mount that fails (the fake host has no mount command) may still have changed the table.
  await expect(m.mount('/dev/sdb', '/var/lib/kubelet/y', 'ext4', [])).rejects.toThrow();
  await snap.read();
  expect(m.reads).toBe(3);
  // An unreadable table is not remembered as one.
  const gone = new CountingMounter(h.exec, join(h.root, 'no-such-mountinfo'));
  const bad = gone.snapshot();
  await expect(bad.read()).rejects.toThrow(/ENOENT/);
  await expect(bad.read()).rejects.toThrow(/ENOENT/);
  expect(gone.reads).toBe(2);
});
