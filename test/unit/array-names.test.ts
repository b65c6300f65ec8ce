import { describe, expect, it } from '@jest/globals';
import {
  arrayNameFor,
  base32,
  formatId,
  hostNameFor,
  isArrayName,
  parseId,
  tombstoneNameFor,
  SET_NAME_MAX,
  hashedName,
} from '../../src/array/names.js';
import {
  formatHostMarker,
  formatVolumeMarker,
  hostOwnerTag,
  ownedBy,
  parseHostMarker,
  parseVolumeMarker,
  requestIdentity,
  VOLUME_COMMENT_MAX,
  HOST_MARKER_MAX,
} from '../../src/array/marker.js';
import { DriverError } from '../../src/errors.js';

describe('names', () => {
  it('encodes base32 like RFC 4648 (lower case, unpadded)', () => {
    expect(base32(Buffer.from('foobar'))).toBe('mzxw6ytboi');
    expect(base32(Buffer.from('f'))).toBe('my');
  });

  it.each([
    ['volume', 'pvc-70d5caf8-7558-40e6-a8b7-77dfcf8ddcd8'],
    ['snapshot', 'snapshot-70d5caf8-7558-40e6-a8b7-77dfcf8ddcd8'],
    ['group', 'groupsnapshot-1'],
    ['volume', 'x'.repeat(128)],
  ] as const)('maps %s %s to a deterministic valid array name', (role, name) => {
    const a = arrayNameFor(role, 'cluster-a', name);
    expect(a).toBe(arrayNameFor(role, 'cluster-a', name));
    expect(isArrayName(a)).toBe(true);
    expect(a.length).toBeLessThanOrEqual(24);
    expect(a).not.toBe(arrayNameFor(role, 'cluster-b', name));
  });

  it('uses role prefixes and leaves room for group member suffixes and sets', () => {
    expect(arrayNameFor('volume', 'c', 'n')).toMatch(/^csv-[a-z2-7]{20}$/);
    expect(arrayNameFor('snapshot', 'c', 'n')).toMatch(/^css-/);
    expect(`${arrayNameFor('group', 'c', 'n')}-999999`.length).toBeLessThanOrEqual(31);
    expect(hashedName('volumeSet', 'x').length).toBeLessThanOrEqual(SET_NAME_MAX);
    expect(hostNameFor('drv', 'c', 'node-1')).toMatch(/^csh-/);
    expect(tombstoneNameFor('60002ac0000000000000015000000001')).toBe(
      tombstoneNameFor('60002AC0000000000000015000000001'),
    );
  });

  it('distinguishes names that differ only in how parts split', () => {
    expect(hashedName('volume', 'a', 'bc')).not.toBe(hashedName('volume', 'ab', 'c'));
  });

  it.each([
    ['sim/csv-abc', { backendId: 'sim', arrayName: 'csv-abc' }],
    ['a-1/vol.1_x', { backendId: 'a-1', arrayName: 'vol.1_x' }],
    ['sim/-bad', undefined],
    ['Sim/csv', undefined],
    ['nobackend', undefined],
    ['sim/', undefined],
    ['sim/a/b', undefined],
    [`sim/${'a'.repeat(32)}`, undefined],
    ['some-vol-id', undefined],
  ])('parses id %s', (id, expected) => {
    expect(parseId(id)).toEqual(expected);
  });

  it('formats ids that parse back', () => {
    expect(parseId(formatId('b1', 'csv-x'))).toEqual({ backendId: 'b1', arrayName: 'csv-x' });
  });
});

describe('volume marker', () => {
  const base = { v: 1, d: 'csi.3par.hpe.example.com', c: 'cluster-a' };

  it('round-trips and recognises its owner', () => {
    const text = formatVolumeMarker({ ...base, n: 'pvc-1', e: 1, r: requestIdentity({ a: 1 }) });
    const m = parseVolumeMarker(text);
    expect(m).toMatchObject({ n: 'pvc-1', e: 1 });
    expect(ownedBy(m, base.d, base.c)).toBe(true);
    expect(ownedBy(m, base.d, 'cluster-b')).toBe(false);
    expect(ownedBy(m, 'other.driver', base.c)).toBe(false);
  });

  it.each([undefined, '', 'hello', '{"v":2,"d":"x","c":"y"}', '{"v":1}', '{not json'])(
    'ignores comment %p',
    (comment) => {
      expect(parseVolumeMarker(comment)).toBeUndefined();
    },
  );

  it('shortens description, then PVC, then name to fit 511 characters', () => {
    const text = formatVolumeMarker({
      ...base,
      n: 'n'.repeat(128),
      pvc: `${'s'.repeat(63)}/${'p'.repeat(253)}`,
      pv: 'pv-1',
      desc: 'd'.repeat(120),
    });
    expect(text.length).toBeLessThanOrEqual(VOLUME_COMMENT_MAX);
    const m = parseVolumeMarker(text)!;
    expect(m.n).toBe('n'.repeat(128));
    expect(m.desc).toBeUndefined();
  });

  it('request identity ignores key order', () => {
    expect(requestIdentity({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(requestIdentity({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(requestIdentity({ a: 1 })).not.toBe(requestIdentity({ a: 2 }));
  });
});

describe('host marker', () => {
  it('fits a 192-byte node_id in 229 characters', () => {
    const owner = hostOwnerTag('csi.3par.hpe.example.com', 'cluster-a');
    expect(owner).toMatch(/^[0-9a-f]{16}$/);
    const nodeId = `n;i=iqn.2005-03.org.open-iscsi:${'a'.repeat(192 - 31)}`;
    expect(nodeId.length).toBe(192);
    const text = formatHostMarker(owner, nodeId);
    expect(text.length).toBe(HOST_MARKER_MAX);
    expect(parseHostMarker(text)).toEqual({ v: 1, o: owner, n: nodeId });
  });

  it('refuses a marker that would not fit', () => {
    expect(() => formatHostMarker('0123456789abcdef', 'x'.repeat(193))).toThrow(DriverError);
  });

  it.each([undefined, 'foreign host', '{"v":1,"o":3}'])('ignores %p', (c) => {
    expect(parseHostMarker(c)).toBeUndefined();
  });
});
