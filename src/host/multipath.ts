import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import type { Exec } from './exec.js';
import type { Mounter } from './mounts.js';
import { deviceInUse, multipathMapByWwn, type MultipathMap, type Sysfs } from './sysfs.js';

/** `multipath -f` waits for udev and device-mapper; bounded so NodeUnstage stays under 2 minutes. */
const MULTIPATH_TIMEOUT_MS = 30_000;

/**
 * The host's dm-multipath, driven through the host's own `multipath` and `multipathd`
 * (`exec` is the host executor: nsenter into the host's namespaces in production).
 * multipathd builds maps from udev events on its own; the driver only waits for them, flushes
 * unused ones and resizes them. It never runs `dmsetup remove` on a live map.
 */
export class Multipath {
  constructor(
    private readonly hostExec: Exec,
    private readonly localExec: Exec,
    private readonly sys: Sysfs,
    private readonly mounter: Mounter,
    /** Whether the host runs multipath; when off, the single path device is the volume's device. */
    readonly enabled: boolean,
  ) {}

  /** The host runs multipath when its configuration file exists under the host root. */
  static async detect(hostRoot: string): Promise<boolean> {
    try {
      await access(join(hostRoot, 'etc/multipath.conf'));
      return true;
    } catch {
      return false;
    }
  }

  mapOf(wwn: string): Promise<MultipathMap | undefined> {
    return multipathMapByWwn(this.sys, wwn);
  }

  /**
   * Flushes the volume's map when nothing uses it: not mounted, not bound, not held.
   *   blockdev --flushbufs /dev/dm-N
   *   multipath -f <mapName>          (host namespaces)
   * A map in use → FAILED_PRECONDITION; no map → nothing to do.
   */
  async flush(wwn: string): Promise<void> {
    const map = await this.mapOf(wwn);
    if (!map) return;
    const use = await deviceInUse(this.sys, map.name, await this.mounter.read());
    if (use) throw failedPrecondition(`multipath map ${map.mapName} of volume ${wwn} is ${use}; unpublish it first`);
    await this.localExec('blockdev', ['--flushbufs', `/dev/${map.name}`], { timeoutMs: MULTIPATH_TIMEOUT_MS });
    await this.hostExec('multipath', ['-f', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
  }

  /**
   * Resizes the map to its (already rescanned) paths.
   *   multipathd resize map <mapName>   (host namespaces)
   */
  async resize(wwn: string): Promise<void> {
    const map = await this.mapOf(wwn);
    if (!map) return;
    await this.hostExec('multipathd', ['resize', 'map', map.mapName], { timeoutMs: MULTIPATH_TIMEOUT_MS });
  }
}
