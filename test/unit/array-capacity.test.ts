import { describe, expect, it } from '@jest/globals';
import {
  capabilityProblem,
  expandSizeMiB,
  GiB,
  isSingleNode,
  MiB,
  sizeFits,
  volumeSizeMiB,
} from '../../src/csi/controller-validate.js';
import { DriverError } from '../../src/errors.js';
import type { VolumeCapability__Output } from '../../src/gen/csi/v1/VolumeCapability.js';

const range = (required: number, limit = 0) => ({ required_bytes: String(required), limit_bytes: String(limit) });

function kind(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof DriverError ? err.kind : 'other';
  }
}

describe('volumeSizeMiB', () => {
  it.each([
    [null, '', 1024],
    [range(0), '', 1024],
    [range(1), '', 256],
    [range(256 * MiB), '', 256],
    [range(256 * MiB + 1), '', 512],
    [range(GiB), 'ext4', 1024],
    [range(100 * MiB), 'xfs', 512],
    [range(0, 512 * MiB), '', 512],
    [range(0, 300 * MiB), '', 256],
    [range(1, 256 * MiB), '', 256],
    [range(5 * GiB, 10 * GiB), '', 5120],
  ])('range %j fs %p → %d MiB', (r, fs, mib) => {
    expect(volumeSizeMiB(r, fs)).toBe(mib);
  });

  it.each([
    [range(2 * GiB, GiB)],
    [range(1, 100 * MiB)],
    [range(0, 100 * MiB)],
    [range(100 * MiB, 300 * MiB + 1)],
    [range(17 * 1024 * GiB)],
  ])('range %j → OUT_OF_RANGE', (r) => {
    expect(kind(() => volumeSizeMiB(r, r.required_bytes === String(100 * MiB) ? 'xfs' : ''))).toBe('out-of-range');
  });

  it('refuses negative and non-numeric sizes', () => {
    expect(kind(() => volumeSizeMiB({ required_bytes: '-1', limit_bytes: '0' }, ''))).toBe('invalid-argument');
  });
});

describe('expandSizeMiB and sizeFits', () => {
  it('rounds up to whole MiB', () => {
    expect(expandSizeMiB(range(GiB + 1))).toBe(1025);
    expect(kind(() => expandSizeMiB(range(0)))).toBe('invalid-argument');
    expect(kind(() => expandSizeMiB(range(2 * GiB, GiB)))).toBe('out-of-range');
  });
  it.each([
    [1024, range(GiB), true],
    [1024, range(GiB, GiB), true],
    [1024, range(2 * GiB), false],
    [1024, range(0, 512 * MiB), false],
    [1024, null, true],
  ])('%d MiB fits %j: %p', (mib, r, ok) => {
    expect(sizeFits(mib, r)).toBe(ok);
  });
});

type Mode = NonNullable<VolumeCapability__Output['access_mode']>['mode'];
const mount = (mode: Mode, fs = 'ext4'): VolumeCapability__Output => ({
  mount: { fs_type: fs, mount_flags: [], volume_mount_group: '' },
  access_mode: { mode },
  access_type: 'mount',
});
const block = (mode: Mode): VolumeCapability__Output => ({ block: {}, access_mode: { mode }, access_type: 'block' });

describe('access modes', () => {
  it.each([
    [mount('SINGLE_NODE_WRITER'), true],
    [mount('SINGLE_NODE_READER_ONLY'), true],
    [mount('SINGLE_NODE_SINGLE_WRITER', 'xfs'), true],
    [mount('SINGLE_NODE_MULTI_WRITER'), true],
    [mount('MULTI_NODE_READER_ONLY'), true],
    [mount('MULTI_NODE_MULTI_WRITER'), false],
    [mount('MULTI_NODE_SINGLE_WRITER'), false],
    [block('MULTI_NODE_MULTI_WRITER'), true],
    [mount('SINGLE_NODE_WRITER', 'btrfs'), false],
    [mount('UNKNOWN'), false],
    [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } } as VolumeCapability__Output, false],
  ])('%j supported: %p', (cap, ok) => {
    expect(capabilityProblem(cap) === undefined).toBe(ok);
  });

  it('recognises single-node volumes', () => {
    expect(isSingleNode([mount('SINGLE_NODE_WRITER'), block('SINGLE_NODE_MULTI_WRITER')])).toBe(true);
    expect(isSingleNode([mount('SINGLE_NODE_WRITER'), mount('MULTI_NODE_READER_ONLY')])).toBe(false);
    expect(isSingleNode([])).toBe(false);
  });
});
