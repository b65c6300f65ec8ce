import { readFile, readdir, realpath, writeFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { MountInfo } from './mounts.js';
import { sleep, throwIfAborted } from '../util/abort.js';
import { wwnForHost } from '../util/wwn.js';

/**
 * Access to sysfs under a root (the host's /sys in production, a temporary tree in tests).
 * Reads return undefined for a missing attribute: devices come and go while we look.
 */
export class Sysfs {
  constructor(readonly root = '/sys') {}

  path(rel: string): string {
    return join(this.root, rel);
  }

  async read(rel: string): Promise<string | undefined> {
    try {
      return (await readFile(this.path(rel), 'utf8')).trim();
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  async list(rel: string): Promise<string[]> {
    try {
      return await readdir(this.path(rel));
    } catch (err) {
      if (isGone(err)) return [];
      throw err;
    }
  }

  /** Resolves a sysfs link to its absolute target, or undefined when gone. */
  async resolve(rel: string): Promise<string | undefined> {
    try {
      return await realpath(this.path(rel));
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  async link(rel: string): Promise<string | undefined> {
    try {
      return await readlink(this.path(rel));
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /**
   * Writes an attribute (scan, rescan, delete). This changes the host: callers verify the
   * device's identity right before.
   */
  async write(rel: string, value: string): Promise<void> {
    await writeFile(this.path(rel), value);
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO' || code === 'ENODEV';
}

/** A SCSI disk (one path of a LUN). */
export interface ScsiDisk {
  /** Kernel name, e.g. "sdc". Used now, never recorded. */
  name: string;
  /** host:channel:target:lun */
  hctl: string;
}

/** The SCSI WWID sysfs shows for a 3PAR volume: NAA 6 designator, lower case. */
export function scsiWwid(wwn: string): string {
  return `naa.${wwnForHost(wwn)}`;
}

/** The multipath WWID of a volume: "3" (NAA designator type) + the WWN, as multipath and udev name it. */
export function multipathWwid(wwn: string): string {
  return `3${wwnForHost(wwn)}`;
}

/** Every SCSI disk whose current WWID is the volume's: the only devices the driver ever touches. */
export async function scsiDisksByWwn(sys: Sysfs, wwn: string): Promise<ScsiDisk[]> {
  const want = scsiWwid(wwn);
  const out: ScsiDisk[] = [];
  for (const name of await sys.list('block')) {
    if (!/^sd[a-z]+$/.test(name)) continue;
    if ((await sys.read(`block/${name}/device/wwid`)) !== want) continue;
    const dev = await sys.link(`block/${name}/device`);
    if (dev) out.push({ name, hctl: basename(dev) });
  }
  return out;
}

/** A device-mapper multipath map. */
export interface MultipathMap {
  /** Kernel name "dm-N" (not recorded). */
  name: string;
  /** The map's name (mpatha, or the WWID with user_friendly_names off), for `multipath -f`. */
  mapName: string;
  /** Path devices (sdX) under the map. */
  slaves: string[];
}

/** The multipath map of a volume, found by its dm uuid "mpath-<wwid>". */
export async function multipathMapByWwn(sys: Sysfs, wwn: string): Promise<MultipathMap | undefined> {
  const want = `mpath-${multipathWwid(wwn)}`;
  for (const name of await sys.list('block')) {
    if (!name.startsWith('dm-')) continue;
    if ((await sys.read(`block/${name}/dm/uuid`)) !== want) continue;
    const mapName = await sys.read(`block/${name}/dm/name`);
    if (!mapName) continue;
    return { name, mapName, slaves: await sys.list(`block/${name}/slaves`) };
  }
  return undefined;
}

/**
 * Whether a block device is in use on this host: mounted (by its major:minor), bound as a raw
 * block volume (a bind of its /dev node shows the devtmpfs root "/<name>"), or held by another
 * device (a dm map, a partition).
 */
export async function deviceInUse(sys: Sysfs, name: string, mounts: readonly MountInfo[]): Promise<string | undefined> {
  const majorMinor = await sys.read(`block/${name}/dev`);
  const m = mounts.find(
    (x) =>
      (majorMinor !== undefined && x.majorMinor === majorMinor) ||
      ((x.fsType === 'devtmpfs' || x.fsType === 'tmpfs') && x.root === `/${name}`),
  );
  if (m) return `mounted at ${m.target}`;
  const holders = await sys.list(`block/${name}/holders`);
  if (holders.length > 0) return `held by ${holders.join(',')}`;
  return undefined;
}

export interface WaitOptions {
  intervalMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Polls `probe` until it returns a value, the timeout passes (undefined), or the call is cancelled (throws). */
export async function waitFor<T>(probe: () => Promise<T | undefined>, o: WaitOptions): Promise<T | undefined> {
  const until = Date.now() + o.timeoutMs;
  for (;;) {
    throwIfAborted(o.signal);
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= until) return undefined;
    await sleep(Math.min(o.intervalMs, Math.max(0, until - Date.now())), o.signal);
  }
}
