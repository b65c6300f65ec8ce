/**
 * Driver bugs the CSI fuzzer found, pinned as deterministic tests (all fixed; these keep them so).
 */
import { afterAll, beforeAll, describe, expect, it, test } from '@jest/globals';
import { startSanity, type Sanity } from '../sanity/harness.js';
import { scannedLog } from '../helpers/secrets.js';

const cap = scannedLog({ level: 'info' });
let s: Sanity;

beforeAll(async () => {
  s = await startSanity({ log: cap.log });
});
afterAll(async () => {
  await s.close();
});

/** The gRPC code of a call (0 for success). */
async function code(p: Promise<unknown>): Promise<number> {
  return p.then(
    () => 0,
    (e: { code: number }) => e.code,
  );
}

/** WSAPI request paths the simulator served since the last reset, logins aside. */
function paths(): string[] {
  return s.sim.requests.filter((r) => !r.path.startsWith('/api/v1/credentials')).map((r) => `${r.method} ${r.path}`);
}

describe('ids whose array name is a URL dot segment', () => {
  // Was a bug (src/array/names.ts isArrayName/parseId, src/wsapi/path.ts): "sim/." and "sim/.." parse as
  // ids of array objects named "." and "..", and the WSAPI URL /api/v1/volumes/.. is normalised to
  // /api/v1/ (and /volumes/. to /volumes/, the full list). DeleteVolume of such an unknown id
  // answers INTERNAL or UNAVAILABLE instead of success, marks the backend down, and sends
  // requests to other resources than the one named.
  test.each(['sim/.', 'sim/..'])(
    'DeleteVolume and DeleteSnapshot of %s succeed without leaving /volumes/<name>',
    async (id) => {
      s.sim.resetRequests();
      expect(await code(s.controller.call('DeleteVolume', { volume_id: id }))).toBe(0);
      expect(await code(s.controller.call('DeleteSnapshot', { snapshot_id: id }))).toBe(0);
      for (const p of paths())
        expect(p).toMatch(/^(GET|DELETE) \/api\/v1\/volumes\/[^/]+$|^GET \/api(\/v1\/(system|wsapiconfiguration))?$/);
    },
  );

  test('ControllerGetVolume of sim/.. is NOT_FOUND', async () => {
    expect(await code(s.controller.call('ControllerGetVolume', { volume_id: 'sim/..' }))).toBe(5);
  });

  it('names with dots inside are still ordinary ids (control)', async () => {
    expect(await code(s.controller.call('DeleteVolume', { volume_id: 'sim/a.b' }))).toBe(0);
  });
});

describe('node paths with an over-long component', () => {
  // Was a bug (src/csi/node-publish.ts / src/host/mounts.ts): a target_path with a component over 255
  // bytes reaches stat(), whose ENAMETOOLONG is not mapped: the call is logged as an
  // "unexpected error" and answered INTERNAL instead of INVALID_ARGUMENT (or success for a path
  // that cannot exist).
  test('NodeUnpublishVolume answers a mapped status and logs no unexpected error', async () => {
    const from = cap.lines().length;
    const c = await code(
      s.node.call('NodeUnpublishVolume', {
        volume_id: 'sim/csv-aaaaaaaaaaaaaaaaaaaa',
        target_path: `${s.base}/${'n'.repeat(300)}/mount`,
      }),
    );
    expect([0, 3, 5]).toContain(c);
    expect(
      cap
        .lines()
        .slice(from)
        .filter((l) => l.includes('"unexpected error"')),
    ).toEqual([]);
  });
});
