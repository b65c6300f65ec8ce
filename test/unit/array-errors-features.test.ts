/**
 * Issue 16 item 13, table-driven: what each WSAPI answer means to the array layer (only the
 * service-unavailable codes of a 503 mean "unavailable"), and the firmware gates for dedup and
 * compression at cinder's thresholds.
 */
import { describe, expect, it } from '@jest/globals';
import { Backend } from '../../src/array/backend.js';
import type { ArrayClient } from '../../src/array/client.js';
import { conditionOf, toDriverError } from '../../src/array/errors.js';
import { silentLogger } from '../../src/log.js';
import { WsapiError } from '../../src/wsapi/errors.js';
import { featureGates } from '../../src/wsapi/features.js';

const wsapiError = (status: number, code?: number, desc = 'array text') =>
  new WsapiError(status, { ...(code !== undefined && { code }), desc }, { backendId: 'b', op: 'test' });

describe('conditionOf', () => {
  it.each([
    [503, 31, 'unavailable'],
    [503, 270, 'unavailable'],
    [503, undefined, 'unavailable'],
    // VV_LIMIT_REACHED, SNAPSHOT_LIMIT_REACHED, CPG_ALLOCATION_WARNING_REACHED, VV_ID_LIMIT_REACHED: numbers [U].
    [503, 9046, 'limit'],
    [503, 9047, 'limit'],
    [503, 9048, 'limit'],
    [503, 12345, 'limit'],
    [409, 77, 'host-in-set'],
    [409, 33, 'no-snap-cpg'],
    // Issue 16 item 3: VV_NOT_IN_SAME_DOMAIN as real arrays send it; the set and CPG refusals' numbers are [U].
    [403, 118, 'domain'],
    [409, 9060, 'domain'],
    [403, 9061, 'domain'],
  ])('HTTP %d code %p → %s', (status, code, want) => {
    expect(conditionOf(wsapiError(status, code))).toBe(want);
  });

  it('a limit becomes RESOURCE_EXHAUSTED carrying the array text; no-snap-cpg FAILED_PRECONDITION', () => {
    const limit = toDriverError(
      wsapiError(503, 9047, 'maximum number of snapshots has been reached'),
      'b',
      'creating snapshot s',
    );
    expect(limit.kind).toBe('resource-exhausted');
    expect(limit.message).toContain('maximum number of snapshots has been reached');
    expect(toDriverError(wsapiError(409, 33), 'b', 'x').kind).toBe('failed-precondition');
    expect(toDriverError(wsapiError(403, 118, 'Volume not in same domain'), 'b', 'x').kind).toBe('failed-precondition');
    expect(toDriverError(wsapiError(503, 31), 'b', 'x').kind).toBe('unavailable');
  });
});

describe('Backend.features', () => {
  const backendAt = (major: number, minor: number, build: number): Backend => {
    const b = new Backend(
      { id: 'b', url: 'https://127.0.0.1:1', username: 'u', password: 'p' },
      {} as ArrayClient,
      silentLogger,
    );
    b.version = { major, minor, build };
    return b;
  };
  it.each([
    // [S CIN hpe_3par_common.py] DEDUP_API_VERSION = 30201120, COMPRESSION_API_VERSION = 30301215.
    [1, 3, 30103230, { tdvv: false, compression: false }],
    [1, 4, 30201000, { tdvv: false, compression: false }],
    [1, 4, 30201120, { tdvv: true, compression: false }],
    [1, 6, 30301000, { tdvv: true, compression: false }],
    [1, 6, 30301215, { tdvv: true, compression: true }],
  ])('WSAPI %d.%d build %d', (major, minor, build, want) => {
    expect(backendAt(major, minor, build).features).toMatchObject(want);
    // One table: the backend's gates are the WSAPI client's for the same version.
    expect(backendAt(major, minor, build).features).toEqual(featureGates({ major, minor, build }));
  });
  it('has no feature before the version was read', () => {
    const b = new Backend(
      { id: 'b', url: 'https://127.0.0.1:1', username: 'u', password: 'p' },
      {} as ArrayClient,
      silentLogger,
    );
    expect(Object.values(b.features).some(Boolean)).toBe(false);
  });
});
