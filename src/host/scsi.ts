import { realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { failedPrecondition, unavailable } from '../errors.js';
import type { Exec } from './exec.js';
import type { Mounter } from './mounts.js';
import type { Multipath } from './multipath.js';
import { deviceInUse, multipathWwid, scsiDisksByWwn, scsiWwid, waitFor, type ScsiDisk, type Sysfs } from './sysfs.js';
import type { AttachedDevice, ConnectorCallOptions, DiscoveryTimings } from './connector.js';

/** blockdev --flushbufs on a path about to be deleted. */
const FLUSH_TIMEOUT_MS = 30_000;

/**
 * What iSCSI and FC share once the LUN was scanned: waiting for its SCSI disks (verified by WWID),
 * choosing the multipath map, rescanning for a resize, and removing only this LUN's disks.
 */
export class ScsiVolumes {
  constructor(
    private readonly sys: Sysfs,
    private readonly exec: Exec,
    private readonly mounter: Mounter,
    private readonly multipath: Multipath,
    private readonly timings: DiscoveryTimings,
    /** udev's persistent names (the host's /dev/disk/by-id), a second opinion on the device. */
    private readonly byIdDir = '/dev/disk/by-id',
  ) {}

  disks(wwn: string): Promise<ScsiDisk[]> {
    return scsiDisksByWwn(this.sys, wwn);
  }

  /**
   * Waits (bounded) for the LUN's disks and, when the host runs multipath, its map.
   * Without multipath the volume must have exactly one path (two unmanaged paths to one LUN
   * would be two devices writing the same blocks).
   */
  async waitForDevice(wwn: string, o: ConnectorCallOptions): Promise<AttachedDevice> {
    const { intervalMs, deviceTimeoutMs, mapTimeoutMs } = this.timings;
    const disks = await waitFor(async () => {
      const d = await this.disks(wwn);
      return d.length > 0 ? d : undefined;
    }, { intervalMs, timeoutMs: deviceTimeoutMs, signal: o.signal });
    if (!disks) throw unavailable(`no SCSI device with WWID ${scsiWwid(wwn)} appeared within ${deviceTimeoutMs} ms; check the array's VLUN and the host's paths`);
    if (this.multipath.enabled) {
      const map = await waitFor(() => this.multipath.mapOf(wwn), { intervalMs, timeoutMs: mapTimeoutMs, signal: o.signal });
      if (!map) throw unavailable(`multipathd built no map for WWID ${multipathWwid(wwn)} within ${mapTimeoutMs} ms (paths: ${disks.map((d) => d.name).join(',')})`);
      await this.crossCheck(`dm-uuid-mpath-${multipathWwid(wwn)}`, map.name);
      return { path: `/dev/${map.name}`, name: map.name, wwid: multipathWwid(wwn) };
    }
    if (disks.length > 1) {
      throw failedPrecondition(`volume ${wwn} has ${disks.length} paths (${disks.map((d) => d.name).join(',')}) but the host runs no multipath; configure multipath`);
    }
    await this.crossCheck(`wwn-0x${wwn.toLowerCase()}`, disks[0]!.name);
    return { path: `/dev/${disks[0]!.name}`, name: disks[0]!.name };
  }

  /**
   * When udev already made the volume's by-id link, it must name the device sysfs found; a
   * disagreement means a stale or reused device name, and the driver touches neither.
   */
  private async crossCheck(link: string, name: string): Promise<void> {
    let target: string;
    try {
      target = basename(await realpath(join(this.byIdDir, link)));
    } catch {
      // udev has not made the link yet (or runs without by-id links): sysfs alone decides.
      return;
    }
    if (target !== name) throw failedPrecondition(`${join(this.byIdDir, link)} names ${target} but sysfs found ${name} for the volume; not using either`);
  }

  /** The map (if any) and the path disks of a volume. */
  async deviceNames(wwn: string): Promise<string[]> {
    const map = await this.multipath.mapOf(wwn);
    return [...(map ? [map.name] : []), ...(await this.disks(wwn)).map((d) => d.name)];
  }

  /** The volume's device now, without waiting. */
  async find(wwn: string): Promise<AttachedDevice | undefined> {
    const map = await this.multipath.mapOf(wwn);
    if (map) return { path: `/dev/${map.name}`, name: map.name, wwid: multipathWwid(wwn) };
    const disks = await this.disks(wwn);
    if (disks.length === 1) return { path: `/dev/${disks[0]!.name}`, name: disks[0]!.name };
    return undefined;
  }

  /**
   * Flushes the map (if any), then for each disk of this LUN: checks it is unused, flushes its
   * buffers, re-reads its WWID right before deleting (the name may have been reused), and
   *   echo 1 > /sys/block/<sdX>/device/delete
   * Returns the disks it removed.
   */
  async remove(wwn: string, o: ConnectorCallOptions): Promise<ScsiDisk[]> {
    await this.multipath.flush(wwn);
    const removed: ScsiDisk[] = [];
    const mounts = await this.mounter.read();
    for (const disk of await this.disks(wwn)) {
      const use = await deviceInUse(this.sys, disk.name, mounts);
      if (use) throw failedPrecondition(`device ${disk.name} of volume ${wwn} is ${use}; unpublish it first`);
      await this.exec('blockdev', ['--flushbufs', `/dev/${disk.name}`], { timeoutMs: FLUSH_TIMEOUT_MS });
      if ((await this.sys.read(`block/${disk.name}/device/wwid`)) !== scsiWwid(wwn)) {
        o.log.warn({ device: disk.name, wwn }, 'device changed identity before removal; left alone');
        continue;
      }
      await this.sys.write(`block/${disk.name}/device/delete`, '1');
      removed.push(disk);
    }
    return removed;
  }

  /**
   * Re-reads the size of each path, then resizes the map.
   *   echo 1 > /sys/block/<sdX>/device/rescan
   */
  async rescan(wwn: string): Promise<void> {
    for (const disk of await this.disks(wwn)) await this.sys.write(`block/${disk.name}/device/rescan`, '1');
    if (this.multipath.enabled) await this.multipath.resize(wwn);
  }
}
