import { failedPrecondition } from '../errors.js';
import { flushBuffers } from '../host/fs.js';
import { anyPathLive } from '../host/multipath.js';
import { mountAt } from '../host/mounts.js';
import { identityOf, volumeMajorMinors, type NodeDeps, type StepOptions } from './node-stage.js';

/**
 * NodeUnstageVolume: refuse while published, unmount, flush, remove only this volume's devices
 * (re-resolved from the record's WWN / backing file, never from a remembered device name),
 * log out per the target rule, delete the record. Works after a restart and when the device
 * is already gone. Only what the node record says this driver staged is unmounted or detached:
 * with no record, nothing is touched (`stagingPath` is resolved and below the kubelet root).
 */
export async function unstageVolume(d: NodeDeps, volumeId: string, stagingPath: string, o: StepOptions): Promise<void> {
  const rec = await d.store.load(volumeId);
  const mounts = await o.mounts.read();
  if (!rec) {
    // CSI NodeUnstageVolume of a volume that is not staged here succeeds: only when nothing is
    // mounted there. A mount no record names is not known to be this volume's: left alone.
    if (mountAt(mounts, stagingPath))
      throw failedPrecondition(
        `${stagingPath} holds a mount that no node record of volume ${volumeId} names; refusing to unmount it or detach its device`,
      );
    return;
  }
  if (rec.stagingPath !== stagingPath) {
    if (mountAt(mounts, rec.stagingPath))
      throw failedPrecondition(`volume ${volumeId} is staged at ${rec.stagingPath}, not ${stagingPath}`);
    if (mountAt(mounts, stagingPath))
      throw failedPrecondition(
        `${stagingPath} holds a mount that is not volume ${volumeId}'s (it was staged at ${rec.stagingPath}); refusing to unmount it`,
      );
  }
  const published = rec.publishes.filter((p) => mountAt(mounts, p.targetPath));
  if (published.length > 0) {
    throw failedPrecondition(
      `volume ${volumeId} is still published at ${published.map((p) => p.targetPath).join(', ')}; unpublish it first`,
    );
  }
  const identity = identityOf(rec);
  const connector = d.connectors[rec.protocol];
  const staged = mountAt(mounts, rec.stagingPath);
  if (staged) {
    // The record says the driver mounted here, or (killed before saving that) the mount is of this volume's device.
    if (!rec.steps.mounted && !(await volumeMajorMinors(d, identity)).has(staged.majorMinor)) {
      throw failedPrecondition(
        `${rec.stagingPath} holds a mount of ${staged.source}, which is not volume ${volumeId}'s device; refusing to unmount it`,
      );
    }
    const device = await connector.find(identity, o);
    // A device without a running path cannot take the flush (a queueing map would hold it in D
    // state); the unmount below writes what it can.
    const dead = device !== undefined && !(await deviceLive(d, device.name));
    if (dead)
      o.log.warn({ device: device.path }, 'no path of the device is running; not flushing it before the unmount');
    if (device && !rec.readOnly && !dead)
      await flushBuffers(d.exec, device.path).catch((err: unknown) =>
        o.log.warn({ err }, 'flushing buffers before unmount failed'),
      );
    await d.mounter.umountAll(rec.stagingPath, o.mounts);
    o.log.info({ stagingPath: rec.stagingPath }, 'staging path unmounted');
    rec.steps.mounted = false;
    await d.store.save(rec);
  }
  await connector.detach(identity, o);
  o.log.info({ wwn: rec.wwn }, 'volume detached');
  // CSI NodeUnstageVolume: once undone, a repeated call finds no record and succeeds.
  await d.store.remove(volumeId);
}

/** Whether a SCSI disk, or any path of a dm map, carries I/O; other devices (loop) count as live. */
async function deviceLive(d: NodeDeps, name: string): Promise<boolean> {
  if (name.startsWith('dm-')) return anyPathLive(d.sys, await d.sys.list(`block/${name}/slaves`));
  if (/^sd[a-z]+$/.test(name)) return anyPathLive(d.sys, [name]);
  return true;
}
