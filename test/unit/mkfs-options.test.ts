/**
 * The fsCreateOptions allowlist (src/host/mkfs-options.ts): what tunes the filesystem passes, what reaches outside it
 * does not.
 */
import { describe, expect, test } from '@jest/globals';
import { parseMkfsOptions } from '../../src/host/mkfs-options.js';
import { parseStorageClassParameters } from '../../src/csi/params.js';
import { ext4Args } from '../../src/host/fs.js';

describe('fsCreateOptions allowlist', () => {
  test.each([
    ['ext4', '-b 4096 -E lazy_itable_init=1', ['-b', '4096', '-E', 'lazy_itable_init=1']],
    [
      'ext4',
      '-m 0 -I 256 -i 16384 -O ^has_journal,metadata_csum -E stride=16,stripe_width=64,nodiscard',
      [
        '-m',
        '0',
        '-I',
        '256',
        '-i',
        '16384',
        '-O',
        '^has_journal,metadata_csum',
        '-E',
        'stride=16,stripe_width=64,nodiscard',
      ],
    ],
    [
      'ext4',
      '-j -J size=64 -L data_01 -T largefile -e remount-ro -q',
      ['-j', '-J', 'size=64', '-L', 'data_01', '-T', 'largefile', '-e', 'remount-ro', '-q'],
    ],
    [
      'xfs',
      '-b size=4096 -m crc=1,reflink=1,bigtime=1,finobt=1 -d agcount=4,su=64k,sw=4 -l size=64m -s size=4096',
      [
        '-b',
        'size=4096',
        '-m',
        'crc=1,reflink=1,bigtime=1,finobt=1',
        '-d',
        'agcount=4,su=64k,sw=4',
        '-l',
        'size=64m',
        '-s',
        'size=4096',
      ],
    ],
    [
      'xfs',
      '-i size=512 -n ftype=1 -L vol1 -m reflink',
      ['-i', 'size=512', '-n', 'ftype=1', '-L', 'vol1', '-m', 'reflink'],
    ],
    ['ext4', '', []],
  ] as const)('%s accepts %j', (fs, text, args) => {
    expect(parseMkfsOptions(text, fs, 'p')).toEqual(args);
  });

  test.each([
    // The attacks of issue #14 and their relatives: paths, other devices, forcing, no filesystem.
    ['xfs', '-f -l logdev=/dev/loop7'],
    ['xfs', '-l logdev=/dev/loop7'],
    ['xfs', '-l internal=0'],
    ['xfs', '-r rtdev=/dev/sdb'],
    ['xfs', '-p /etc/passwd'],
    ['xfs', '-d file=1,name=/tmp/x'],
    ['xfs', '-c options=/etc/x.conf'],
    ['xfs', '-N'],
    ['ext4', '-d /etc'],
    ['ext4', '-J device=/dev/sdb'],
    ['ext4', '-J size=64,device=/dev/sdb'],
    ['ext4', '-O journal_dev'],
    ['ext4', '-l /etc/shadow'],
    ['ext4', '-z /var/lib/kubelet/undo'],
    ['ext4', '-F'],
    ['ext4', '-S'],
    ['ext4', '-n'],
    ['ext4', '-t ext2'],
    ['ext4', '-e panic'],
    ['ext4', '-E offset=4096'],
    ['ext4', '-E root_owner=0:0'],
    ['ext4', '-M /mnt'],
    ['ext4', '-U 01234567-89ab-cdef-0123-456789abcdef'],
    // Syntax the allowlist does not parse: attached values, bundled flags, missing values.
    ['ext4', '-b4096'],
    ['ext4', '-jq'],
    ['ext4', '-b'],
    ['ext4', '-b -q'],
    ['ext4', '4096'],
    ['ext4', '-b 4097'],
    ['ext4', '-E stride=16,stride=32'],
    ['ext4', '-O ^has_journal; reboot'],
    // An option of the other filesystem.
    ['ext4', '-m crc=1'],
    ['xfs', '-E nodiscard'],
    ['ext4', `-m ${'1'.repeat(300)}`],
  ] as const)('%s refuses %j with INVALID_ARGUMENT', (fs, text) => {
    expect(() => parseMkfsOptions(text, fs, 'p')).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });

  test('CreateVolume checks the options against the capability fs_type (empty: ext4), or any supported filesystem when none is given', () => {
    expect(parseStorageClassParameters({ fsCreateOptions: '-m crc=1' }, ['xfs']).fsCreateOptions).toBe('-m crc=1');
    expect(() => parseStorageClassParameters({ fsCreateOptions: '-m crc=1' }, [''])).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }),
    );
    expect(() => parseStorageClassParameters({ fsCreateOptions: '-m 1' }, ['ext4', 'xfs'])).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }),
    );
    expect(parseStorageClassParameters({ fsCreateOptions: '-m crc=1' }, []).fsCreateOptions).toBe('-m crc=1');
    expect(() => parseStorageClassParameters({ fsCreateOptions: '-d /etc' }, [])).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }),
    );
  });

  test("mke2fs keeps only its last -E: the class's extended options join the driver's nodiscard in one -E", () => {
    expect(ext4Args([])).toEqual(['-E', 'nodiscard']);
    expect(
      ext4Args(['-b', '4096', '-E', 'stride=16,stripe_width=64', '-m', '0', '-E', 'lazy_itable_init=1,nodiscard']),
    ).toEqual(['-E', 'nodiscard,stride=16,stripe_width=64,lazy_itable_init=1', '-b', '4096', '-m', '0']);
  });
});
