/**
 * The node-stage secret's CHAP keys: chapUser and chapSecret, or chapPassword as HPE's CSI driver
 * names the secret (issue 19, item 9), never logged.
 */
import { describe, expect, it } from '@jest/globals';
import { parseChap } from '../../src/csi/node-validate.js';
import { redactDeep } from '../../src/log.js';

describe('parseChap', () => {
  it('reads chapUser with chapSecret, or with HPE’s chapPassword', () => {
    expect(parseChap({ chapUser: 'u', chapSecret: '0123456789ab' })).toEqual({ user: 'u', secret: '0123456789ab' });
    expect(parseChap({ chapUser: 'u', chapPassword: '0123456789ab' })).toEqual({ user: 'u', secret: '0123456789ab' });
    expect(parseChap({ chapUser: 'u', chapSecret: '0123456789ab', chapPassword: '0123456789ab' })).toEqual({
      user: 'u',
      secret: '0123456789ab',
    });
    expect(parseChap({})).toBeUndefined();
  });

  it('refuses half a pair or two different secrets with INVALID_ARGUMENT', () => {
    expect(() => parseChap({ chapPassword: 'x' })).toThrow(
      expect.objectContaining({ kind: 'invalid-argument' }) as unknown as Error,
    );
    expect(() => parseChap({ chapUser: 'u', chapSecret: 'a23456789012', chapPassword: 'b23456789012' })).toThrow(
      /both chapSecret and chapPassword/,
    );
  });

  it('chapPassword is redacted from logged objects like chapSecret', () => {
    expect(JSON.stringify(redactDeep({ secrets: { chapPassword: 'p' }, x: { chapPassword: 'p' } }))).not.toContain(
      '"p"',
    );
  });
});
