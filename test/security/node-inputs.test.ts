/**
 * A second attacker's pass over what reaches the privileged node plugin from tenant-written
 * objects (StorageClass mountOptions and parameters, a static PV's volumeAttributes, a class's
 * node-stage Secret) and from a forged call on the socket (publish_context). Every case here is
 * refused before the host is touched, so it runs without root: the node service gets an `Exec`
 * that records every command, and each case asserts the gRPC code, that no host command ran and
 * that no node record was written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { status as grpcStatus } from '@grpc/grpc-js';
import { handlerCodeOf } from '../helpers/grpc.js';
import { callCtx, refusingNode } from './refusing-node.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';

const DRIVER = 'csi.sec.inputs';
const WWN = '60002AC0000000000000000000001234';

describe('node inputs a tenant or a forged call controls are refused before any host command', () => {
  const h = refusingNode(DRIVER, '3par-sec-inputs-');

  const untouched = (): void => {
    expect(h.ran).toEqual([]);
    expect(existsSync(h.stateDir) ? readdirSync(h.stateDir) : []).toEqual([]);
  };

  function stage(o: {
    flags?: string[];
    fs?: string;
    vc?: Record<string, string>;
    pc?: Record<string, string>;
    secrets?: Record<string, string>;
  }): NodeStageVolumeRequest__Output {
    return {
      volume_id: 'sim/attack',
      staging_target_path: join(h.kubelet, 'attack', 'globalmount'),
      publish_context: { protocol: 'loop', wwn: WWN, lun: '1', ...o.pc },
      volume_context: { createdEmpty: 'true', ...o.vc },
      volume_capability: {
        mount: { fs_type: o.fs ?? 'xfs', mount_flags: o.flags ?? [], volume_mount_group: '' },
        access_mode: { mode: 'SINGLE_NODE_WRITER' },
        access_type: 'mount',
      },
      secrets: o.secrets ?? {},
    };
  }

  // A filesystem with an external log or journal (a tenant can write one into a raw block
  // volume and clone it) mounted with logdev=<another device> makes the kernel write its log
  // there: on this kernel an xfs mounted with logdev=<a blank loop device> logged "totally
  // zeroed log ... Ending clean mount" and changed 978 bytes of that device. ext4's journal_path
  // and journal_dev name a journal device the same way; rtdev= is xfs's realtime device.
  // errors=panic lets a damaged (or crafted) filesystem crash the node: mkfs -e panic is refused too.
  // uhelper= (mount(8)) makes a later umount run /sbin/umount.<type>, as helper= does for mount.
  it.each([
    ['noatime,logdev=/dev/loop0'],
    ['rtdev=/dev/sdb'],
    ['journal_path=/dev/sdb'],
    ['journal_dev=2049'],
    ['errors=panic'],
    ['noatime,Errors=panic'],
    ['uhelper=udisks2'],
  ])('mount flag %j (StorageClass mountOptions): INVALID_ARGUMENT, nothing run or recorded', async (flag) => {
    expect(
      await handlerCodeOf(
        h.node.NodeStageVolume(
          stage({
            flags: [flag],
            fs: flag.includes('journal') || flag.toLowerCase().includes('errors') ? 'ext4' : 'xfs',
          }),
          callCtx(),
        ),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    untouched();
  });

  // Already refused by the #14 allowlist; replayed here with the tricks an attacker tries next.
  it.each(
    (
      [
        ['ext4', '-Fq'],
        ['ext4', '-- -d /etc'],
        ['ext4', '-E root_owner=0:0'],
        ['ext4', '-E stride=4,root_owner=0:0'],
        ['ext4', '-E stride=4,stride=8'],
        ['ext4', '-O journal_dev'],
        ['ext4', '-O has_journal,journal_dev'],
        ['ext4', '-J size=64,device=/dev/sdb'],
        ['ext4', '-L a,b'],
        ['ext4', '-U clear'],
        ['ext4', '-T ../../etc/x'],
        ['ext4', '-\u0501 /etc'],
        ['ext4', '-b\n4096 -d /etc'],
        ['ext4', `-L ${'a'.repeat(5000)}`],
        ['xfs', '-m uuid=00000000-0000-0000-0000-000000000000'],
        ['xfs', '-d agcount=4,name=/dev/sdb'],
        ['xfs', '-d file,name=/etc/passwd'],
        ['xfs', '-l size=64m,logdev=/dev/sdb'],
        ['xfs', '-l internal=0'],
        ['xfs', '-i size=512,attr=2'],
        ['xfs', '-n ftype=0'],
        ['xfs', '-r extsize=4096'],
        ['xfs', '-c options=/etc/passwd'],
        ['xfs', '-d su=64k -- -f'],
      ] as [string, string][]
    ).map(([fs, options]) => [fs, JSON.stringify(options).slice(0, 60), options] as const),
  )(
    '%s fsCreateOptions %s (static PV volumeAttributes): INVALID_ARGUMENT, nothing run or recorded',
    async (fs, _label, options) => {
      expect(
        await handlerCodeOf(h.node.NodeStageVolume(stage({ fs, vc: { fsCreateOptions: options } }), callCtx())),
      ).toBe(grpcStatus.INVALID_ARGUMENT);
      untouched();
    },
  );

  // chown(2) takes a 32-bit id and (uid_t)-1 means "leave unchanged": larger values are not ids.
  it.each([['4294967296:0'], ['0:9999999999'], ['4294967295:4294967295']])(
    'fsOwner %j: INVALID_ARGUMENT before anything is attached',
    async (owner) => {
      expect(await handlerCodeOf(h.node.NodeStageVolume(stage({ vc: { fsOwner: owner } }), callCtx()))).toBe(
        grpcStatus.INVALID_ARGUMENT,
      );
      untouched();
    },
  );

  // iscsiadm keeps a node record per target under /etc/iscsi/nodes/<IQN>/<portal>/ and writes each
  // setting as a "name = value" line: an IQN with "/" or ".." names directories elsewhere, and a
  // value with a newline would be read back as a second setting. RFC 3720 3.2.6: iSCSI names are
  // letters, digits, '-', '.', ':' only.
  const iscsi = (iqns: string): Record<string, string> => ({
    protocol: 'iscsi',
    targetIqns: iqns,
    targetPortals: '10.0.0.1:3260',
  });
  it.each([
    ['iqn.2000-05.com.3pardata:x/../../../../tmp/evil'],
    ['iqn.2000-05.com.3pardata:a\u0000b'],
    ['naa.2FF70002AC01E1/../x'],
    ['eui.zz'],
  ])('target IQN %j (publish_context of a forged call): INVALID_ARGUMENT, no iscsiadm', async (iqn) => {
    expect(await handlerCodeOf(h.node.NodeStageVolume(stage({ pc: iscsi(iqn) }), callCtx()))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    untouched();
  });

  it.each([
    [{ chapUser: 'csi\nnode.startup = automatic', chapSecret: 'abcdefghijkl' }],
    [{ chapUser: 'csi', chapSecret: 'abcdefghijkl\nnode.session.auth.authmethod = None' }],
    [{ chapUser: 'csi', chapPassword: 'abcdefghijk\r' }],
  ])('CHAP from a node-stage Secret with a control character: INVALID_ARGUMENT, no iscsiadm', async (secrets) => {
    expect(
      await handlerCodeOf(
        h.node.NodeStageVolume(stage({ pc: iscsi('iqn.2000-05.com.3pardata:21210002ac01e1f1'), secrets }), callCtx()),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    untouched();
  });

  it('a well-formed 3PAR IQN and CHAP are not refused by validation (they reach iscsiadm)', async () => {
    const code = await handlerCodeOf(
      h.node.NodeStageVolume(
        stage({
          pc: iscsi('iqn.2000-05.com.3pardata:21210002ac01e1f1'),
          secrets: { chapUser: 'csi-node', chapSecret: 'abc!@#$%^&*()12' },
        }),
        callCtx(),
      ),
    );
    // The fake Exec refuses to run anything: the call got past validation to the first iscsiadm.
    expect(code).not.toBe(grpcStatus.INVALID_ARGUMENT);
    expect(h.ran[0]).toMatch(/^iscsiadm -m node -T iqn\.2000-05\.com\.3pardata:21210002ac01e1f1 -p 10\.0\.0\.1:3260/);
    rmSync(h.stateDir, { recursive: true, force: true });
  });

  it('loop protocol: exports/<WWN> linking to a fifo inside the data directory is never attached (no losetup), and unstage leaves nothing', async () => {
    const sim = join(h.base, 'sim');
    mkdirSync(join(sim, 'exports'), { recursive: true });
    execFileSync('mkfifo', [join(sim, 'pipe')]);
    symlinkSync(join(sim, 'pipe'), join(sim, 'exports', WWN));
    expect(await handlerCodeOf(h.node.NodeStageVolume(stage({}), callCtx()))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(h.ran).toEqual([]);
    // The record written before the attach names no device: the unstage removes it and runs nothing.
    expect(
      await handlerCodeOf(
        h.node.NodeUnstageVolume(
          { volume_id: 'sim/attack', staging_target_path: join(h.kubelet, 'attack', 'globalmount') },
          callCtx(),
        ),
      ),
    ).toBe(grpcStatus.OK);
    untouched();
    rmSync(join(sim, 'exports', WWN));
  });

  // Volume ids name node records by their sha256: "..", "/", NUL or a long id never leave the state directory.
  it.each([
    ['"../../../../etc/passwd"', '../../../../etc/passwd'],
    ['"a/../../b"', 'a/../../b'],
    ['with a NUL', 'x\u0000y'],
    ['of 4096 characters', 'v'.repeat(4096)],
  ])('NodeUnstage of volume id %s (never staged, nothing at the path): OK, nothing run', async (_label, id) => {
    expect(
      await handlerCodeOf(
        h.node.NodeUnstageVolume({ volume_id: id, staging_target_path: join(h.kubelet, 'nothing-here') }, callCtx()),
      ),
    ).toBe(grpcStatus.OK);
    untouched();
  });
});
