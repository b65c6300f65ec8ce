/**
 * FC and multipath through the Exec seam and a fake sysfs (fixture formats: see host-fakes.ts):
 * scan of only the needed LUN on only the volume's remote ports, multipath maps waited for,
 * `multipath -f` only for an unused map, removal of only this LUN's disks, rescan + resize.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeHost, log } from './host-fakes.js';
import { hostExec } from '../../src/host/exec.js';
import { Mounter } from '../../src/host/mounts.js';
import { Multipath } from '../../src/host/multipath.js';
import { ScsiVolumes } from '../../src/host/scsi.js';
import { FcConnector } from '../../src/host/fc.js';
import type { VolumeIdentity } from '../../src/host/connector.js';

const PORT_A = '20210002ac00383d';
const PORT_B = '21210002ac00383d';
const OTHER_PORT = '50060e8000c3a1b2';
const WWN = '60002AC000000000000000160001C0A1';
const OTHER_WWN = '60002AC000000000000000990001C0A1';
const TIMINGS = { intervalMs: 5, deviceTimeoutMs: 300, mapTimeoutMs: 300 };

function build(h: FakeHost): FcConnector {
  const mounter = new Mounter(h.exec, h.mountinfo);
  const mp = new Multipath(hostExec(h.exec, 'nsenter'), h.exec, h.sys, mounter, 'auto');
  return new FcConnector(h.sys, new ScsiVolumes(h.sys, h.exec, mounter, mp, TIMINGS));
}

const vol = (wwn = WWN, lun = 4): VolumeIdentity => ({ protocol: 'fc', wwn, lun, fcTargets: [PORT_A, PORT_B] });

describe('FC connector with multipath', () => {
  let h: FakeHost;
  beforeEach(() => {
    h = new FakeHost();
    h.multipath = true;
    // Two HBAs (hosts 5 and 6), each zoned to one array port; host 5 also sees a foreign array.
    h.addFcTarget(5, 0, 0, PORT_A);
    h.addFcTarget(5, 0, 1, OTHER_PORT);
    h.addFcTarget(6, 0, 2, PORT_B);
    h.luns.push(
      { host: 5, target: 0, lun: 4, wwn: WWN },
      { host: 6, target: 2, lun: 4, wwn: WWN },
      { host: 5, target: 1, lun: 4, wwn: OTHER_WWN },
    );
  });
  afterEach(() => h.cleanup());

  it('attach scans only the LUN on only the volume ports and returns the multipath map', async () => {
    const dev = await build(h).attach(vol(), undefined, false, { log });
    expect(dev).toEqual({ path: '/dev/dm-0', name: 'dm-0', wwid: `3${WWN.toLowerCase()}` });
    expect(h.writes).toEqual([
      { path: 'class/scsi_host/host5/scan', value: '0 0 4' },
      { path: 'class/scsi_host/host6/scan', value: '0 2 4' },
    ]);
    expect(h.devicesOf(OTHER_WWN)).toEqual([]);
    // multipathd is asked, never a file: `multipathd show status` in the host's namespaces.
    expect(h.commands()).toEqual(['nsenter --target 1 --mount --net -- multipathd show status']);
  });

  it('no zoned port visible: UNAVAILABLE, nothing scanned', async () => {
    const c = build(h);
    await expect(
      c.attach({ ...vol(), fcTargets: ['2ff70002ac000001'] }, undefined, false, { log }),
    ).rejects.toMatchObject({ kind: 'unavailable' });
    expect(h.writes).toEqual([]);
  });

  it('detach: multipath -f on the unused map (host namespaces), then only this LUN’s disks (paths under a map are not flushed)', async () => {
    const c = build(h);
    await c.attach(vol(), undefined, false, { log });
    const other = await c.attach(
      { protocol: 'fc', wwn: OTHER_WWN, lun: 4, fcTargets: [OTHER_PORT] },
      undefined,
      false,
      { log },
    );
    expect(other.name).toBe('dm-1');
    h.writes.length = 0;
    h.calls.length = 0;
    await c.detach(vol(), { log });
    expect(h.commands()).toEqual([
      'blockdev --flushbufs /dev/dm-0',
      'nsenter --target 1 --mount --net -- multipath -f mpatha',
    ]);
    expect(h.writes).toEqual([
      { path: 'block/sdb/device/delete', value: '1' },
      { path: 'block/sdc/device/delete', value: '1' },
    ]);
    expect(h.devicesOf(WWN)).toEqual([]);
    expect(h.devicesOf(OTHER_WWN)).toEqual(['sdd']);
  });

  it('a map in use is never flushed: FAILED_PRECONDITION, no multipath -f, no deletes', async () => {
    const c = build(h);
    await c.attach(vol(), undefined, false, { log });
    h.addMount('253:0', '/var/lib/kubelet/plugins/kubernetes.io/csi/x/globalmount');
    h.calls.length = 0;
    h.writes.length = 0;
    await expect(c.detach(vol(), { log })).rejects.toMatchObject({ kind: 'failed-precondition' });
    expect(h.commands('multipath')).toEqual([]);
    expect(h.writes).toEqual([]);
  });

  it('rescan: each path re-reads its size, then multipathd resizes the map', async () => {
    const c = build(h);
    await c.attach(vol(), undefined, false, { log });
    h.calls.length = 0;
    h.writes.length = 0;
    await c.rescan(vol());
    expect(h.writes).toEqual([
      { path: 'block/sdb/device/rescan', value: '1' },
      { path: 'block/sdc/device/rescan', value: '1' },
    ]);
    expect(h.commands()).toEqual(['nsenter --target 1 --mount --net -- multipathd resize map mpatha']);
  });

  it('a /dev/disk/by-id link naming another device: refused, sysfs alone is not trusted against udev', async () => {
    const { writeFileSync, symlinkSync, renameSync } = await import('node:fs');
    const { join } = await import('node:path');
    // udev is behind: the link still names dm-7, a device of another volume.
    h.holdUdev = true;
    writeFileSync(join(h.devRoot, 'dm-7'), '');
    symlinkSync('../../dm-7', join(h.byId, `dm-uuid-mpath-3${WWN.toLowerCase()}`));
    const mounter = new Mounter(h.exec, h.mountinfo);
    const mp = new Multipath(hostExec(h.exec, 'nsenter'), h.exec, h.sys, mounter, 'auto');
    const c = new FcConnector(h.sys, new ScsiVolumes(h.sys, h.exec, mounter, mp, TIMINGS, h.devRoot));
    await expect(c.attach(vol(), undefined, false, { log })).rejects.toMatchObject({ kind: 'failed-precondition' });
    // udev catches up: the link names the map sysfs found.
    h.releaseUdev();
    writeFileSync(join(h.devRoot, 'agreeing'), '');
    symlinkSync('../../dm-0', join(h.byId, 'agreeing'));
    renameSync(join(h.byId, 'agreeing'), join(h.byId, `dm-uuid-mpath-3${WWN.toLowerCase()}`));
    await expect(c.attach(vol(), undefined, false, { log })).resolves.toMatchObject({ name: 'dm-0' });
  });

  it('without multipath: one path is the device; two unmanaged paths are refused', async () => {
    h.multipath = false;
    const c = build(h);
    await expect(c.attach(vol(), undefined, false, { log })).rejects.toMatchObject({ kind: 'failed-precondition' });
    const single = new FakeHost();
    try {
      single.addFcTarget(5, 0, 0, PORT_A);
      single.luns.push({ host: 5, target: 0, lun: 4, wwn: WWN });
      const dev = await build(single).attach(vol(), undefined, false, { log });
      expect(dev).toEqual({ path: '/dev/sdb', name: 'sdb' });
      await build(single).detach(vol(), { log });
      expect(single.commands()).toEqual([
        'nsenter --target 1 --mount --net -- multipathd show status',
        'blockdev --flushbufs /dev/sdb',
      ]);
      expect(single.devicesOf(WWN)).toEqual([]);
    } finally {
      single.cleanup();
    }
  });
});
