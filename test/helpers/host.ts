/**
 * Host clean-up and inspection for tests that mount and attach loop devices (node, sanity, e2e):
 * whatever a failing test leaves under its directory is unmounted and detached.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parseMountInfo } from '../../src/host/mounts.js';

/** Unmounts everything mounted under `dir`, deepest first. */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mounts = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
      .filter((m) => m.target.startsWith(dir))
      .sort((a, b) => b.target.length - a.target.length);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      try {
        execFileSync('umount', [m.target], { stdio: 'ignore' });
      } catch {
        try {
          execFileSync('umount', ['-l', m.target], { stdio: 'ignore' });
        } catch {
          // another round, or the next test's clean-up, gets it
        }
      }
    }
  }
}

/** Detaches every loop device whose backing file lies under `dir`. */
export function detachLoopsUnder(dir: string): void {
  for (const n of loopsUnder(dir)) {
    try {
      execFileSync('blockdev', ['--setrw', `/dev/${n}`], { stdio: 'ignore' });
      execFileSync('losetup', ['-d', `/dev/${n}`], { stdio: 'ignore' });
    } catch {
      // autoclear finishes it once the last user goes
    }
  }
}

/** Loop devices (names) whose backing file lies under `dir`. */
export function loopsUnder(dir: string): string[] {
  if (!existsSync('/sys/block')) return [];
  return readdirSync('/sys/block')
    .filter((n) => /^loop\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim().startsWith(dir);
      } catch {
        return false;
      }
    });
}

/** True when something is mounted exactly at `path`. */
export function isMounted(path: string): boolean {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.target === path);
}
