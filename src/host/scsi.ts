import { lstat, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { failedPrecondition, unavailable } from '../errors.js';
import { wwnForHost } from '../util/wwn.js';
import { ExecError } from './exec.js';
import type { Exec } from './exec.js';
import type { Mounter } from './mounts.js';
import { anyPathLive, type Multipath } from './multipath.js';
import { deviceInUse, multipathWwid, scsiDisksByWwn, scsiWwid, waitFor, type ScsiDisk, type Sysfs } from './sysfs.js';
import {
  DEFAULT_REMOVAL_TIMEOUT_MS,
  type AttachedDevice,
  type Chap,
  type Connector,
  type ConnectorCallOptions,
  type DiscoveryTimings,
  type VolumeIdentity,
} from './connector.js';

/** blockdev --flushbufs on the device about to be removed. */
const FLUSH_TIMEOUT_MS = 30_000;

/** A SCSI address: host, channel, target id, LUN. */
export interface ScsiAddress {
  host: number;
  channel: number;
  target: number;
  lun: number;
}

/**
 * What iSCSI and FC share once the LUN was scanned: checking the address before the scan,
 * waiting for its SCSI disks (verified by WWID), choosing the multipath map, rescanning for a
 * resize, and removing only this LUN's disks.
 */
export class ScsiVolumes {
  private readonly byIdDir: string;

  constructor(
    private readonly sys: Sysfs,
    private readonly exec: Exec,
    private readonly mounter: Mounter,
    private readonly multipath: Multipath,
    private readonly timings: DiscoveryTimings,
    /** The host's /dev (device nodes, and udev's persistent names under disk/by-id). */
    private readonly devDir = '/dev',
  ) {
    this.byIdDir = join(devDir, 'disk/by-id');
  }

  disks(wwn: string): Promise<ScsiDisk[]> {
    return scsiDisksByWwn(this.sys, wwn);
  }

  /**
   * Scans one LUN at a SCSI address, after making sure the address is free for it. The kernel's
   * scan of an address that already holds a device does nothing (drivers/scsi/scsi_scan.c:
   * scsi_probe_and_add_lun finds the existing scsi_device and returns "LUN present"), and the
   * array hands out the lowest free LUN, so after an unclean detach the old device of another
   * volume sits at the new volume's address and hides it for ever. So, before the scan:
   *   /sys/class/scsi_device/<H:C:T:L>/device/wwid  — ours, or nothing there: scan;
   *   another WWID, unused (no mount, no holder, no map): delete it and scan;
   *     echo 1 > /sys/class/scsi_device/<H:C:T:L>/device/delete
   *   another WWID, in use: FAILED_PRECONDITION naming the device.
   * Then only this LUN: echo "<C> <T> <L>" > /sys/class/scsi_host/host<H>/scan
   */
  async scan(a: ScsiAddress, wwn: string, o: ConnectorCallOptions): Promise<void> {
    const hctl = `${a.host}:${a.channel}:${a.target}:${a.lun}`;
    const dev = `class/scsi_device/${hctl}/device`;
    const found = await this.sys.read(`${dev}/wwid`);
    if (found !== undefined && found !== scsiWwid(wwn)) {
      const blocks = await this.sys.list(`${dev}/block`);
      // Read fresh, not the call's snapshot: the device is another volume's, which other
      // processes may be mounting; a rare path (a stale device at the address) worth the read.
      const mounts = await this.mounter.read();
      for (const name of blocks) {
        const use = await deviceInUse(this.sys, name, mounts);
        if (use)
          throw failedPrecondition(
            `SCSI address ${hctl} (LUN ${a.lun} of volume ${wwn}) is taken by /dev/${name} of another LUN (WWID ${found}), which is ${use}; unmount it or remove it from its multipath map, then retry`,
          );
      }
      // Identity re-read right before the delete: the address may have changed hands meanwhile.
      if ((await this.sys.read(`${dev}/wwid`)) === found) {
        await this.sys.write(`${dev}/delete`, '1');
        o.log.warn(
          { hctl, staleWwid: found, devices: blocks, wwn },
          'stale device of another LUN at the address removed before the scan',
        );
      }
    }
    await this.sys.write(`class/scsi_host/host${a.host}/scan`, `${a.channel} ${a.target} ${a.lun}`);
  }

  /**
   * Waits (bounded) for the LUN's disks and, when the host runs multipathd, its map. Without a
   * map the volume must have exactly one path (two unmanaged paths to one LUN would be two
   * devices writing the same blocks).
   *
   * multipathd with find_multipaths yes|smart|strict builds no map for a single path of an
   * unknown WWID (multipath.conf(5)); as os-brick does, the driver then adds the WWID and the
   * paths and waits once more, and a single path still without a map is used directly (logged).
   */
  async waitForDevice(wwn: string, o: ConnectorCallOptions): Promise<AttachedDevice> {
    const { intervalMs, deviceTimeoutMs, mapTimeoutMs } = this.timings;
    const disks = await waitFor(
      async () => {
        const d = await this.disks(wwn);
        return d.length > 0 ? d : undefined;
      },
      { intervalMs, timeoutMs: deviceTimeoutMs, signal: o.signal },
    );
    if (!disks)
      throw unavailable(
        `no SCSI device with WWID ${scsiWwid(wwn)} appeared within ${deviceTimeoutMs} ms; check the array's VLUN and the host's paths`,
      );
    const names = disks.map((d) => d.name);
    // The paths as last read: re-read after a wait for multipathd, else the scan above.
    let current = disks;
    if (await this.multipath.active(o.log, o.signal)) {
      let map = await this.multipath.mapOf(wwn, names);
      if (!map) {
        await this.multipath.claim(wwn, names, o.log);
        map = await waitFor(
          async () =>
            this.multipath.mapOf(
              wwn,
              (await this.disks(wwn)).map((d) => d.name),
            ),
          { intervalMs, timeoutMs: mapTimeoutMs, signal: o.signal },
        );
      }
      if (map) {
        await this.crossCheck(`dm-uuid-mpath-${multipathWwid(wwn)}`, map.name);
        return { path: `/dev/${map.name}`, name: map.name, wwid: multipathWwid(wwn) };
      }
      current = await this.disks(wwn);
      if (current.length > 1)
        throw unavailable(
          `multipathd built no map for WWID ${multipathWwid(wwn)} within ${mapTimeoutMs} ms (paths: ${current.map((d) => d.name).join(',')}); check multipathd's log and blacklist`,
        );
      o.log.warn(
        { wwid: multipathWwid(wwn), device: current[0]?.name ?? names[0] },
        'multipathd built no map for the single path; using the path device directly',
      );
    }
    const single = current;
    if (single.length > 1) {
      throw failedPrecondition(
        `volume ${wwn} has ${single.length} paths (${single.map((d) => d.name).join(',')}) but the host runs no multipath; start multipathd`,
      );
    }
    const disk = single[0] ?? disks[0]!;
    await this.crossCheck(`wwn-0x${wwnForHost(wwn)}`, disk.name);
    return { path: `/dev/${disk.name}`, name: disk.name };
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
    if (target !== name)
      throw failedPrecondition(
        `${join(this.byIdDir, link)} names ${target} but sysfs found ${name} for the volume; not using either`,
      );
  }

  /** The map (if any) and the path disks of a volume. */
  async deviceNames(wwn: string): Promise<string[]> {
    const disks = (await this.disks(wwn)).map((d) => d.name);
    const map = await this.multipath.mapOf(wwn, disks);
    return [...(map ? [map.name] : []), ...disks];
  }

  /** The volume's device now, without waiting. */
  async find(wwn: string): Promise<AttachedDevice | undefined> {
    const disks = await this.disks(wwn);
    const map = await this.multipath.mapOf(
      wwn,
      disks.map((d) => d.name),
    );
    if (map) return { path: `/dev/${map.name}`, name: map.name, wwid: multipathWwid(wwn) };
    if (disks.length === 1) return { path: `/dev/${disks[0]!.name}`, name: disks[0]!.name };
    return undefined;
  }

  /**
   * Removes the volume's devices. Only the device the volume was used through is flushed: the
   * map (see Multipath.flush: queueing disabled first when every path is dead) or the single
   * path; paths under a map are not (os-brick's LinuxSCSI.requires_flush: a path is flushed only
   * when it was used directly for I/O). For
   * each disk of this LUN: checks it is unused, re-reads its WWID right before deleting (the
   * name may have been reused), and
   *   echo 1 > /sys/block/<sdX>/device/delete
   * then waits (bounded) until the device nodes and udev's by-id links are gone, so that a
   * republish of the same LUN never meets the old device. Returns the disks it removed.
   */
  async remove(wwn: string, o: ConnectorCallOptions): Promise<ScsiDisk[]> {
    const disks = await this.disks(wwn);
    const map = await this.multipath.mapOf(
      wwn,
      disks.map((d) => d.name),
    );
    if (map) await this.multipath.flush(map, wwn, o.log);
    const removed: ScsiDisk[] = [];
    // Read fresh, after the flush, never the call's snapshot: the kernel deletes a mounted disk
    // without a word, and the disks freed by the map's removal may have been mounted meanwhile
    // by another process (which the snapshot, re-read only after this process's own mounts, misses).
    const mounts = await this.mounter.read();
    for (const disk of disks) {
      const use = await deviceInUse(this.sys, disk.name, mounts);
      if (use) throw failedPrecondition(`device ${disk.name} of volume ${wwn} is ${use}; unpublish it first`);
    }
    if (!map && disks.length === 1) await this.flushPath(disks[0]!.name, wwn, o);
    for (const disk of disks) {
      if ((await this.sys.read(`block/${disk.name}/device/wwid`)) !== scsiWwid(wwn)) {
        o.log.warn({ device: disk.name, wwn }, 'device changed identity before removal; left alone');
        continue;
      }
      await this.sys.write(`block/${disk.name}/device/delete`, '1');
      removed.push(disk);
    }
    await this.waitGone(wwn, [...(map ? [map.name] : []), ...removed.map((d) => d.name)], o);
    return removed;
  }

  /** blockdev --flushbufs on a single path; on a dead path (the target is gone) an I/O error is expected and logged. */
  private async flushPath(name: string, wwn: string, o: ConnectorCallOptions): Promise<void> {
    try {
      await this.exec('blockdev', ['--flushbufs', `/dev/${name}`], { timeoutMs: FLUSH_TIMEOUT_MS });
    } catch (err) {
      if (!(err instanceof ExecError && err.failure === 'exit') || (await anyPathLive(this.sys, [name]))) throw err;
      o.log.warn({ device: name, wwn, err }, 'flushing the dead path failed; removing it anyway');
    }
  }

  /**
   * Waits until /dev/<name> of each removed device and the volume's by-id links (wwn-0x<wwn>,
   * scsi-3<wwn>, dm-uuid-mpath-3<wwn>) are gone, as os-brick's wait_for_volumes_removal does.
   * At the bound, a link left dangling (udev behind, or not running) is only logged; a node or
   * link that still resolves → UNAVAILABLE, and the retried NodeUnstage waits again.
   */
  private async waitGone(wwn: string, names: readonly string[], o: ConnectorCallOptions): Promise<void> {
    const w = wwnForHost(wwn);
    const links = [`wwn-0x${w}`, `scsi-3${w}`, `dm-uuid-mpath-3${w}`].map((l) => join(this.byIdDir, l));
    const paths = [...names.map((n) => join(this.devDir, n)), ...links];
    const left = async (): Promise<string[]> =>
      (await Promise.all(paths.map(async (p) => ((await exists(p)) ? [p] : [])))).flat();
    const timeoutMs = this.timings.removalTimeoutMs ?? DEFAULT_REMOVAL_TIMEOUT_MS;
    const gone = await waitFor(async () => ((await left()).length === 0 ? true : undefined), {
      intervalMs: this.timings.intervalMs,
      timeoutMs,
      signal: o.signal,
    });
    if (gone) return;
    const remaining = await left();
    const live = (
      await Promise.all(
        remaining.map(async (p) =>
          (await realpath(p).then(
            () => true,
            () => false,
          ))
            ? [p]
            : [],
        ),
      )
    ).flat();
    if (live.length > 0)
      throw unavailable(
        `${live.join(', ')} still present ${timeoutMs} ms after the devices of volume ${wwn} were deleted; udev has not caught up, retry`,
      );
    if (remaining.length > 0)
      o.log.warn({ links: remaining }, 'dangling by-id links of the removed volume remain (udev behind?)');
  }

  /**
   * Re-reads the size of each path, then resizes the map.
   *   echo 1 > /sys/block/<sdX>/device/rescan
   */
  async rescan(wwn: string): Promise<void> {
    const disks = await this.disks(wwn);
    for (const disk of disks) await this.sys.write(`block/${disk.name}/device/rescan`, '1');
    if (this.multipath.mode !== 'off')
      await this.multipath.resize(
        wwn,
        disks.map((d) => d.name),
      );
  }
}

/**
 * A connector of SCSI LUNs (iSCSI, FC): each attaches its own way; finding, rescanning and
 * removing the LUN's devices go by its WWN through {@link ScsiVolumes}.
 */
export abstract class ScsiConnector implements Connector {
  constructor(protected readonly scsi: ScsiVolumes) {}

  abstract attach(
    id: VolumeIdentity,
    chap: Chap | undefined,
    readOnly: boolean,
    o: ConnectorCallOptions,
  ): Promise<AttachedDevice>;

  find(id: VolumeIdentity): Promise<AttachedDevice | undefined> {
    return this.scsi.find(id.wwn);
  }

  deviceNames(id: VolumeIdentity): Promise<string[]> {
    return this.scsi.deviceNames(id.wwn);
  }

  async detach(id: VolumeIdentity, o: ConnectorCallOptions): Promise<void> {
    await this.scsi.remove(id.wwn, o);
  }

  async rescan(id: VolumeIdentity): Promise<void> {
    await this.scsi.rescan(id.wwn);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
