/**
 * `npm run bench`'s node workload works: stage, publish, unpublish and unstage of real loop-backed
 * volumes through the driver process the benchmark starts. Its paths must lie below the driver's
 * --kubelet-dir (the node plugin acts only there): they once did not, and every node call failed
 * INVALID_ARGUMENT while the smoke test, which skips the node workload, stayed green.
 */
import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/run.js';
import { describeUnless } from '../helpers/skip.js';
import { rootSkipReason } from './harness.js';

const BENCH = fileURLToPath(new URL('../../dist/bench/driver.js', import.meta.url));
const d = describeUnless(
  rootSkipReason() ?? (existsSync(BENCH) ? undefined : `${BENCH} is missing — run "npm run build" first`),
);
/** No limit on the benchmark's own time (a loaded machine is slow); this only catches a hang. */
const SAFETY_NET_MS = 300_000;

d('npm run bench -- --quick --skip everything but node', () => {
  test(
    'runs every node call without an error',
    async () => {
      const r = await runNode([BENCH, '--quick', '--json', '--skip', 'w1,w1-20k,w2,w3,w4'], {
        safetyNetMs: SAFETY_NET_MS,
      });
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      const json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as {
        errors: number;
        errorSamples: unknown[];
        node?: { p50Ms: Record<string, number> };
      };
      expect({ errors: json.errors, samples: json.errorSamples }).toEqual({ errors: 0, samples: [] });
      const steps = ['NodeStageVolume', 'NodePublishVolume', 'NodeUnpublishVolume', 'NodeUnstageVolume'];
      expect(Object.keys(json.node?.p50Ms ?? {})).toEqual(expect.arrayContaining(steps));
    },
    SAFETY_NET_MS + 10_000,
  );
});
