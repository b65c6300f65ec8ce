/**
 * The real-node cases of issue 17 against the kernel model in host-fakes.ts (a scan of a taken
 * address does nothing, find_multipaths, dead paths that queue I/O, the SES enclosure LUN,
 * several iSCSI sessions per target, udev lagging behind a delete). Each case asserts the exact
 * command lines and sysfs writes. Facts from os-brick (os_brick/initiator/linuxscsi.py,
 * connectors/iscsi.py), multipath.conf(5) and the kernel's drivers/scsi/scsi_scan.c.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeHost, log } from './host-fakes.js';
import { captureLog } from '../helpers/logs.js';
import { hostExec } from '../../src/host/exec.js';
import { Mounter } from '../../src/host/mounts.js';
import { Multipath, type MultipathMode } from '../../src/host/multipath.js';
import { ScsiVolumes } from '../../src/host/scsi.js';
import { IscsiConnector } from '../../src/host/iscsi.js';
import { FcConnector } from '../../src/host/fc.js';
import { createNodeService } from '../../src/csi/node.js';
import { StateStore } from '../../src/host/state.js';
import type { CallContext } from '../../src/csi/server.js';
import type { VolumeIdentity } from '../../src/host/connector.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';

const IQN = 'iqn.2000-05.com.3pardata:20210002ac00383d';
const PORTAL = '10.1.1.10:3260';
const PORT_A = '20210002ac00383d';
const PORT_B = '21210002ac00383d';
const WWN_A = '60002AC000000000000000160001C0A1';
const WWN_B = '60002AC000000000000000170001C0A1';
const TIMINGS = { intervalMs: 5, deviceTimeoutMs: 200, mapTimeoutMs: 100, removalTimeoutMs: 50 };
const NS = 'nsenter --target 1 --mount --net --';

function parts(h: FakeHost, mode: MultipathMode = 'auto') {
  const mounter = new Mounter(h.exec, h.mountinfo);
  const mp = new Multipath(hostExec(h.exec, 'nsenter'), h.exec, h.sys, mounter, mode);
  return new ScsiVolumes(h.sys, h.exec, mounter, mp, TIMINGS, h.devRoot);
}
const iscsi = (h: FakeHost, mode: MultipathMode = 'auto'): IscsiConnector =>
  new IscsiConnector(hostExec(h.exec, 'nsenter'), h.sys, parts(h, mode));
const fc = (h: FakeHost, mode: MultipathMode = 'auto'): FcConnector => new FcConnector(h.sys, parts(h, mode));
const ivol = (wwn: string, lun: number): VolumeIdentity => ({
  protocol: 'iscsi',
  wwn,
  lun,
  iscsiTargets: [{ iqn: IQN, portal: PORTAL }],
});
const fvol = (wwn: string, lun: number, ports = [PORT_A, PORT_B]): VolumeIdentity => ({
  protocol: 'fc',
  wwn,
  lun,
  fcTargets: ports,
});

let h: FakeHost;
beforeEach(() => {
  h = new FakeHost();
});
afterEach(() => h.cleanup());

describe('case 1: a stale device of another volume at the reused LUN', () => {
  beforeEach(() => {
    h.iscsiHosts.set(PORTAL, 3);
    // The array now exports B at LUN 1; A's device stayed at 3:0:0:1 after an unclean detach.
    h.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN_B });
    h.addStaleDisk(3, 0, 0, 1, WWN_A);
  });

  it('the model: a scan of the taken address does nothing (the old WWID stays)', async () => {
    await h.sys.write('class/scsi_host/host3/scan', '0 0 1');
    expect(h.deviceAt('3:0:0:1')).toBe('sdb');
    expect(h.devicesOf(WWN_B)).toEqual([]);
    expect(await h.sys.read('class/scsi_device/3:0:0:1/device/wwid')).toBe(`naa.${WWN_A.toLowerCase()}`);
  });

  it('unused: the stale device is deleted by its address, then the LUN is scanned and B appears', async () => {
    const dev = await iscsi(h).attach(ivol(WWN_B, 1), undefined, false, { log });
    expect(dev).toEqual({ path: '/dev/sdc', name: 'sdc' });
    expect(h.writes).toEqual([
      { path: 'class/scsi_device/3:0:0:1/device/delete', value: '1' },
      { path: 'class/scsi_host/host3/scan', value: '0 0 1' },
    ]);
    expect(h.devicesOf(WWN_A)).toEqual([]);
  });

  it('in use (mounted): FAILED_PRECONDITION naming the device; nothing deleted or scanned', async () => {
    h.addMount((await h.sys.read('block/sdb/dev'))!, '/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pv-a/mount');
    const err = (await iscsi(h)
      .attach(ivol(WWN_B, 1), undefined, false, { log })
      .catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: 'failed-precondition' });
    expect(err.message).toContain('/dev/sdb');
    expect(h.writes).toEqual([]);
    expect(h.deviceAt('3:0:0:1')).toBe('sdb');
  });

  it('FC: the same check per remote port before the scan', async () => {
    const f = new FakeHost();
    try {
      f.addFcTarget(5, 0, 0, PORT_A);
      f.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_B });
      f.addStaleDisk(5, 0, 0, 4, WWN_A);
      const dev = await fc(f).attach(fvol(WWN_B, 4, [PORT_A]), undefined, false, { log });
      expect(dev.name).toBe('sdc');
      expect(f.writes).toEqual([
        { path: 'class/scsi_device/5:0:0:4/device/delete', value: '1' },
        { path: 'class/scsi_host/host5/scan', value: '0 0 4' },
      ]);
    } finally {
      f.cleanup();
    }
  });
});

describe('case 2: multipath decided by asking multipathd', () => {
  const ctx = (): CallContext => ({ rpc: 'test', log, signal: new AbortController().signal });
  function service(mode?: MultipathMode) {
    return createNodeService({
      driverName: 'csi.3par.hpe.com',
      nodeName: 'w1',
      backendIds: [],
      maxVolumesPerNode: 0,
      kubeletDir: join(h.root, 'kubelet'),
      exec: h.exec,
      hostExec: 'nsenter',
      hostRoot: h.root,
      sysfs: h.sys,
      mountinfoPath: h.mountinfo,
      log,
      discovery: TIMINGS,
      multipath: mode,
    });
  }
  const stage = (wwn: string, lun: number): NodeStageVolumeRequest__Output => ({
    volume_id: `prod/${wwn}`,
    staging_target_path: join(h.root, 'kubelet', 'staging', wwn),
    volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' }, access_type: 'block' },
    publish_context: { protocol: 'fc', wwn, lun: String(lun), targetWwns: `${PORT_A},${PORT_B}` },
    secrets: {},
    volume_context: {},
  });
  beforeEach(() => {
    h.addFcTarget(5, 0, 0, PORT_A);
    h.addFcTarget(6, 0, 2, PORT_B);
  });

  it('an /etc/multipath.conf without multipathd (the chart used to create one): the single path, no 20 s wait for a map', async () => {
    mkdirSync(join(h.root, 'etc'), { recursive: true });
    writeFileSync(join(h.root, 'etc/multipath.conf'), '');
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
    await service().NodeStageVolume(stage(WWN_A, 4), ctx());
    expect(h.commands('multipath')).toEqual([`${NS} multipathd show status`]);
    expect(h.devicesOf(WWN_A)).toEqual(['sdb']);
  });

  it('multipathd running without a config file (Ubuntu): the map is used', async () => {
    h.multipath = true;
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A }, { host: 6, target: 2, lun: 4, wwn: WWN_A });
    await service().NodeStageVolume(stage(WWN_A, 4), ctx());
    const rec = await new StateStore(join(h.root, 'kubelet'), 'csi.3par.hpe.com').load(`prod/${WWN_A}`);
    expect(h.mapOf(WWN_A)).toBe('dm-0');
    expect(rec).toMatchObject({ wwid: `3${WWN_A.toLowerCase()}`, steps: { attached: true } });
  });

  it('--multipath on with multipathd down: FAILED_PRECONDITION; off: multipathd is never asked', async () => {
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
    await expect(service('on').NodeStageVolume(stage(WWN_A, 4), ctx())).rejects.toMatchObject({
      kind: 'failed-precondition',
    });
    h.calls.length = 0;
    await service('off').NodeStageVolume(stage(WWN_A, 4), ctx());
    expect(h.commands('multipath')).toEqual([]);
  });

  it.each(['refused', 'packet-error'] as const)(
    'multipathd down (%s): auto uses the single path, on refuses',
    async (how) => {
      h.multipathdDown = how;
      h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
      const cap = captureLog('info');
      expect(await fc(h).attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log: cap.log })).toEqual({
        path: '/dev/sdb',
        name: 'sdb',
      });
      expect(cap.text()).toContain('multipathd is not running on the host; using single-path devices');
      await expect(fc(h, 'on').attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log })).rejects.toMatchObject({
        kind: 'failed-precondition',
      });
    },
  );

  it('maps are found through the paths’ holders (/sys/block/sdX/holders/dm-N)', async () => {
    h.multipath = true;
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A }, { host: 6, target: 2, lun: 4, wwn: WWN_A });
    const c = fc(h);
    const dev = await c.attach(fvol(WWN_A, 4), undefined, false, { log });
    expect(dev.name).toBe('dm-0');
    expect(await h.sys.list('block/sdb/holders')).toEqual(['dm-0']);
    expect(await c.deviceNames(fvol(WWN_A, 4))).toEqual(['dm-0', 'sdb', 'sdc']);
  });
});

describe('case 3: find_multipaths yes|smart|strict with a single path', () => {
  beforeEach(() => {
    h.multipath = true;
    h.addFcTarget(5, 0, 0, PORT_A);
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
  });

  it.each(['yes', 'smart', 'strict'] as const)(
    'find_multipaths %s: multipath -a + multipathd add path, then the map',
    async (policy) => {
      h.findMultipaths = policy;
      const dev = await fc(h).attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log });
      expect(dev).toEqual({ path: '/dev/dm-0', name: 'dm-0', wwid: `3${WWN_A.toLowerCase()}` });
      expect(h.commands()).toEqual([
        `${NS} multipathd show status`,
        `${NS} multipath -a 3${WWN_A.toLowerCase()}`,
        `${NS} multipathd add path /dev/sdb`,
      ]);
    },
  );

  it('multipathd still builds no map (blacklisted): after the bounded wait the single path is used, and the log says so', async () => {
    h.findMultipaths = 'strict';
    h.failures.push({ match: (argv) => argv.includes('-a'), code: 1, stderr: 'wwid is blacklisted\n' });
    const cap = captureLog('info');
    const dev = await fc(h).attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log: cap.log });
    expect(dev).toEqual({ path: '/dev/sdb', name: 'sdb' });
    expect(cap.text()).toContain('multipathd built no map for the single path; using the path device directly');
  });
});

describe('case 4: unstage with dead paths', () => {
  beforeEach(() => {
    h.addFcTarget(5, 0, 0, PORT_A);
    h.addFcTarget(6, 0, 2, PORT_B);
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A }, { host: 6, target: 2, lun: 4, wwn: WWN_A });
  });

  it('the model: flushing a queueing map without a live path never returns (its timeout is reported)', async () => {
    h.multipath = true;
    await fc(h).attach(fvol(WWN_A, 4), undefined, false, { log });
    h.killPaths(WWN_A);
    await expect(h.exec('blockdev', ['--flushbufs', '/dev/dm-0'], { timeoutMs: 1000 })).rejects.toMatchObject({
      failure: 'timeout',
      kind: 'cancelled',
    });
    expect(h.hung).toEqual(['blockdev --flushbufs /dev/dm-0 (after 1000 ms)']);
  });

  it('a dead map: queueing disabled before its flush, the I/O error tolerated, map removed, paths deleted unflushed', async () => {
    h.multipath = true;
    const c = fc(h);
    await c.attach(fvol(WWN_A, 4), undefined, false, { log });
    h.killPaths(WWN_A);
    h.calls.length = 0;
    h.writes.length = 0;
    await c.detach(fvol(WWN_A, 4), { log });
    expect(h.hung).toEqual([]);
    expect(h.commands()).toEqual([
      `${NS} multipathd disablequeueing map mpatha`,
      'blockdev --flushbufs /dev/dm-0',
      `${NS} multipath -f mpatha`,
    ]);
    expect(h.writes).toEqual([
      { path: 'block/sdb/device/delete', value: '1' },
      { path: 'block/sdc/device/delete', value: '1' },
    ]);
    // Every host command ran with its own timeout.
    for (const call of h.calls) expect(call.options.timeoutMs).toBeGreaterThan(0);
  });

  it('multipath -f refused: multipathd del map removes the map', async () => {
    h.multipath = true;
    const c = fc(h);
    await c.attach(fvol(WWN_A, 4), undefined, false, { log });
    h.flushRefused.add('mpatha');
    h.calls.length = 0;
    await c.detach(fvol(WWN_A, 4), { log });
    expect(h.commands()).toEqual([
      'blockdev --flushbufs /dev/dm-0',
      `${NS} multipath -f mpatha`,
      `${NS} multipathd del map mpatha`,
    ]);
    expect(h.mapOf(WWN_A)).toBeUndefined();
    expect(h.devicesOf(WWN_A)).toEqual([]);
  });

  it('a dead single path (no multipath): the flush fails with EIO, the device is removed anyway', async () => {
    const one = new FakeHost();
    try {
      one.addFcTarget(5, 0, 0, PORT_A);
      one.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
      const c = fc(one);
      await c.attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log });
      one.killPaths(WWN_A);
      await c.detach(fvol(WWN_A, 4, [PORT_A]), { log });
      expect(one.devicesOf(WWN_A)).toEqual([]);
    } finally {
      one.cleanup();
    }
  });

  it('multipathd gone at unstage: queueing cannot be disabled, so no flush is tried; the retry finishes', async () => {
    h.multipath = true;
    const c = fc(h);
    await c.attach(fvol(WWN_A, 4), undefined, false, { log });
    h.killPaths(WWN_A);
    h.failures.push({
      match: (argv) => argv.includes('disablequeueing'),
      code: 1,
      stderr: "can't connect to the multipathd socket\n",
    });
    h.writes.length = 0;
    await expect(c.detach(fvol(WWN_A, 4), { log })).rejects.toMatchObject({ kind: 'internal' });
    expect(h.hung).toEqual([]);
    expect(h.writes).toEqual([]);
    h.failures.length = 0;
    await c.detach(fvol(WWN_A, 4), { log });
    expect(h.devicesOf(WWN_A)).toEqual([]);
  });

  it('a flush stuck in the kernel (a path blocked in session recovery): DEADLINE_EXCEEDED at its timeout, nothing deleted; the retry finishes', async () => {
    const one = new FakeHost();
    try {
      one.iscsiHosts.set(PORTAL, 3);
      one.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN_A });
      const c = iscsi(one);
      await c.attach(ivol(WWN_A, 1), undefined, false, { log });
      one.setPathState(WWN_A, 'blocked');
      one.writes.length = 0;
      const err = await c.detach(ivol(WWN_A, 1), { log }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'cancelled', failure: 'timeout' });
      const { toStatus } = await import('../../src/csi/errors.js');
      const { status } = await import('@grpc/grpc-js');
      expect(toStatus(err).code).toBe(status.DEADLINE_EXCEEDED);
      expect(one.hung).toEqual(['blockdev --flushbufs /dev/sdb (after 30000 ms)']);
      expect(one.writes).toEqual([]);
      one.setPathState(WWN_A, 'running');
      await c.detach(ivol(WWN_A, 1), { log });
      expect(one.devicesOf(WWN_A)).toEqual([]);
      expect(one.sessionCount()).toBe(0);
    } finally {
      one.cleanup();
    }
  });
});

describe('case 4 through NodeUnstage: a filesystem on a dead map', () => {
  it('no flush of the dead map before the unmount; queueing disabled before the flush at detach; nothing hangs', async () => {
    h.multipath = true;
    h.addFcTarget(5, 0, 0, PORT_A);
    h.addFcTarget(6, 0, 2, PORT_B);
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A }, { host: 6, target: 2, lun: 4, wwn: WWN_A });
    const ctx: CallContext = { rpc: 'test', log, signal: new AbortController().signal };
    const s = createNodeService({
      driverName: 'csi.3par.hpe.com',
      nodeName: 'w1',
      backendIds: [],
      maxVolumesPerNode: 0,
      kubeletDir: join(h.root, 'kubelet'),
      exec: h.exec,
      hostExec: 'nsenter',
      hostRoot: h.root,
      sysfs: h.sys,
      mountinfoPath: h.mountinfo,
      log,
      discovery: TIMINGS,
    });
    const staging = join(h.root, 'kubelet', 'staging');
    await s.NodeStageVolume(
      {
        volume_id: 'prod/a',
        staging_target_path: staging,
        volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' }, access_type: 'block' },
        publish_context: { protocol: 'fc', wwn: WWN_A, lun: '4', targetWwns: `${PORT_A},${PORT_B}` },
        secrets: {},
        volume_context: {},
      },
      ctx,
    );
    // The volume's filesystem is mounted at the staging path (as a mount volume is).
    h.addMount('253:0', staging);
    h.killPaths(WWN_A);
    h.calls.length = 0;
    await s.NodeUnstageVolume({ volume_id: 'prod/a', staging_target_path: staging }, ctx);
    expect(h.hung).toEqual([]);
    expect(h.commands()).toEqual([
      `umount ${staging}`,
      `${NS} multipathd disablequeueing map mpatha`,
      'blockdev --flushbufs /dev/dm-0',
      `${NS} multipath -f mpatha`,
    ]);
    expect(h.devicesOf(WWN_A)).toEqual([]);
  });
});

describe('case 5: the SES enclosure LUN does not keep a target logged in', () => {
  it('logout once the last disk LUN is gone, although the SES LUN (no block device) remains', async () => {
    h.iscsiHosts.set(PORTAL, 3);
    h.sesLun = 254;
    h.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN_A }, { host: 3, target: 0, lun: 2, wwn: WWN_B });
    const c = iscsi(h);
    await c.attach(ivol(WWN_A, 1), undefined, false, { log });
    await c.attach(ivol(WWN_B, 2), undefined, false, { log });
    expect(await h.sys.list('class/iscsi_session/session1/device/target3:0:0')).toEqual([
      '3:0:0:1',
      '3:0:0:2',
      '3:0:0:254',
    ]);
    await c.detach(ivol(WWN_A, 1), { log });
    expect(h.commands('--logout')).toEqual([]);
    await c.detach(ivol(WWN_B, 2), { log });
    expect(h.commands('--logout')).toEqual([`${NS} iscsiadm -m node -T ${IQN} -p ${PORTAL} --logout`]);
    expect(h.sessionCount()).toBe(0);
  });
});

describe('case 6: several sessions per (IQN, portal) with iface binding', () => {
  beforeEach(() => {
    h.multipath = true;
    h.iscsiIfaces.set(PORTAL, [3, 4]);
    h.luns.push({ iqn: IQN, lun: 1, wwn: WWN_A }, { iqn: IQN, lun: 2, wwn: WWN_B });
  });

  it('every session is scanned: one path per iface, one map', async () => {
    const dev = await iscsi(h).attach(ivol(WWN_A, 1), undefined, false, { log });
    expect(h.writes).toEqual([
      { path: 'class/scsi_host/host3/scan', value: '0 0 1' },
      { path: 'class/scsi_host/host4/scan', value: '0 0 1' },
    ]);
    expect(h.devicesOf(WWN_A)).toHaveLength(2);
    expect(dev.name).toBe('dm-0');
  });

  it('logout only when no session of the target has a disk LUN; it ends every iface’s session', async () => {
    const c = iscsi(h);
    await c.attach(ivol(WWN_A, 1), undefined, false, { log });
    await c.attach(ivol(WWN_B, 2), undefined, false, { log });
    await c.detach(ivol(WWN_A, 1), { log });
    expect(h.commands('--logout')).toEqual([]);
    expect(h.devicesOf(WWN_B)).toHaveLength(2);
    await c.detach(ivol(WWN_B, 2), { log });
    expect(h.commands('--logout')).toHaveLength(1);
    expect(h.sessionCount()).toBe(0);
  });
});

describe('case 8: detach waits until the device nodes and by-id links are gone', () => {
  beforeEach(() => {
    h.addFcTarget(5, 0, 0, PORT_A);
    h.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN_A });
  });

  it('udev behind: UNAVAILABLE naming what is left; once udev caught up the retry succeeds', async () => {
    const c = fc(h);
    await c.attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log });
    h.holdUdev = true;
    const err = (await c.detach(fvol(WWN_A, 4, [PORT_A]), { log }).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: 'unavailable' });
    expect(err.message).toContain(join(h.devRoot, 'sdb'));
    expect(err.message).toContain(`wwn-0x${WWN_A.toLowerCase()}`);
    h.releaseUdev();
    await c.detach(fvol(WWN_A, 4, [PORT_A]), { log });
  });

  it('udev in step: nothing left, detach returns', async () => {
    const c = fc(h);
    await c.attach(fvol(WWN_A, 4, [PORT_A]), undefined, false, { log });
    await c.detach(fvol(WWN_A, 4, [PORT_A]), { log });
    expect(h.devicesOf(WWN_A)).toEqual([]);
  });
});
