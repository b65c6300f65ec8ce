/**
 * The mount table and mount/umount. mount and umount run in the node plugin's own mount
 * namespace, which shares kubelet's directory with the host (bidirectional propagation).
 */
import { readFile } from 'node:fs/promises';
import type { Exec } from './exec.js';

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountInfo {
  /** Mount point, unescaped. */
  target: string;
  /** "major:minor" of the filesystem's device. */
  majorMinor: string;
  /**
   * Path of the mount's root inside its filesystem ("/" for a whole filesystem, "/loop3" for a device bound from
   * devtmpfs).
   */
  root: string;
  fsType: string;
  /** Mount source as the kernel reports it, e.g. "/dev/loop3". */
  source: string;
  /** Per-mount options (ro/rw, nosuid ...). */
  mountOptions: string[];
  /** Per-superblock options (ro when the filesystem itself went read-only). */
  superOptions: string[];
}

/** The mount table the node plugin reads; its own view, which shares kubelet's directory. */
export const MOUNTINFO_PATH = '/proc/self/mountinfo';

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text; malformed lines are skipped (the kernel format is stable). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    out.push({
      majorMinor: fields[2]!,
      root: unescapeOctal(fields[3]!),
      target: unescapeOctal(fields[4]!),
      mountOptions: fields[5]!.split(','),
      fsType: fields[sep + 1]!,
      source: unescapeOctal(fields[sep + 2]!),
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  return out;
}

/** Reads the mount table (a fresh read each time: mounts change under us). */
export async function readMounts(path = MOUNTINFO_PATH): Promise<MountInfo[]> {
  return parseMountInfo(await readFile(path, 'utf8'));
}

/** The topmost mount at `target` (later lines stack over earlier ones), if any. */
export function mountAt(mounts: readonly MountInfo[], target: string): MountInfo | undefined {
  const normal = stripSlash(target);
  let found: MountInfo | undefined;
  for (const m of mounts) if (m.target === normal) found = m;
  return found;
}

export function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') : p;
}

/** True when a mount is read-only, per mount or per superblock. */
export function isReadOnlyMount(m: MountInfo): boolean {
  return m.mountOptions.includes('ro') || m.superOptions.includes('ro');
}

/** Reads of the mount table: the Mounter (a fresh read each time) or one call's {@link MountSnapshot}. */
export interface MountTable {
  read(): Promise<MountInfo[]>;
  /** The topmost mount at `target`, if any. */
  at(target: string): Promise<MountInfo | undefined>;
}

/**
 * Mounts and unmounts this process has finished (through any Mounter: two node services in one
 * process share one kernel). A snapshot read before the latest of them is stale.
 */
let changes = 0;

/**
 * One node call's view of the mount table: read once, then reused by the checks of the call
 * (path rules, idempotency, what is published) until this process mounts or unmounts anything,
 * after which the next read is fresh again. A call makes one per RPC and never keeps it beyond:
 * the table also changes under other processes (kubelet, the host), which only a new read shows.
 * So the last check before removing a device (multipath flush, SCSI delete, loop detach) never
 * uses it: the kernel removes a mounted disk without a word, and reads fresh there.
 */
export class MountSnapshot implements MountTable {
  private table: Promise<MountInfo[]> | undefined;
  private readAt = -1;

  constructor(private readonly mounter: Mounter) {}

  read(): Promise<MountInfo[]> {
    if (this.table === undefined || this.readAt !== changes) {
      // Taken before the read starts: a change finished while it runs makes the next read fresh.
      this.readAt = changes;
      const table = this.mounter.read();
      this.table = table;
      // A failed read is not kept: the next check reads again (and fails the same way, or not).
      table.catch(() => {
        if (this.table === table) this.table = undefined;
      });
    }
    return this.table;
  }

  async at(target: string): Promise<MountInfo | undefined> {
    return mountAt(await this.read(), target);
  }
}

/** Mount and unmount wrappers; they change state, so they run to completion (never cancelled). */
export class Mounter implements MountTable {
  constructor(
    private readonly exec: Exec,
    private readonly mountinfoPath = MOUNTINFO_PATH,
  ) {}

  /** A fresh read of the table. */
  read(): Promise<MountInfo[]> {
    return readMounts(this.mountinfoPath);
  }

  async at(target: string): Promise<MountInfo | undefined> {
    return mountAt(await this.read(), target);
  }

  /** A new per-call view of the table (see {@link MountSnapshot}). */
  snapshot(): MountSnapshot {
    return new MountSnapshot(this);
  }

  /** `mount -t <fsType> -o <options> <device> <target>` */
  async mount(device: string, target: string, fsType: string, options: readonly string[]): Promise<void> {
    const args = ['-t', fsType];
    if (options.length > 0) args.push('-o', options.join(','));
    await this.changing('mount', [...args, device, target]);
  }

  /**
   * `mount --bind <source> <target>`, then for read-only
   * `mount -o remount,bind,ro <target>` (a bind mount takes its own ro flag only on remount).
   */
  async bind(source: string, target: string, readOnly: boolean): Promise<void> {
    await this.changing('mount', ['--bind', source, target]);
    if (readOnly) await this.changing('mount', ['-o', 'remount,bind,ro', target]);
  }

  /** `umount <target>` */
  async umount(target: string): Promise<void> {
    await this.changing('umount', [target]);
  }

  /**
   * Unmounts every mount stacked at `target` (a repeated bind stacks); returns how many. `table`:
   * the call's snapshot (each unmount makes its next read fresh).
   */
  async umountAll(target: string, table: MountTable = this): Promise<number> {
    let n = 0;
    // Bounded: a path cannot hold more stacked mounts than this without something being badly wrong.
    for (let i = 0; i < MAX_STACKED_MOUNTS; i++) {
      if (!(await table.at(target))) return n;
      await this.umount(target);
      n++;
    }
    throw new Error(`${target} still mounted after ${MAX_STACKED_MOUNTS} unmounts`);
  }

  /** Runs mount or umount; failed or not, it may have changed the table, so snapshots go stale. */
  private async changing(command: 'mount' | 'umount', args: string[]): Promise<void> {
    try {
      await this.exec(command, args, { timeoutMs: MOUNT_TIMEOUT_MS });
    } finally {
      changes++;
    }
  }
}

/** mount/umount of a local filesystem; xfs log replay on a large volume is the slow case. */
export const MOUNT_TIMEOUT_MS = 60_000;

const MAX_STACKED_MOUNTS = 16;
