/**
 * What the soak does on the node side as a pod would (write data through the published mount,
 * read it back), and the clean-up a test owes the machine: mounts and loop devices under its
 * work directory. Commands run with argument arrays only.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseMountInfo } from '../host/mounts.js';

/** Why node steps cannot run here (root, loop devices, the filesystem tools), or undefined. */
export function nodeStepsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (loop devices, mkfs and mount need root)';
  if (!existsSync('/dev/loop-control')) return '/dev/loop-control is missing (no loop devices)';
  const path = (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  for (const tool of ['losetup', 'mkfs.xfs', 'xfs_growfs', 'blkid', 'blockdev', 'mount']) {
    if (!path.some((dir) => dir !== '' && existsSync(join(dir, tool)))) return `${tool} is not installed`;
  }
  return undefined;
}

/** Writes `data` to `<dir>/<file>`, flushed to the device (file and directory fsync'd). */
export function writeFlushed(dir: string, file: string, data: Buffer): string {
  const fd = openSync(join(dir, file), 'w');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return sha256(data);
}

/** sha256 of a file, or undefined when it cannot be read. */
export function digestOf(path: string): string | undefined {
  try {
    return sha256(readFileSync(path));
  } catch {
    return undefined;
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Filesystem size in bytes at `path`. */
export function fsBytes(path: string): number {
  const s = statfsSync(path);
  return s.blocks * s.bsize;
}

/** A staging directory as kubelet makes it. */
export function stagingDir(kubeletDir: string, driver: string, name: string): string {
  const dir = join(kubeletDir, 'plugins', 'kubernetes.io', 'csi', driver, name, 'globalmount');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A target path as kubelet passes it: the parent exists, the driver creates the path. */
export function targetPath(kubeletDir: string, name: string): string {
  const parent = join(kubeletDir, 'pods', name, 'volumes', 'kubernetes.io~csi', 'pv');
  mkdirSync(parent, { recursive: true });
  return join(parent, 'mount');
}

/** Mount points under `dir`. */
export function mountsUnder(dir: string): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.target)
    .filter((t) => t === dir || t.startsWith(dir + '/'));
}

/** Loop devices whose backing file lies under `dir`. */
export function loopsUnder(dir: string): string[] {
  if (!existsSync('/sys/block')) return [];
  return readdirSync('/sys/block')
    .filter((n) => /^loop\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8')
          .trim()
          .startsWith(dir + '/');
      } catch {
        return false;
      }
    });
}

/** Unmounts everything under `dir` (deepest first) and detaches its loop devices. */
export function cleanUpNode(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      if (spawnSync('umount', [m], { stdio: 'ignore' }).status !== 0)
        spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  for (const n of loopsUnder(dir)) {
    try {
      execFileSync('blockdev', ['--setrw', `/dev/${n}`], { stdio: 'ignore' });
      execFileSync('losetup', ['-d', `/dev/${n}`], { stdio: 'ignore' });
    } catch {
      // autoclear finishes it once the last user goes
    }
  }
}
