/**
 * The node record store's clean-up of temp files a killed writer left between write and rename
 * (`<record>.json.<pid>.tmp`). Found by the quick soak: a SIGKILLed node plugin left one, the
 * restarted plugin kept it for a minute, and the soak's audit counted it as a leaked record.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../src/host/state.js';

/** A pid that belonged to a process that has ended (its own child, reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('StateStore.removeStaleTemps', () => {
  function setup(): { dir: string; store: StateStore; cleanup: () => void } {
    const root = mkdtempSync(join(tmpdir(), '3par-state-'));
    const dir = join(root, 'state');
    mkdirSync(dir, { recursive: true });
    return {
      dir,
      store: new StateStore(root, 'csi.test', dir),
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  }

  it('removes a fresh temp file whose writer has died (a SIGKILL between write and rename)', async () => {
    const { dir, store, cleanup } = setup();
    try {
      const stale = join(dir, `${'a'.repeat(64)}.json.${deadPid()}.tmp`);
      writeFileSync(stale, '{"v":1,"volumeId":"sim/csv-');
      await store.removeStaleTemps();
      expect(existsSync(stale)).toBe(false);
    } finally {
      cleanup();
    }
  });

  it('keeps a fresh temp file of a live writer (a save in flight in another process)', async () => {
    const { dir, store, cleanup } = setup();
    try {
      // The parent of this jest worker is alive while the test runs.
      const inFlight = join(dir, `${'b'.repeat(64)}.json.${process.ppid}.tmp`);
      writeFileSync(inFlight, '{');
      await store.removeStaleTemps();
      expect(existsSync(inFlight)).toBe(true);
    } finally {
      cleanup();
    }
  });

  it("removes a live writer's temp file older than a minute (a pid reused after the kill)", async () => {
    const { dir, store, cleanup } = setup();
    try {
      const old = join(dir, `${'c'.repeat(64)}.json.${process.ppid}.tmp`);
      writeFileSync(old, '{');
      const twoMinutesAgo = new Date(Date.now() - 120_000);
      utimesSync(old, twoMinutesAgo, twoMinutesAgo);
      await store.removeStaleTemps();
      expect(existsSync(old)).toBe(false);
    } finally {
      cleanup();
    }
  });
});
