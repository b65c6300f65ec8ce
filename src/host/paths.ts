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
import type { MountTable } from './mounts.js';

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
      if (code === 'ENOTDIR')
        throw invalidArgument(`${field} ${path} passes through something that is not a directory`);
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

  /** `mounts`: the mount table (the node plugin's own view); without it the mount rule is off. */
  constructor(
    readonly dir: string,
    private readonly mounts?: MountTable,
  ) {}

  root(): Promise<string> {
    this.resolved ??= resolvePath(this.dir, 'kubelet directory').catch((err: unknown) => {
      this.resolved = undefined;
      throw err;
    });
    return this.resolved;
  }

  /**
   * Resolves a request path and requires it strictly below the kubelet root; INVALID_ARGUMENT
   * naming the field otherwise (a path elsewhere, or a symlink that leaves the root). `mounts`:
   * the calling RPC's snapshot of the table, shared with its later checks.
   */
  async resolve(path: string, field: string, mounts = this.mounts): Promise<string> {
    const root = await this.root();
    const real = await resolvePath(path, field);
    if (real === root || !isUnder(root, real)) {
      const how = real === path ? '' : ` (it resolves to ${real})`;
      throw invalidArgument(
        `${field} ${path} is not below the kubelet directory ${this.dir}${how}; the node plugin acts only there`,
      );
    }
    await this.requireUnswappable(root, real, field, mounts);
    return real;
  }

  /**
   * The path is resolved now, but mkdir, mount, umount and unlink walk it again later: whoever can
   * rename one of its directories in between (a symlink put in place of a component) redirects
   * them anywhere on the host. Tenants can write below the kubelet root: an emptyDir (mode 0777)
   * and every mounted volume's contents. So each existing directory between the root and the last
   * component must be writable by root only (owned by root or this process, not writable by
   * others, group-writable only for group root) and must not be a mount point (a volume, another
   * volume's staging mount, a subPath bind). kubelet's own paths (pods/<uid>/volumes/<plugin>/<pv>/,
   * plugins/kubernetes.io/csi/...) are root's 0750 directories and pass; a forged path through a
   * tenant's directory is INVALID_ARGUMENT, so nothing an unprivileged process does can move it.
   */
  private async requireUnswappable(
    root: string,
    real: string,
    field: string,
    mounts: MountTable | undefined,
  ): Promise<void> {
    const table = mounts ? await mounts.read() : [];
    const euid = process.geteuid?.() ?? 0;
    const egid = process.getegid?.() ?? 0;
    for (let dir = dirname(real); dir !== root && isUnder(root, dir); dir = dirname(dir)) {
      let st;
      try {
        st = await lstat(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // made later by the driver (root, 0755)
        throw err;
      }
      const owner = st.uid === 0 || st.uid === euid;
      const groupOk = (st.mode & 0o020) === 0 || st.gid === 0 || st.gid === egid;
      if (!st.isDirectory() || !owner || !groupOk || (st.mode & 0o002) !== 0) {
        throw invalidArgument(
          `${field} ${real} passes through ${dir}, which is not a directory only root can change (owner ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}); the node plugin acts only on kubelet's own directories`,
        );
      }
      if (table.some((m) => m.target === dir)) {
        throw invalidArgument(
          `${field} ${real} passes through the mount point ${dir} (a volume's contents are its users'); the node plugin acts only on kubelet's own directories`,
        );
      }
    }
  }
}
