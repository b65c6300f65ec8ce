/**
 * Filesystem and block-device commands. All of them run in the node plugin's own namespaces
 * (the image's e2fsprogs, xfsprogs, util-linux), which see the host's /dev and kubelet directory.
 */
import { open, constants } from 'node:fs/promises';
import { ExecError, type Exec } from './exec.js';
import { failedPrecondition } from '../errors.js';

/** Filesystems the driver creates and mounts. */
export const SUPPORTED_FS = ['ext4', 'xfs'] as const;
export type FsType = (typeof SUPPORTED_FS)[number];
/** fs_type used when the capability leaves it empty. */
export const DEFAULT_FS: FsType = 'ext4';

/** What the probe found on a device. */
export type Probe =
  | { kind: 'blank' }
  | { kind: 'filesystem'; fsType: string; uuid?: string }
  /** Anything else on the device (partition table, LVM, LUKS ...): never formatted. */
  | { kind: 'other'; what: string };

/** MiB read at each end of the device by the blank test. */
const BLANK_TEST_BYTES = 1024 * 1024;
/** blkid -p reads a few sectors; a dead path makes it hang on I/O. */
const PROBE_TIMEOUT_MS = 30_000;
/** mkfs with discard off and lazy inode tables is quick even on large LUNs. */
const MKFS_TIMEOUT_MS = 90_000;
/** resize2fs/xfs_growfs of a mounted filesystem. */
const RESIZE_TIMEOUT_MS = 90_000;

/** The probe could not prove the device blank; the caller must not format. */
export class ProbeError extends Error {
  override name = 'ProbeError';
}

/**
 * The blank test of DESIGN "Node safety". A device is blank only if
 *  1. `blkid -p -o export <device>` exits 2 ("nothing found") with empty stderr, and
 *  2. the driver itself opens it O_RDONLY|O_EXCL and reads its first and last MiB without error,
 *     and finds only zeros there (data blkid does not recognise is still data).
 * Any other outcome is a ProbeError ("can't tell"), never "blank".
 */
export async function probeDevice(exec: Exec, device: string, signal?: AbortSignal): Promise<Probe> {
  let out: string;
  try {
    // blkid -p -o export <device>   (low-level superblock probe, bypasses the blkid cache)
    out = (await exec('blkid', ['-p', '-o', 'export', device], { readOnly: true, signal, timeoutMs: PROBE_TIMEOUT_MS }))
      .stdout;
  } catch (err) {
    if (err instanceof ExecError && err.failure === 'exit' && err.exitCode === 2 && err.stderr.trim() === '') {
      await exclusiveReadEnds(device, await deviceSizeOrProbeError(exec, device, signal));
      return { kind: 'blank' };
    }
    throw new ProbeError(`probing ${device} failed; refusing to treat it as blank`, { cause: err });
  }
  const fields = parseExport(out);
  const type = fields.get('TYPE');
  const usage = fields.get('USAGE');
  if (type && (usage === undefined || usage === 'filesystem'))
    return { kind: 'filesystem', fsType: type, uuid: fields.get('UUID') };
  return {
    kind: 'other',
    what: type ?? (fields.get('PTTYPE') ? `${fields.get('PTTYPE')} partition table` : 'an unknown signature'),
  };
}

function parseExport(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/**
 * Opens the device read-only and exclusively (EBUSY when anything has it mounted or claimed) and
 * reads both ends. Throws ProbeError on any error or any non-zero byte.
 */
async function exclusiveReadEnds(device: string, size: number): Promise<void> {
  let handle;
  try {
    handle = await open(device, constants.O_RDONLY | constants.O_EXCL);
  } catch (err) {
    throw new ProbeError(`cannot open ${device} exclusively (in use?)`, { cause: err });
  }
  try {
    const buf = Buffer.alloc(BLANK_TEST_BYTES);
    const ends = size > BLANK_TEST_BYTES ? [0, size - BLANK_TEST_BYTES] : [0];
    for (const pos of ends) {
      const want = Math.min(BLANK_TEST_BYTES, size);
      const { bytesRead } = await handle.read(buf, 0, want, pos);
      if (bytesRead !== want) throw new ProbeError(`short read of ${device} at ${pos}: ${bytesRead} of ${want} bytes`);
      if (buf.subarray(0, want).some((b) => b !== 0)) {
        throw new ProbeError(
          `${device} holds data at offset ${pos} that blkid does not recognise; refusing to format it`,
        );
      }
    }
  } catch (err) {
    if (err instanceof ProbeError) throw err;
    throw new ProbeError(`reading ${device} failed`, { cause: err });
  } finally {
    await handle.close();
  }
}

/** A block device's stat() size is 0, so the size comes from blockdev; failing that is a probe error. */
async function deviceSizeOrProbeError(exec: Exec, device: string, signal?: AbortSignal): Promise<number> {
  try {
    const size = Number(await deviceSize(exec, device, signal));
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`size ${size}`);
    return size;
  } catch (err) {
    throw new ProbeError(`cannot read the size of ${device}`, { cause: err });
  }
}

export interface MkfsOptions {
  fsType: FsType;
  /** Extra options from the StorageClass, already split and validated by the controller. */
  extra: readonly string[];
  /**
   * Overwrite what is there (-F / -f): only for a device the node record says this driver was
   * formatting from blank when it was killed (a half-made filesystem the tools would refuse).
   */
  force?: boolean;
}

/**
 * Creates a filesystem without discard (a full discard of a thin LUN is slow and pointless).
 *   mkfs.ext4 -E nodiscard[,extended options of extra] [other extra...] <device>
 *   mkfs.xfs -K [extra...] <device>
 * Neither forces (-F/-f) unless `force`: both refuse a device that already holds a filesystem.
 */
export async function mkfs(exec: Exec, device: string, o: MkfsOptions): Promise<void> {
  const force = o.force ? [o.fsType === 'ext4' ? '-F' : '-f'] : [];
  if (o.fsType === 'ext4')
    await exec('mkfs.ext4', [...force, ...ext4Args(o.extra), device], { timeoutMs: MKFS_TIMEOUT_MS });
  else await exec('mkfs.xfs', [...force, '-K', ...o.extra, device], { timeoutMs: MKFS_TIMEOUT_MS });
}

/**
 * mke2fs keeps only the last -E it is given (a StorageClass's `-E stride=16` would silently drop
 * the driver's nodiscard), so every -E of the extra options joins the driver's into one.
 */
export function ext4Args(extra: readonly string[]): string[] {
  const ext = ['nodiscard'];
  const rest: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    if (extra[i] === '-E' && i + 1 < extra.length) {
      for (const opt of extra[++i]!.split(',')) if (!ext.includes(opt)) ext.push(opt);
    } else rest.push(extra[i]!);
  }
  return ['-E', ext.join(','), ...rest];
}

/**
 * Mount options for a filesystem: read-only without journal replay, nouuid for XFS copies, and
 * for ext4 errors=remount-ro. ext4 takes its error behaviour from the superblock unless a mount
 * option says otherwise, and a tenant can write any superblock into a raw block volume and clone
 * it: "panic" there would let the first metadata error crash the node (checked on this project's
 * test kernel: a `mkfs.ext4 -e panic` image mounts with errors=panic in /proc/fs/ext4/<dev>/options).
 */
export function fsMountOptions(fsType: string, readOnly: boolean, isCopy: boolean): string[] {
  const opts: string[] = fsType.startsWith('ext') ? ['errors=remount-ro'] : [];
  if (readOnly) {
    // ro alone still replays the journal, which writes; noload / norecovery skip the replay.
    opts.push('ro');
    if (fsType === 'xfs') opts.push('norecovery');
    else if (fsType.startsWith('ext')) opts.push('noload');
  }
  // Two XFS filesystems with one UUID (a copy next to its source) cannot mount together otherwise.
  if (fsType === 'xfs' && (readOnly || isCopy)) opts.push('nouuid');
  return opts;
}

/**
 * Grows a mounted filesystem to its device.
 *   resize2fs <device>          (ext4, online; needs CAP_SYS_RESOURCE)
 *   xfs_growfs -d <mountPoint>  (xfs, online only)
 */
export async function growFs(exec: Exec, fsType: string, device: string, mountPoint: string): Promise<void> {
  if (fsType === 'xfs') await exec('xfs_growfs', ['-d', mountPoint], { timeoutMs: RESIZE_TIMEOUT_MS });
  else if (fsType.startsWith('ext')) await exec('resize2fs', [device], { timeoutMs: RESIZE_TIMEOUT_MS });
  else throw failedPrecondition(`cannot grow a ${fsType} filesystem`);
}

/** `blockdev --getsize64 <device>`: the size in bytes (read-only). */
export async function deviceSize(exec: Exec, device: string, signal?: AbortSignal): Promise<bigint> {
  const { stdout } = await exec('blockdev', ['--getsize64', device], {
    readOnly: true,
    signal,
    timeoutMs: PROBE_TIMEOUT_MS,
  });
  return BigInt(stdout.trim());
}

/** `blockdev --setro <device>`: the kernel refuses writes to the device from now on. */
export async function setReadOnly(exec: Exec, device: string): Promise<void> {
  await exec('blockdev', ['--setro', device], { timeoutMs: PROBE_TIMEOUT_MS });
}

/** `blockdev --flushbufs <device>`: writes out cached data before the device goes away. */
export async function flushBuffers(exec: Exec, device: string): Promise<void> {
  await exec('blockdev', ['--flushbufs', device], { timeoutMs: PROBE_TIMEOUT_MS });
}
