/**
 * Path resolution for node calls. Kubelet passes staging and target paths; a path that is (or
 * passes through) a symlink is mounted by the kernel at the link's target, and the mount table
 * shows the resolved path. So every path is resolved once, the resolved path is what the driver
 * mounts on, records and compares, and it must lie under the kubelet root (DESIGN "Node safety":
 * the node plugin acts on nothing else of the host).
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { invalidArgument } from '../errors.js';

/**
 * Resolves an absolute path without ".." through every symlink: the realpath of its longest
 * existing prefix, then the components that do not exist yet. A dangling symlink on the way is
 * INVALID_ARGUMENT (mkdir or mount would follow it somewhere the driver cannot check).
 */
export async function resolvePath(path: string, field = 'path'): Promise<string> {
  const missing: string[] = [];
  let p = path;
  for (;;) {
    try {
      const real = await realpath(p);
      return missing.length === 0 ? real : join(real, ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw invalidArgument(`${field} ${path} passes through something that is not a directory`);
      if (code !== 'ENOENT') throw err;
    }
    let isLink = false;
    try {
      isLink = (await lstat(p)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (isLink) throw invalidArgument(`${field} ${path} passes through the symlink ${p}, whose target does not exist`);
    if (p === '/') throw new Error(`cannot resolve ${path}: the root directory does not exist`);
    missing.push(basename(p));
    p = dirname(p);
  }
}

/** True when `path` is `root` or below it (both already resolved). */
export function isUnder(root: string, path: string): boolean {
  return path === root || path.startsWith(root === '/' ? '/' : `${root}/`);
}

/**
 * Where node calls may act: below the kubelet root. The root is resolved on first use (it may
 * itself be a link, e.g. /var/lib/kubelet → /data/kubelet).
 */
export class KubeletRoot {
  private resolved: Promise<string> | undefined;

  constructor(readonly dir: string) {}

  root(): Promise<string> {
    this.resolved ??= resolvePath(this.dir, 'kubelet directory').catch((err: unknown) => {
      this.resolved = undefined;
      throw err;
    });
    return this.resolved;
  }

  /**
   * Resolves a request path and requires it strictly below the kubelet root; INVALID_ARGUMENT
   * naming the field otherwise (a path elsewhere, or a symlink that leaves the root).
   */
  async resolve(path: string, field: string): Promise<string> {
    const root = await this.root();
    const real = await resolvePath(path, field);
    if (real === root || !isUnder(root, real)) {
      const how = real === path ? '' : ` (it resolves to ${real})`;
      throw invalidArgument(`${field} ${path} is not below the kubelet directory ${this.dir}${how}; the node plugin acts only there`);
    }
    return real;
  }
}
