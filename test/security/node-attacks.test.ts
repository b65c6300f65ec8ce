/**
 * Issue #14, performed the way each finding was found: a StorageClass or a stray node call must
 * never reach outside the volume. Each case asserts the gRPC code the driver answers AND that the
 * host is untouched (files, mounts, loop devices). Node cases run as root on real loop devices
 * (as the node tier does) and act only under their own temporary directory: stand-ins replace the
 * host's own objects (a tmpfs under the temp dir plays /proc; a loop device of a temp file plays
 * "another block device of the node").
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { status as grpcStatus } from '@grpc/grpc-js';
import { handlerCodeOf } from '../helpers/grpc.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { createNodeService, type NodeService } from '../../src/csi/node.js';
import { spawnExec } from '../../src/host/exec.js';
import { silentLogger } from '../../src/log.js';
import { NodeHarness, MiB, mountCap, publishReq, rootSkipReason, stageReq, type TestVolume } from '../node/harness.js';
import { backendOf, startDriver, startSim, type Driver } from '../helpers/controller-harness.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { describeUnless } from '../helpers/skip.js';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('finding 1: fsCreateOptions at CreateVolume (the StorageClass)', () => {
  let sim: RunningSimulator;
  let driver: Driver;
  beforeAll(async () => {
    sim = await startSim();
    driver = await startDriver([backendOf(sim, 'a')]);
  });
  afterAll(async () => {
    await driver?.stop();
    await sim?.close();
  });

  it.each([
    ['ext4', '-d /etc'],
    ['xfs', '-f -l logdev=/dev/loop0'],
    ['xfs', '-r rtdev=/dev/sdb'],
    ['ext4', '-J device=/dev/sdb'],
    ['xfs', '-p /etc/passwd'],
  ])('%s with %j: INVALID_ARGUMENT and no volume on the array', async (fs, options) => {
    const before = sim.array.volumes.length;
    const req = {
      name: `pvc-sec-${fs}-${before}`,
      capacity_range: { required_bytes: String(512 * MiB) },
      volume_capabilities: [{ mount: { fs_type: fs, mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
      parameters: { fsCreateOptions: options },
    };
    const code = await driver.client.call('CreateVolume', req).then(
      () => grpcStatus.OK,
      (err: { code: grpcStatus }) => err.code,
    );
    expect(code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(sim.array.volumes.length).toBe(before);
  });
});

const skip = rootSkipReason();
if (skip) {
  describeUnless(skip)('node attacks (issue #14)', () => {
    it('is skipped', () => undefined);
  });
} else {
  describe('node attacks (issue #14)', () => {
    let h: NodeHarness;
    let node: NodeService;
    let kubelet: string;
    /** Outside the kubelet root (still inside this test's temp dir). */
    let outside: string;
    beforeAll(() => {
      h = new NodeHarness();
      kubelet = h.path('kubelet');
      outside = h.path('outside');
      mkdirSync(kubelet, { recursive: true });
      mkdirSync(outside, { recursive: true });
      node = h.node('node-a', { kubeletDir: kubelet, stateDir: undefined });
    });
    afterAll(() => h?.cleanup());
    afterEach(() => {
      // Each case leaves the host as it found it, or says so here (before the next case).
      expect(
        execFileSync('losetup', ['-a'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.includes(h.base)),
      ).toEqual([]);
    });

    const vid = (v: TestVolume): string => `sim/${v.name}`;
    const detachAll = (file: string): void => {
      for (const n of h.loopsOf(file)) execFileSync('losetup', ['-d', `/dev/${n}`]);
    };
    const blkidType = (file: string): string => {
      try {
        return execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', file], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };

    it('finding 1: NodeStage with volume_context fsCreateOptions "-d /etc" (ext4, static PV): INVALID_ARGUMENT, nothing formatted, attached or mounted', async () => {
      const v = h.volume('f1-ext4', 64);
      const staging = join(kubelet, 'f1-ext4', 'globalmount');
      const code = await handlerCodeOf(
        node.NodeStageVolume(
          stageReq(v, staging, { cap: mountCap('ext4'), volumeContext: { fsCreateOptions: '-d /etc' } }),
          h.ctx(),
        ),
      );
      expect(code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(blkidType(v.file)).toBe('');
      expect(h.isMounted(staging)).toBe(false);
      expect(h.loopsOf(v.file)).toEqual([]);
    });

    it('finding 1: NodeStage with fsCreateOptions "-f -l logdev=<another loop device>" (xfs): INVALID_ARGUMENT, the other device unchanged', async () => {
      const v = h.volume('f1-xfs', 320);
      const victimFile = h.path('outside', 'victim.img');
      writeFileSync(victimFile, Buffer.alloc(8 * MiB, 0x5a));
      const victim = execFileSync('losetup', ['--find', '--show', victimFile], { encoding: 'utf8' }).trim();
      const before = sha256(victimFile);
      try {
        const staging = join(kubelet, 'f1-xfs', 'globalmount');
        const code = await handlerCodeOf(
          node.NodeStageVolume(
            stageReq(v, staging, {
              cap: mountCap('xfs'),
              volumeContext: { fsCreateOptions: `-f -l logdev=${victim}` },
            }),
            h.ctx(),
          ),
        );
        expect(code).toBe(grpcStatus.INVALID_ARGUMENT);
        execFileSync('blockdev', ['--flushbufs', victim]);
        expect(sha256(victimFile)).toBe(before);
        expect(blkidType(v.file)).toBe('');
        expect(h.loopsOf(v.file)).toEqual([]);
      } finally {
        detachAll(victimFile);
        detachAll(v.file);
      }
    });

    it("finding 1: allowlisted options still tune the filesystem made (ext4 -E joined with the driver's nodiscard; xfs sub-options)", async () => {
      const e = h.volume('f1-ok-ext4', 64);
      const es = join(kubelet, 'f1-ok-ext4', 'globalmount');
      await node.NodeStageVolume(
        stageReq(e, es, {
          cap: mountCap('ext4'),
          volumeContext: { fsCreateOptions: '-m 0 -E stride=4,stripe_width=8 -L tuned' },
        }),
        h.ctx(),
      );
      const x = h.volume('f1-ok-xfs', 320);
      const xs = join(kubelet, 'f1-ok-xfs', 'globalmount');
      await node.NodeStageVolume(
        stageReq(x, xs, {
          cap: mountCap('xfs'),
          volumeContext: { fsCreateOptions: '-d agcount=2 -m reflink=0 -L tuned' },
        }),
        h.ctx(),
      );
      try {
        const sb = execFileSync('dumpe2fs', ['-h', `/dev/${h.loopsOf(e.file)[0]}`], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        expect(sb).toMatch(/RAID stride:\s+4\n/);
        expect(sb).toMatch(/RAID stripe width:\s+8\n/);
        expect(sb).toMatch(/Reserved block count:\s+0\n/);
        expect(sb).toMatch(/Filesystem volume name:\s+tuned\n/);
        const info = execFileSync('xfs_info', [xs], { encoding: 'utf8' });
        expect(info).toMatch(/agcount=2,/);
        expect(info).toMatch(/reflink=0/);
      } finally {
        await node.NodeUnstageVolume({ volume_id: vid(e), staging_target_path: es }, h.ctx());
        await node.NodeUnstageVolume({ volume_id: vid(x), staging_target_path: xs }, h.ctx());
      }
    });

    it('finding 2: NodeUnpublish with an unknown volume id at a file under the kubelet root: FAILED_PRECONDITION naming the path, the file kept', async () => {
      const target = join(kubelet, 'pods', 'p1', 'data.txt');
      mkdirSync(join(kubelet, 'pods', 'p1'), { recursive: true });
      writeFileSync(target, 'tenant data');
      const call = node.NodeUnpublishVolume({ volume_id: 'sim/never-published', target_path: target }, h.ctx());
      await expect(call).rejects.toMatchObject({ message: expect.stringContaining(target) });
      expect(
        await handlerCodeOf(
          node.NodeUnpublishVolume({ volume_id: 'sim/never-published', target_path: target }, h.ctx()),
        ),
      ).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(readFileSync(target, 'utf8')).toBe('tenant data');
      // Nothing there at all: success (CSI: unpublishing what is not published succeeds).
      expect(
        await handlerCodeOf(
          node.NodeUnpublishVolume(
            { volume_id: 'sim/never-published', target_path: join(kubelet, 'pods', 'p1', 'none') },
            h.ctx(),
          ),
        ),
      ).toBe(grpcStatus.OK);
    });

    it('finding 2: NodeUnstage with a volume id the driver never staged, at a tmpfs and at a loop mount: FAILED_PRECONDITION, both still mounted, the loop device attached', async () => {
      const tmpfsAt = join(kubelet, 'foreign-tmpfs');
      const loopAt = join(kubelet, 'foreign-loop');
      mkdirSync(tmpfsAt, { recursive: true });
      mkdirSync(loopAt, { recursive: true });
      const img = h.path('outside', 'foreign.img');
      const fd = openSync(img, 'w');
      ftruncateSync(fd, 16 * MiB);
      closeSync(fd);
      execFileSync('mkfs.ext4', ['-q', img]);
      const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', tmpfsAt]);
      execFileSync('mount', [loop, loopAt]);
      try {
        for (const path of [tmpfsAt, loopAt]) {
          const call = node.NodeUnstageVolume({ volume_id: 'sim/never-staged', staging_target_path: path }, h.ctx());
          expect(await handlerCodeOf(call)).toBe(grpcStatus.FAILED_PRECONDITION);
          await expect(
            node.NodeUnstageVolume({ volume_id: 'sim/never-staged', staging_target_path: path }, h.ctx()),
          ).rejects.toMatchObject({ message: expect.stringContaining(path) });
          expect(h.isMounted(path)).toBe(true);
        }
        expect(h.loopsOf(img)).toHaveLength(1);
      } finally {
        execFileSync('umount', [tmpfsAt]);
        execFileSync('umount', [loopAt]);
        detachAll(img);
      }
    });

    it('finding 2: NodeUnpublish / NodeUnstage at a path outside the kubelet root (a tmpfs standing in for /proc): INVALID_ARGUMENT, still mounted', async () => {
      const proc = join(outside, 'proc');
      mkdirSync(proc, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', proc]);
      try {
        expect(
          await handlerCodeOf(node.NodeUnpublishVolume({ volume_id: 'sim/any', target_path: proc }, h.ctx())),
        ).toBe(grpcStatus.INVALID_ARGUMENT);
        expect(
          await handlerCodeOf(node.NodeUnstageVolume({ volume_id: 'sim/any', staging_target_path: proc }, h.ctx())),
        ).toBe(grpcStatus.INVALID_ARGUMENT);
        expect(h.isMounted(proc)).toBe(true);
        // (The host's real /proc is never used here: on a regressed driver this test would unmount it.)
      } finally {
        execFileSync('umount', [proc]);
      }
    });

    it('finding 2: Probe reports not ready when the node plugin cannot read the mount table', async () => {
      const blind = createNodeService({
        driverName: 'csi.sec.test',
        nodeName: 'n',
        backendIds: [],
        maxVolumesPerNode: 0,
        kubeletDir: kubelet,
        exec: spawnExec,
        hostExec: 'direct',
        log: silentLogger,
        mountinfoPath: h.path('outside', 'no-mountinfo'),
      });
      const readiness = new Readiness();
      readiness.setReady();
      const identity = createIdentity({
        driverName: 'csi.sec.test',
        vendorVersion: 't',
        controller: false,
        groupController: false,
        topology: false,
        readiness,
        nodeHealth: blind.health,
      });
      expect((await identity.Probe({}, h.ctx())).ready?.value).toBe(false);
      const seeing = createIdentity({
        driverName: 'csi.sec.test',
        vendorVersion: 't',
        controller: false,
        groupController: false,
        topology: false,
        readiness,
        nodeHealth: node.health,
      });
      expect((await seeing.Probe({}, h.ctx())).ready?.value).toBe(true);
    });

    it('finding 3: a staging path that is a symlink (inside the kubelet root) is mounted, recorded and unstaged by its resolved path', async () => {
      const v = h.volume('f3', 64);
      const real = join(kubelet, 'f3-real');
      const link = join(kubelet, 'f3-link');
      mkdirSync(real, { recursive: true });
      symlinkSync(real, link);
      const req = stageReq(v, link, { cap: mountCap('ext4') });
      expect(await handlerCodeOf(node.NodeStageVolume(req, h.ctx()))).toBe(grpcStatus.OK);
      expect(h.isMounted(real)).toBe(true);
      // Repeated with the same arguments: the same volume is found mounted there.
      expect(await handlerCodeOf(node.NodeStageVolume(req, h.ctx()))).toBe(grpcStatus.OK);
      expect(
        await handlerCodeOf(node.NodeUnstageVolume({ volume_id: vid(v), staging_target_path: link }, h.ctx())),
      ).toBe(grpcStatus.OK);
      expect(h.isMounted(real)).toBe(false);
      expect(h.loopsOf(v.file)).toEqual([]);
    });

    it('finding 3: a staging path whose symlink leaves the kubelet root: INVALID_ARGUMENT, nothing attached or mounted there', async () => {
      const v = h.volume('f3-out', 64);
      const away = join(outside, 'f3-away');
      mkdirSync(away, { recursive: true });
      const link = join(kubelet, 'f3-escape');
      symlinkSync(away, link);
      expect(await handlerCodeOf(node.NodeStageVolume(stageReq(v, link, { cap: mountCap('ext4') }), h.ctx()))).toBe(
        grpcStatus.INVALID_ARGUMENT,
      );
      expect(h.isMounted(away)).toBe(false);
      expect(h.loopsOf(v.file)).toEqual([]);
      expect(blkidType(v.file)).toBe('');
    });

    it('finding 4: NodePublish with target_path equal to the staging path: INVALID_ARGUMENT, and NodeUnstage is not blocked', async () => {
      const v = h.volume('f4', 64);
      const staging = join(kubelet, 'f4', 'globalmount');
      await node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx());
      expect(
        await handlerCodeOf(node.NodePublishVolume(publishReq(v, staging, staging, mountCap('ext4')), h.ctx())),
      ).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(
        await handlerCodeOf(node.NodeUnstageVolume({ volume_id: vid(v), staging_target_path: staging }, h.ctx())),
      ).toBe(grpcStatus.OK);
      expect(h.isMounted(staging)).toBe(false);
      expect(h.loopsOf(v.file)).toEqual([]);
    });

    it('finding 8: an exports/<WWN> link pointing at an image outside the simulator data directory is never attached or mounted', async () => {
      const img = h.path('outside', 'elsewhere.img');
      const fd = openSync(img, 'w');
      ftruncateSync(fd, 16 * MiB);
      closeSync(fd);
      execFileSync('mkfs.ext4', ['-q', img]);
      const before = sha256(img);
      const v = h.volume('f8', 16);
      unlinkSync(join(h.simDataDir, 'exports', v.wwn));
      symlinkSync(img, join(h.simDataDir, 'exports', v.wwn));
      const staging = join(kubelet, 'f8', 'globalmount');
      expect(await handlerCodeOf(node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx()))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      expect(h.loopsOf(img)).toEqual([]);
      expect(h.isMounted(staging)).toBe(false);
      expect(sha256(img)).toBe(before);
      // A link to a device node is refused the same way (not a file in the data directory).
      unlinkSync(join(h.simDataDir, 'exports', v.wwn));
      symlinkSync('/dev/null', join(h.simDataDir, 'exports', v.wwn));
      expect(await handlerCodeOf(node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx()))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      // No record is left that could make a later unstage act.
      expect(
        await handlerCodeOf(node.NodeUnstageVolume({ volume_id: vid(v), staging_target_path: staging }, h.ctx())),
      ).toBe(grpcStatus.OK);
      expect(existsSync(img)).toBe(true);
    });

    it.each([
      ['noatime,bind', false],
      ['noatime,rbind', false],
      ['noatime,loop=/dev/loop0', false],
      ['noatime,rw', true],
    ])('finding 9: mount_flags [%j] (read-only %s): INVALID_ARGUMENT, nothing attached', async (flag, readonly) => {
      const v = h.volume(`f9-${readonly ? 'ro' : 'rw'}-${flag.replace(/[^a-z]/g, '')}`, 16);
      const staging = join(kubelet, `f9-${v.name}`, 'globalmount');
      const mode = readonly ? 'MULTI_NODE_READER_ONLY' : 'SINGLE_NODE_WRITER';
      expect(
        await handlerCodeOf(
          node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4', mode, [flag]), readonly }), h.ctx()),
        ),
      ).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(h.loopsOf(v.file)).toEqual([]);
      expect(h.isMounted(staging)).toBe(false);
      rmSync(v.file);
    });
  });
}
