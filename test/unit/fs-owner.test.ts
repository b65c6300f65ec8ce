/**
 * The one parser each for `fsOwner`, `fsMode` and "fsCreateOptions that suit some filesystem",
 * shared by the StorageClass parser (CreateVolume) and NodeStage's volume_context check: both
 * accept and refuse exactly the same values.
 */
import { describe, expect, it } from '@jest/globals';
import { parseFsMode, parseFsOwner, MAX_ID } from '../../src/host/owner.js';
import { checkMkfsOptionsForSomeFs } from '../../src/host/mkfs-options.js';
import { parseStorageClassParameters } from '../../src/csi/params.js';
import { validateNodeStageVolumeRequest } from '../../src/csi/node-validate.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';

const stage = (vc: Record<string, string>, block = false): NodeStageVolumeRequest__Output => ({
  volume_id: 'sim/v1',
  staging_target_path: '/var/lib/kubelet/s',
  volume_capability: block
    ? { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' }, access_type: 'block' }
    : {
        mount: { fs_type: '', mount_flags: [], volume_mount_group: '' },
        access_mode: { mode: 'SINGLE_NODE_WRITER' },
        access_type: 'mount',
      },
  publish_context: { protocol: 'loop', wwn: '60002AC000000000000000160001C0A1', lun: '0' },
  secrets: {},
  volume_context: vc,
});

/** Whether each side accepts the value (true) or refuses it with INVALID_ARGUMENT (false). */
function bothSides(key: string, value: string, block = false): [boolean, boolean] {
  const accepts = (f: () => unknown): boolean => {
    try {
      f();
      return true;
    } catch (err) {
      expect(err).toMatchObject({ kind: 'invalid-argument' });
      return false;
    }
  };
  return [
    accepts(() => parseStorageClassParameters({ [key]: value }, block ? [] : [''])),
    accepts(() => validateNodeStageVolumeRequest(stage({ [key]: value }, block))),
  ];
}

const parsers: Record<'fsOwner' | 'fsMode', (text: string) => unknown> = { fsOwner: parseFsOwner, fsMode: parseFsMode };

describe('fsOwner and fsMode', () => {
  it.each([
    ['fsOwner', '0:0', { uid: 0, gid: 0 }],
    ['fsOwner', '1000:2000', { uid: 1000, gid: 2000 }],
    ['fsOwner', `${MAX_ID}:${MAX_ID}`, { uid: MAX_ID, gid: MAX_ID }],
    ['fsOwner', '4294967295:0', undefined], // (uid_t)-1 means "unchanged" to chown(2)
    ['fsOwner', '0:9999999999', undefined],
    ['fsOwner', 'root:root', undefined],
    ['fsOwner', '1000', undefined],
    ['fsOwner', '-1:0', undefined],
    ['fsOwner', ' 1:1', undefined],
    ['fsMode', '0770', 0o770],
    ['fsMode', '770', 0o770],
    ['fsMode', '2775', 0o2775],
    ['fsMode', '02775', 0o2775],
    ['fsMode', '999', undefined],
    ['fsMode', '77', undefined],
    ['fsMode', '007700', undefined],
    ['fsMode', '0o770', undefined],
  ] as const)('%s %j → %j, on both sides', (key, text, want) => {
    expect(parsers[key](text)).toEqual(want);
    expect(bothSides(key, text)).toEqual([want !== undefined, want !== undefined]);
  });
  it('NodeStage gets the parsed values', () => {
    expect(validateNodeStageVolumeRequest(stage({ fsOwner: '1000:2000', fsMode: '0750' }))).toMatchObject({
      fsOwner: { uid: 1000, gid: 2000 },
      fsMode: 0o750,
    });
  });
});

describe('fsCreateOptions of a volume whose filesystem is not known (raw block, GetCapacity)', () => {
  it.each([
    ['-E nodiscard', true], // ext4 only
    ['-m crc=1', true], // xfs only (mke2fs -m takes a percentage)
    ['-b 4096', true], // both
    ['-d file=/etc/passwd', false],
    ['-J device=/dev/sda', false],
  ])('%j: accepted %j, on both sides', (text, ok) => {
    expect(bothSides('fsCreateOptions', text, true)).toEqual([ok, ok]);
  });
  it('refused: the first supported filesystem’s (ext4) reason', () => {
    expect(() => checkMkfsOptionsForSomeFs('-z undo', 'here')).toThrow(
      /here: mkfs option "-z" is not allowed: it writes an undo file on the node \(for ext4/,
    );
  });
});
