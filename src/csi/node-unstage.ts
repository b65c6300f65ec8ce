import { basename } from 'node:path';
import { failedPrecondition } from '../errors.js';
import type { VolumeIdentity } from '../host/connector.js';
import { flushBuffers } from '../host/fs.js';
import { anyPathLive } from '../host/multipath.js';
import { mountAt } from '../host/mounts.js';
import { identityOf, type NodeDeps, type StepOptions } from './node-stage.js';

/**
 * NodeUnstageVolume: refuse while published, unmount, flush, remove only this volume's devices
 * (re-resolved from the record's WWN / backing file, never from a remembered device name),
 * log out per the target rule, delete the record. Works after a restart and when the device
 * is already gone; with no record it falls back to the mount table and sysfs.
 */
export async function unstageVolume(d: NodeDeps, volumeId: string, stagingPath: string, o: StepOptions): Promise<void> {
  const rec = await d.store.load(volumeId);
  const mounts = await d.mounter.read();
  if (!rec) {
    await unstageWithoutRecord(d, stagingPath, o);
    return;
  }
  if (rec.stagingPath !== stagingPath && mountAt(mounts, rec.stagingPath)) {
    throw failedPrecondition(`volume ${volumeId} is staged at ${rec.stagingPath}, not ${stagingPath}`);
  }
  const published = rec.publishes.filter((p) => mountAt(mounts, p.targetPath));
  if (published.length > 0) {
    throw failedPrecondition(`volume ${volumeId} is still published at ${published.map((p) => p.targetPath).join(', ')}; unpublish it first`);
  }
  const identity = identityOf(rec);
  const connector = d.connectors[rec.protocol];
  const staged = mountAt(mounts, stagingPath);
  if (staged) {
    const device = await connector.find(identity, o);
    // A device without a running path cannot take the flush (a queueing map would hold it in D
    // state); the unmount below writes what it can.
    const dead = device !== undefined && !(await deviceLive(d, device.name));
    if (dead) o.log.warn({ device: device.path }, 'no path of the device is running; not flushing it before the unmount');
    if (device && !rec.readOnly && !dead) await flushBuffers(d.exec, device.path).catch((err: unknown) => o.log.warn({ err }, 'flushing buffers before unmount failed'));
    await d.mounter.umountAll(stagingPath);
    o.log.info({ stagingPath }, 'staging path unmounted');
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

/**
 * No record (staged by a version without records, or the state directory was lost): the mount
 * table says which device is staged here, and sysfs says what volume that device is.
 */
async function unstageWithoutRecord(d: NodeDeps, stagingPath: string, o: StepOptions): Promise<void> {
  const mounted = await d.mounter.at(stagingPath);
  // CSI NodeUnstageVolume of a volume that is not staged here succeeds.
  if (!mounted) return;
  const name = basename(mounted.source);
  const identity = await identityFromSysfs(d, name);
  await d.mounter.umountAll(stagingPath);
  o.log.info({ stagingPath, device: mounted.source }, 'staging path unmounted (no node record)');
  if (!identity) {
    o.log.warn({ device: mounted.source }, 'no node record and the device is not a recognisable volume; left attached');
    return;
  }
  // iSCSI logout needs the targets, which only a record holds; a leftover idle session is harmless.
  const connector = identity.protocol === 'loop' ? d.connectors.loop : d.connectors.fc;
  await connector.detach(identity, o);
}

/** A volume's identity from its device's sysfs: loop backing file, dm-multipath uuid, or SCSI WWID. */
async function identityFromSysfs(d: NodeDeps, name: string): Promise<VolumeIdentity | undefined> {
  if (/^loop\d+$/.test(name)) {
    const backingFile = await d.sys.read(`block/${name}/loop/backing_file`);
    return backingFile ? { protocol: 'loop', wwn: '', lun: 0, backingFile } : undefined;
  }
  let wwn: string | undefined;
  if (name.startsWith('dm-')) wwn = /^mpath-3([0-9a-f]{16,32})$/.exec((await d.sys.read(`block/${name}/dm/uuid`)) ?? '')?.[1];
  else wwn = /^naa\.([0-9a-f]{16,32})$/.exec((await d.sys.read(`block/${name}/device/wwid`)) ?? '')?.[1];
  return wwn ? { protocol: 'fc', wwn: wwn.toUpperCase(), lun: 0 } : undefined;
}
