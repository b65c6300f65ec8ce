/**
 * `npm run bench` still runs: the compiled benchmark (dist/, from `npm run build`) in --quick
 * mode, without the node workload (loop devices are the node tier's) and without W3's timed
 * copies. Checks that the JSON line has the keys issue 9 lists and that no call failed. The full
 * benchmark is never run in CI.
 */
import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/run.js';
import { describeUnless } from '../helpers/skip.js';

const BENCH = fileURLToPath(new URL('../../dist/bench/driver.js', import.meta.url));
const d = describeUnless(existsSync(BENCH) ? undefined : `${BENCH} is missing — run "npm run build" first`);
/** No limit on the benchmark's own time (a loaded machine is slow); this only catches a hang. */
const SAFETY_NET_MS = 300_000;

d('npm run bench -- --quick --json', () => {
  test(
    'prints one JSON object with the figures and no errors',
    async () => {
      const r = await runNode(
        [
          BENCH,
          '--quick',
          '--json',
          '--skip',
          'node,w3',
          '--volumes',
          '16',
          '--volumes-20k',
          '8',
          '--vluns',
          '200',
          '--snapshots',
          '4',
          '--list-volumes',
          '200',
        ],
        { safetyNetMs: SAFETY_NET_MS },
      );
      expect(r.stderr).not.toContain('bench failed');
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      const last = r.stdout.trim().split('\n').pop() ?? '';
      const json = JSON.parse(last) as Record<string, unknown>;
      for (const key of [
        'wsapiPerRpc',
        'bytesPerRpc',
        'p50Ms',
        'p99Ms',
        'ratioToBaselineP50',
        'cpuMsPerRpc',
        'publishAtVluns',
        'throughputPerSec',
        'cloneReadyRatio',
        'rssPeakMiB',
        'startupMs',
        'startupCpuMs',
        'errors',
      ])
        expect(json).toHaveProperty(key);
      expect(json['errors']).toBe(0);
      const perRpc = json['wsapiPerRpc'] as Record<string, Record<string, number>>;
      expect(perRpc['CreateVolume']?.['first']).toBeGreaterThan(0);
      expect(perRpc['CreateVolume']?.['repeat']).toBeGreaterThan(0);
    },
    SAFETY_NET_MS + 10_000,
  );
});
