/**
 * The one WWN normalisation (src/util/wwn.ts): the array's spelling (WSAPI bodies and queries,
 * REFERENCE §9.5: 16 or 32 upper-case hex digits, no colons) and the host's (sysfs, udev,
 * multipath, node id: lower case). The wire itself is checked in test/wsapi/sim-resources.test.ts
 * (a lower-case, colon-separated WWN goes out upper case without colons).
 */
import { describe, expect, it } from '@jest/globals';
import { wwnForArray, wwnForHost } from '../../src/util/wwn.js';
import { multipathWwid, scsiWwid } from '../../src/host/sysfs.js';

describe('WWN spellings', () => {
  it.each([
    ['10:00:00:00:c9:ab:cd:ef', '10000000C9ABCDEF', '10000000c9abcdef'],
    ['10-00-00-00-C9-AB-CD-EF', '10000000C9ABCDEF', '10000000c9abcdef'],
    ['10000000c9abcdef', '10000000C9ABCDEF', '10000000c9abcdef'],
    ['0x10000000c9abcdef\n', '10000000C9ABCDEF', '10000000c9abcdef'],
    ['60002AC000000000000001500000B69E', '60002AC000000000000001500000B69E', '60002ac000000000000001500000b69e'],
  ])('%s → array %s, host %s', (input, array, host) => {
    expect(wwnForArray(input)).toBe(array);
    expect(wwnForHost(input)).toBe(host);
    // Each spelling is stable and the two are the same digits.
    expect(wwnForArray(host)).toBe(array);
    expect(wwnForHost(array)).toBe(host);
  });

  it('the host names a volume by the lower-case WWN (sysfs naa., multipath 3…)', () => {
    expect(scsiWwid('60002AC000000000000001500000B69E')).toBe('naa.60002ac000000000000001500000b69e');
    expect(multipathWwid('60002AC000000000000001500000B69E')).toBe('360002ac000000000000001500000b69e');
  });
});
