/**
 * `npm run bench:floor` still runs: the compiled benchmark (dist/, from `npm run build`) with tiny
 * sizes over every layer, the driver included. Checks the JSON line's shape and that each layer's
 * figures are positive numbers; never which layer is faster (a loaded CI machine decides that).
 */
import { expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/run.js';
import { describeUnless } from '../helpers/skip.js';

const BENCH = fileURLToPath(new URL('../../dist/bench/floor.js', import.meta.url));
const d = describeUnless(existsSync(BENCH) ? undefined : `${BENCH} is missing — run "npm run build" first`);
/** No limit on the benchmark's own time (a loaded machine is slow); this only catches a hang. */
const SAFETY_NET_MS = 240_000;
const LAYERS = ['grpc', 'node-http', 'got', 'client', 'driver'];

interface Layer {
  cpuMsPerCall: { median: number; min: number };
  wallMsPerCall: number;
  overPreviousMs?: number;
  wsapiPerCall?: number;
  samples: number[];
}

d('npm run bench:floor -- --json (tiny sizes)', () => {
  test(
    'prints one JSON object with a positive CPU figure for every layer',
    async () => {
      const args = ['--calls', '12', '--rounds', '2', '--warmup', '4', '--concurrency', '4', '--latency-ms', '1'];
      const r = await runNode([BENCH, ...args, '--json'], { safetyNetMs: SAFETY_NET_MS });
      expect(r.stderr).not.toContain('bench:floor failed');
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      const json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
      expect(json).toMatchObject({ requestsPerCall: 1, latencyMs: 1, calls: 12, rounds: 2, concurrency: 4 });
      const layers = json['layers'] as Record<string, Layer>;
      expect(Object.keys(layers)).toEqual(LAYERS);
      for (const [i, name] of LAYERS.entries()) {
        const l = layers[name]!;
        expect(l.cpuMsPerCall.median).toBeGreaterThan(0);
        expect(l.cpuMsPerCall.min).toBeGreaterThan(0);
        expect(l.wallMsPerCall).toBeGreaterThan(0);
        expect(l.samples).toHaveLength(2);
        // The difference to the layer below is there for every layer but the first (its sign is the machine's).
        expect(typeof l.overPreviousMs).toBe(i === 0 ? 'undefined' : 'number');
      }
      // The driver's CreateVolume of a new name is one WSAPI request, as the bare layers' calls are.
      expect(layers['driver']!.wsapiPerCall).toBe(1);
    },
    SAFETY_NET_MS + 10_000,
  );

  test(
    'R = 3 leaves the driver out and takes the table to stderr',
    async () => {
      const args = ['--requests-per-call', '3', '--calls', '6', '--rounds', '1', '--warmup', '0', '--concurrency', '2'];
      const r = await runNode([BENCH, ...args, '--latency-ms', '0', '--json'], { safetyNetMs: SAFETY_NET_MS });
      expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
      const json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { layers: Record<string, Layer> };
      expect(Object.keys(json.layers)).toEqual(['grpc', 'node-http', 'got', 'client']);
      for (const l of Object.values(json.layers)) expect(l.cpuMsPerCall.median).toBeGreaterThan(0);
      expect(r.stderr).toContain('R=3 WSAPI requests per call');
    },
    SAFETY_NET_MS + 10_000,
  );

  test('--layers driver with R = 3 is a usage error (exit 2)', async () => {
    const r = await runNode([BENCH, '--layers', 'driver', '--requests-per-call', '3'], { safetyNetMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--requests-per-call 1');
  }, 70_000);
});
