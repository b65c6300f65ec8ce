/**
 * `soak --quick` in CI: runs the built soak (dist/soak/main.js) in its own process and checks
 * its last line, `soak: N ops, N faults, N restarts, N leaked, N lost`, for 0 leaked and 0 lost.
 * SOAK_SEEDS=a,b,c runs it once per seed (.ci/run passes three, and prints them); without it,
 * once with a random seed (printed by the soak). Skipped, saying why, when dist/ has not been
 * built (npm run build).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from '@jest/globals';
import { itUnless } from '../helpers/skip.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SOAK = join(ROOT, 'dist', 'soak', 'main.js');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const missing = [SOAK, CLI].find((f) => !existsSync(f));

const SEEDS = (process.env['SOAK_SEEDS'] ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter((x) => x !== '');

function runSoak(seed: string | undefined): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, '--quick', ...(seed === undefined ? [] : ['--seed', seed])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('soak --quick', () => {
  const seeds: (string | undefined)[] = SEEDS.length > 0 ? SEEDS : [undefined];
  itUnless(missing && `${missing} is missing (run npm run build first)`).each(seeds.map((seed) => [seed ?? 'random']))(
    'ends with 0 leaked and 0 lost (seed %s)',
    async (seedName) => {
      const { code, out } = await runSoak(seedName === 'random' ? undefined : seedName);
      const lines = out.trimEnd().split('\n');
      const last = lines.at(-1) ?? '';
      process.stdout.write(`${lines.slice(-12).join('\n')}\n`);
      const m = /^soak: (\d+) ops, (\d+) faults, (\d+) restarts, (\d+) leaked, (\d+) lost$/.exec(last);
      expect(m).not.toBeNull();
      const [ops, , , leaked, lost] = m!.slice(1).map(Number) as [number, number, number, number, number];
      expect(ops).toBeGreaterThan(0);
      expect(lost).toBe(0);
      const leakLines = lines.filter((l) => l.includes('LEAKED')).map((l) => l.trim());
      expect(leakLines).toEqual([]);
      expect(leaked).toBe(0);
      const failures = lines.filter((l) => l.includes('lifecycle failed:')).map((l) => l.trim());
      expect(failures).toEqual([]);
      // Exit 1 with nothing leaked, lost or failed would mean another problem the soak printed.
      expect(code).toBe(0);
    },
    420_000,
  );
});
