/**
 * The iSCSI connector through the Exec seam and a fake sysfs (see host-fakes.ts for where the
 * fixtures' formats come from): the command sequence of attach and detach, CHAP, logout withheld
 * while another LUN of the target is in use or being staged, timeouts, and nsenter prefixes.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { FakeHost, log } from './host-fakes.js';
import { hostExec, ExecError, NSENTER_PREFIX } from '../../src/host/exec.js';
import { Mounter } from '../../src/host/mounts.js';
import { Multipath } from '../../src/host/multipath.js';
import { ScsiVolumes } from '../../src/host/scsi.js';
import { IscsiConnector } from '../../src/host/iscsi.js';
import type { VolumeIdentity } from '../../src/host/connector.js';

const IQN = 'iqn.2000-05.com.3pardata:20210002ac00383d';
const IQN2 = 'iqn.2000-05.com.3pardata:21210002ac00383d';
const PORTAL = '10.1.1.10:3260';
const PORTAL2 = '10.1.2.10:3260';
const WWN1 = '60002AC000000000000000160001C0A1';
const WWN2 = '60002AC000000000000000170001C0A1';
const TIMINGS = { intervalMs: 5, deviceTimeoutMs: 300, mapTimeoutMs: 300 };

function build(h: FakeHost, mode: 'direct' | 'nsenter' = 'direct'): IscsiConnector {
  const mounter = new Mounter(h.exec, h.mountinfo);
  const host = hostExec(h.exec, mode);
  const mp = new Multipath(host, h.exec, h.sys, mounter, 'auto');
  return new IscsiConnector(host, h.sys, new ScsiVolumes(h.sys, h.exec, mounter, mp, TIMINGS));
}

const vol = (wwn: string, lun: number, targets = [{ iqn: IQN, portal: PORTAL }]): VolumeIdentity => ({
  protocol: 'iscsi',
  wwn,
  lun,
  iscsiTargets: targets,
});
const node = `-m node -T ${IQN} -p ${PORTAL}`;

describe('iSCSI connector', () => {
  let h: FakeHost;
  beforeEach(() => {
    h = new FakeHost();
    h.iscsiHosts.set(PORTAL, 3);
    h.luns.push({ host: 3, target: 0, lun: 1, wwn: WWN1 }, { host: 3, target: 0, lun: 2, wwn: WWN2 });
  });
  afterEach(() => h.cleanup());

  it('attach: node record with manual start-up and scan, login, scan of only the LUN, device verified by WWID', async () => {
    const dev = await build(h).attach(vol(WWN1, 1), undefined, false, { log });
    expect(dev).toEqual({ path: '/dev/sdb', name: 'sdb' });
    expect(h.commands()).toEqual([
      `iscsiadm ${node}`,
      `iscsiadm ${node} -o new`,
      `iscsiadm ${node} -o update -n node.startup -v manual`,
      `iscsiadm ${node} -o update -n node.session.scan -v manual`,
      `iscsiadm ${node} -o update -n node.session.auth.authmethod -v None`,
      `iscsiadm ${node} --login`,
      // multipathd is asked whether it runs (it does not here): the single path is the device.
      'multipathd show status',
    ]);
    // Only the record lookup and the status query are read-only (cancellable); login and edits run to completion.
    expect(h.calls.map((c) => c.options.readOnly === true)).toEqual([true, false, false, false, false, false, true]);
    expect(h.writes).toEqual([{ path: 'class/scsi_host/host3/scan', value: '0 0 1' }]);
  });

  it('attach of a second LUN of a logged-in target: no login, only its scan', async () => {
    const c = build(h);
    await c.attach(vol(WWN1, 1), undefined, false, { log });
    h.calls.length = 0;
    h.writes.length = 0;
    const dev = await c.attach(vol(WWN2, 2), undefined, false, { log });
    expect(dev.name).toBe('sdc');
    expect(h.commands('iscsiadm')).toEqual([]);
    expect(h.writes).toEqual([{ path: 'class/scsi_host/host3/scan', value: '0 0 2' }]);
  });

  it('CHAP from the node-stage secret: set on the record, the secret never in an error message', async () => {
    await build(h).attach(vol(WWN1, 1), { user: 'chapuser', secret: 's3cret-chap-value' }, false, { log });
    expect(h.commands('auth')).toEqual([
      `iscsiadm ${node} -o update -n node.session.auth.authmethod -v CHAP`,
      `iscsiadm ${node} -o update -n node.session.auth.username -v chapuser`,
      `iscsiadm ${node} -o update -n node.session.auth.password -v s3cret-chap-value`,
    ]);
    const h2 = new FakeHost();
    try {
      h2.iscsiHosts.set(PORTAL, 3);
      h2.failures.push({
        match: (argv) => argv.includes('node.session.auth.password'),
        code: 6,
        stderr: 'iscsiadm: Could not update node record\n',
      });
      const err = await build(h2, 'nsenter')
        .attach(vol(WWN1, 1), { user: 'u', secret: 's3cret-chap-value' }, false, { log })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'unavailable' });
      const cause = (err as Error).cause as ExecError;
      expect(cause).toBeInstanceOf(ExecError);
      expect(cause.message).toContain('[REDACTED]');
      expect(JSON.stringify({ m: cause.message, d: cause.details, c: cause.commandLine })).not.toContain('s3cret');
    } finally {
      h2.cleanup();
    }
  });

  it('detach: removes only this LUN; logout withheld while another LUN of the target is in use; the last LUN logs out', async () => {
    const c = build(h);
    await c.attach(vol(WWN1, 1), undefined, false, { log });
    await c.attach(vol(WWN2, 2), undefined, false, { log });
    h.calls.length = 0;
    h.writes.length = 0;
    await c.detach(vol(WWN1, 1), { log });
    expect(h.commands()).toEqual(['blockdev --flushbufs /dev/sdb']);
    expect(h.writes).toEqual([{ path: 'block/sdb/device/delete', value: '1' }]);
    expect(h.devicesOf(WWN2)).toEqual(['sdc']);
    h.calls.length = 0;
    await c.detach(vol(WWN2, 2), { log });
    expect(h.commands()).toEqual([
      'blockdev --flushbufs /dev/sdc',
      `iscsiadm ${node} --logout`,
      `iscsiadm ${node} -o delete`,
    ]);
    // Detach again (NodeUnstage repeated): nothing left to do, nothing run.
    h.calls.length = 0;
    await c.detach(vol(WWN2, 2), { log });
    expect(h.commands()).toEqual([]);
  });

  it('logout withheld while another LUN of the target is being staged', async () => {
    const c = build(h);
    await c.attach(vol(WWN1, 1), undefined, false, { log });
    h.holdScans.add(3);
    const staging = c.attach(vol(WWN2, 2), undefined, false, { log });
    await h.scanHeld();
    expect(c.isStaging({ iqn: IQN, portal: PORTAL })).toBe(true);
    await c.detach(vol(WWN1, 1), { log });
    expect(h.commands('--logout')).toEqual([]);
    h.release();
    expect((await staging).name).toBe('sdc');
    await c.detach(vol(WWN2, 2), { log });
    expect(h.commands('--logout')).toEqual([`iscsiadm ${node} --logout`]);
  });

  it('a LUN that never appears: UNAVAILABLE after the bounded wait', async () => {
    // Bounded: it rejects (an unbounded wait would end in jest's timeout instead).
    await expect(
      build(h).attach(vol('60002AC0000000000000009999999999', 9), undefined, false, { log }),
    ).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('a dead portal fails alone: the other path attaches, multipath builds the map', async () => {
    h.multipath = true;
    const dev = await build(h).attach(
      vol(WWN1, 1, [
        { iqn: IQN2, portal: PORTAL2 },
        { iqn: IQN, portal: PORTAL },
      ]),
      undefined,
      false,
      { log },
    );
    expect(dev).toEqual({ path: '/dev/dm-0', name: 'dm-0', wwid: `3${WWN1.toLowerCase()}` });
    expect(h.commands('--login')).toHaveLength(2);
    // No portal answers: UNAVAILABLE.
    const h2 = new FakeHost();
    try {
      await expect(build(h2).attach(vol(WWN1, 1), undefined, false, { log })).rejects.toMatchObject({
        kind: 'unavailable',
      });
    } finally {
      h2.cleanup();
    }
  });

  it('nsenter: iscsiadm runs in the host namespaces; blockdev and sysfs stay local', async () => {
    const c = build(h, 'nsenter');
    await c.attach(vol(WWN1, 1), undefined, false, { log });
    await c.detach(vol(WWN1, 1), { log });
    const iscsi = h.calls.filter((x) => x.argv.includes('iscsiadm'));
    expect(iscsi.length).toBeGreaterThan(0);
    for (const x of iscsi)
      expect(x.argv.slice(0, NSENTER_PREFIX.length + 1)).toEqual([
        'nsenter',
        '--target',
        '1',
        '--mount',
        '--net',
        '--',
        'iscsiadm',
      ]);
    expect(h.calls.filter((x) => x.argv[0] === 'blockdev').map((x) => x.argv.join(' '))).toEqual([
      'blockdev --flushbufs /dev/sdb',
    ]);
  });
});
