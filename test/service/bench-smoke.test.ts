/**
 * `npm run bench` still runs: the compiled benchmark (dist/, from `npm run build`) in --quick
 * mode, without the node workload (loop devices are the node tier's) and without W3's timed
 * copies. Checks that the JSON line has the keys issue 9 lists and that no call failed. The full
 * benchmark is never run in CI.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('../../dist/bench/driver.js', import.meta.url));
const built = existsSync(BENCH);
if (!built) console.log(`bench smoke test skipped: ${BENCH} is missing — run "npm run build" first`);
const d = built ? describe : describe.skip;

d('npm run bench -- --quick --json', () => {
  test('prints one JSON object with the figures and no errors', () => {
    const r = spawnSync(process.execPath, [BENCH, '--quick', '--json', '--skip', 'node,w3', '--volumes', '16', '--volumes-20k', '8', '--vluns', '200', '--snapshots', '4', '--list-volumes', '200'], { encoding: 'utf8', timeout: 28_000 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    expect(r.stderr).not.toContain('bench failed');
    const json = JSON.parse(last) as Record<string, unknown>;
    for (const key of ['wsapiPerRpc', 'bytesPerRpc', 'p50Ms', 'p99Ms', 'ratioToBaselineP50', 'cpuMsPerRpc', 'publishAtVluns', 'throughputPerSec', 'cloneReadyRatio', 'rssPeakMiB', 'startupMs', 'startupCpuMs', 'errors']) expect(json).toHaveProperty(key);
    expect(json['errors']).toBe(0);
    const perRpc = json['wsapiPerRpc'] as Record<string, Record<string, number>>;
    expect(perRpc['CreateVolume']?.['first']).toBeGreaterThan(0);
    expect(perRpc['CreateVolume']?.['repeat']).toBeGreaterThan(0);
    expect(r.status).toBe(0);
  }, 30_000);
});
