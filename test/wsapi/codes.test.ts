import { describe, expect, it } from '@jest/globals';
import { ERRORS } from '../../src/simulator/index.js';
import { WsapiCode, WsapiPlaceholderCode } from '../../src/wsapi/index.js';

/** The client's code table and the simulator's catalog come from the same reference: keep them equal. */
describe('error code tables', () => {
  const catalog = ERRORS as Record<string, { code: number } | undefined>;

  it('gives every confirmed code the number the simulator uses for the same name', () => {
    for (const [name, code] of Object.entries(WsapiCode)) {
      const sim = catalog[name];
      if (sim) expect({ name, code: sim.code }).toEqual({ name, code });
    }
  });

  it('uses the simulator’s placeholders for codes whose numbers were never recovered', () => {
    for (const [name, code] of Object.entries(WsapiPlaceholderCode)) {
      expect({ name, code: catalog[name]?.code }).toEqual({ name, code });
      expect(code).toBeGreaterThanOrEqual(9000);
    }
  });

  it('never gives two names the same number', () => {
    const all = [...Object.values(WsapiCode), ...Object.values(WsapiPlaceholderCode)];
    expect(new Set(all).size).toBe(all.length);
  });
});
