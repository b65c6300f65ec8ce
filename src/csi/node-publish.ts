import { lstat, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alreadyExists, failedPrecondition } from '../errors.js';
import { isReadOnlyMount, mountAt, type MountTable } from '../host/mounts.js';
import { identityOf, majorMinorOf, volumeMajorMinors, type NodeDeps, type StepOptions } from './node-stage.js';
import type { PublishRequest } from './node-validate.js';

/**
 * NodePublishVolume: a bind mount of the staged filesystem at the target directory, or of the
 * block device onto a target file; read-only when asked. Idempotent by the mount table.
 */
export async function publishVolume(d: NodeDeps, r: PublishRequest, o: StepOptions): Promise<void> {
  const rec = await d.store.load(r.volumeId);
  if (!rec?.steps.attached)
    throw failedPrecondition(`volume ${r.volumeId} is not staged on this node; NodeStageVolume first`);
  const mounts = await o.mounts.read();
  const existing = mountAt(mounts, r.targetPath);
  if (rec.access !== r.capability.access) {
    // CSI NodePublishVolume at a published target with an incompatible capability → ALREADY_EXISTS.
    if (existing) throw alreadyExists(`${r.targetPath} is already published as ${rec.access}`);
    throw failedPrecondition(`volume ${r.volumeId} is staged as ${rec.access}, not ${r.capability.access}`);
  }
  // A volume staged read-only is published read-only whatever the request says.
  if (rec.readOnly) r = { ...r, readOnly: true };
  let source: string;
  let sourceId: { majorMinor: string; root?: string };
  let ours = new Set<string>();
  if (r.capability.access === 'mount') {
    // Only the volume's own staging mount is ever bound (another volume's would be exposed).
    if (r.stagingPath !== rec.stagingPath)
      throw failedPrecondition(`volume ${r.volumeId} is staged at ${rec.stagingPath}, not ${r.stagingPath}`);
    const staged = mountAt(mounts, r.stagingPath);
    if (!staged)
      throw failedPrecondition(`volume ${r.volumeId} is not mounted at ${r.stagingPath}; NodeStageVolume first`);
    source = r.stagingPath;
    sourceId = { majorMinor: staged.majorMinor, root: staged.root };
  } else {
    const device = await d.connectors[rec.protocol].find(identityOf(rec), o);
    if (!device) throw failedPrecondition(`the device of volume ${r.volumeId} is gone; stage it again`);
    source = device.path;
    sourceId = { majorMinor: await majorMinorOf(device.path) };
    ours = await volumeMajorMinors(d, identityOf(rec));
  }
  if (existing) {
    const same =
      r.capability.access === 'mount'
        ? existing.majorMinor === sourceId.majorMinor && existing.root === sourceId.root
        : await sameDevice(r.targetPath, ours);
    // CSI NodePublishVolume repeated with the same arguments: already published here → success.
    if (same && isReadOnlyMount(existing) === r.readOnly) {
      await remember(d, r);
      return;
    }
    // CSI NodePublishVolume at a used target path with another volume, capability or read-only flag → ALREADY_EXISTS.
    throw alreadyExists(
      `${r.targetPath} is already mounted ${same ? (isReadOnlyMount(existing) ? 'read-only' : 'read-write') : `from ${existing.source}`}`,
    );
  }
  if (r.capability.mode === 'SINGLE_NODE_SINGLE_WRITER') {
    const others = rec.publishes.filter((p) => p.targetPath !== r.targetPath && mountAt(mounts, p.targetPath));
    if (others.length > 0)
      throw failedPrecondition(
        `volume ${r.volumeId} is SINGLE_NODE_SINGLE_WRITER and already published at ${others[0]!.targetPath}`,
      );
  }
  // Recorded before the target is made: NodeUnpublish removes only what a record names.
  await remember(d, r);
  if (r.capability.access === 'mount') {
    await mkdir(r.targetPath, { recursive: true });
  } else {
    await mkdir(dirname(r.targetPath), { recursive: true });
    await (await open(r.targetPath, 'a', 0o600)).close();
  }
  await d.mounter.bind(source, r.targetPath, r.readOnly);
  o.log.info({ targetPath: r.targetPath, readOnly: r.readOnly }, 'volume published');
}

/** Whether the device node at `path` (a raw block publish) is one of the volume's devices. */
async function sameDevice(path: string, ours: Set<string>): Promise<boolean> {
  try {
    return ours.has(await majorMinorOf(path));
  } catch {
    return false;
  }
}

/** Adds the target to the record before the bind, so NodeUnstage knows every publish. */
async function remember(d: NodeDeps, r: PublishRequest): Promise<void> {
  const rec = await d.store.load(r.volumeId);
  if (!rec || rec.publishes.some((p) => p.targetPath === r.targetPath && p.readOnly === r.readOnly)) return;
  rec.publishes = [
    ...rec.publishes.filter((p) => p.targetPath !== r.targetPath),
    { targetPath: r.targetPath, readOnly: r.readOnly },
  ];
  await d.store.save(rec);
}

/**
 * NodeUnpublishVolume: only a target the node record says this volume was published at is
 * touched: unmount every mount stacked there, then remove the target (an empty directory or the
 * block file; never recursively, so a failed unmount cannot delete data). `targetPath` is resolved.
 */
export async function unpublishVolume(
  d: NodeDeps,
  volumeId: string,
  targetPath: string,
  o: StepOptions,
): Promise<void> {
  const rec = await d.store.load(volumeId);
  if (!rec?.publishes.some((p) => p.targetPath === targetPath)) {
    // CSI NodeUnpublishVolume of a target that is not published succeeds: only when nothing is
    // there. Anything else at the path is not the driver's (no record names it): left alone.
    if (await isNothing(o.mounts, targetPath)) return;
    throw failedPrecondition(
      `${targetPath} is not a target volume ${volumeId} was published at by this driver (no node record names it); refusing to unmount or remove it`,
    );
  }
  const n = await d.mounter.umountAll(targetPath, o.mounts);
  await removeTarget(targetPath);
  rec.publishes = rec.publishes.filter((p) => p.targetPath !== targetPath);
  await d.store.save(rec);
  if (n > 0) o.log.info({ targetPath }, 'volume unpublished');
}

/** Nothing at `path`: it does not exist, or it is an empty directory that is not a mount point. */
async function isNothing(mounts: MountTable, path: string): Promise<boolean> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  if (!st.isDirectory() || (await mounts.at(path))) return false;
  return (await readdir(path)).length === 0;
}

async function removeTarget(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isDirectory()) await rmdir(path);
  else await unlink(path);
}
