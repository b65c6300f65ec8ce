import { wwnForHost } from '../util/wwn.js';
import { invalidArgument, unavailable } from '../errors.js';
import { ScsiConnector, type ScsiVolumes } from './scsi.js';
import type { Sysfs } from './sysfs.js';
import type { AttachedDevice, Chap, ConnectorCallOptions, VolumeIdentity } from './connector.js';

/**
 * Fibre Channel: the fabric already connects the HBAs to the array's ports; the driver scans
 * only the needed LUN on only the remote ports of the volume's target WWNs, and removes only that
 * LUN's disks. No LIP (issue_lip resets the link for every LUN on it).
 */
export class FcConnector extends ScsiConnector {
  constructor(
    private readonly sys: Sysfs,
    scsi: ScsiVolumes,
  ) {
    super(scsi);
  }

  async attach(
    id: VolumeIdentity,
    _chap: Chap | undefined,
    _readOnly: boolean,
    o: ConnectorCallOptions,
  ): Promise<AttachedDevice> {
    const wanted = new Set((id.fcTargets ?? []).map((w) => w.toLowerCase()));
    if (wanted.size === 0) throw invalidArgument('publish_context has no FC target WWNs');
    const targets = await this.remoteTargets(wanted);
    if (targets.length === 0) {
      throw unavailable(
        `none of the array ports ${[...wanted].join(',')} is visible from this node's FC HBAs; check zoning`,
      );
    }
    for (const t of targets) {
      // The address checked for a stale device first, then
      //   echo "<channel> <target> <lun>" > /sys/class/scsi_host/host<H>/scan
      await this.scsi.scan({ host: t.host, channel: t.channel, target: t.target, lun: id.lun }, id.wwn, o);
      o.log.debug({ host: t.host, channel: t.channel, target: t.target, lun: id.lun }, 'FC LUN scanned');
    }
    return this.scsi.waitForDevice(id.wwn, o);
  }

  /**
   * SCSI targets whose FC port is one of the volume's: /sys/class/fc_transport/target<H>:<C>:<T>/port_name
   * holds "0x" + the remote port's WWN.
   */
  private async remoteTargets(wanted: Set<string>): Promise<{ host: number; channel: number; target: number }[]> {
    const out: { host: number; channel: number; target: number }[] = [];
    for (const name of await this.sys.list('class/fc_transport')) {
      const m = /^target(\d+):(\d+):(\d+)$/.exec(name);
      if (!m) continue;
      const read = await this.sys.read(`class/fc_transport/${name}/port_name`);
      const port = read === undefined ? undefined : wwnForHost(read);
      if (port && wanted.has(port)) out.push({ host: Number(m[1]), channel: Number(m[2]), target: Number(m[3]) });
    }
    return out;
  }
}
