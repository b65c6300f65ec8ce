import { stat, statfs } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { invalidArgument, notFound } from '../errors.js';
import { deviceSize } from '../host/fs.js';
import { resolvePath } from '../host/paths.js';
import type { VolumeRecord } from '../host/state.js';
import type { NodeDeps } from './node-stage.js';
import type { NodeGetVolumeStatsResponse } from '../gen/csi/v1/NodeGetVolumeStatsResponse.js';

/** statfs errors that mean the mount is there but dead (a lost device, a stale mount). */
const STALE_ERRNOS = new Set(['ENOTCONN', 'EIO', 'ESTALE', 'ENXIO']);

/**
 * NodeGetVolumeStats: usage of a volume staged on this node, at a path its record names. A volume
 * that does not exist on volume_path → NOT_FOUND (CSI).
 */
export async function volumeStats(
  d: Pick<NodeDeps, 'store' | 'mounter' | 'exec'>,
  volumeId: string,
  volumePath: string,
  signal: AbortSignal,
): Promise<NodeGetVolumeStatsResponse> {
  const rec = await d.store.load(volumeId);
  if (!rec) throw notFound(`volume ${volumeId} is not staged on this node`);
  await requireOwnPath(rec, volumePath);
  return usageAt(d, volumePath, signal);
}

/** volume_path must be where this volume is staged or published (per its record); else NOT_FOUND. */
export async function requireOwnPath(rec: VolumeRecord, volumePath: string): Promise<void> {
  // Records hold resolved paths; a caller may name one through a symlink.
  const want =
    isAbsolute(volumePath) && !volumePath.split('/').includes('..')
      ? await resolvePath(resolve(volumePath), 'volume_path').catch(() => undefined)
      : undefined;
  const own = [rec.stagingPath, ...rec.publishes.map((p) => p.targetPath)].map((p) => resolve(p));
  if (want === undefined || !own.includes(want))
    throw notFound(`volume ${rec.volumeId} is not staged or published at ${volumePath}`);
}

/** Usage from statfs (filesystem) or blockdev (raw block) only: never an array call. */
async function usageAt(
  d: Pick<NodeDeps, 'mounter' | 'exec'>,
  path: string,
  signal: AbortSignal,
): Promise<NodeGetVolumeStatsResponse> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`${path} does not exist`);
    if (STALE_ERRNOS.has((err as NodeJS.ErrnoException).code ?? ''))
      return abnormal(`${path} is stale: ${(err as Error).message}`);
    throw err;
  }
  const mount = await d.mounter.at(path);
  if (st.isBlockDevice()) {
    if (!mount) return abnormal(`${path} is not published`);
    const total = await deviceSize(d.exec, path, signal);
    return {
      usage: [{ unit: 'BYTES', total: total.toString() }],
      volume_condition: { abnormal: false, message: 'ok' },
    };
  }
  if (!st.isDirectory()) throw invalidArgument(`${path} is neither a directory nor a block device`);
  if (!mount) return abnormal(`${path} is not mounted`);
  let fs;
  try {
    fs = await statfs(path, { bigint: true });
  } catch (err) {
    if (STALE_ERRNOS.has((err as NodeJS.ErrnoException).code ?? ''))
      return abnormal(`the filesystem at ${path} does not answer: ${(err as Error).message}`);
    throw err;
  }
  const usage = [
    {
      unit: 'BYTES' as const,
      total: (fs.blocks * fs.bsize).toString(),
      available: (fs.bavail * fs.bsize).toString(),
      used: ((fs.blocks - fs.bfree) * fs.bsize).toString(),
    },
    {
      unit: 'INODES' as const,
      total: fs.files.toString(),
      available: fs.ffree.toString(),
      used: (fs.files - fs.ffree).toString(),
    },
  ];
  // The filesystem went read-only under a read-write mount (ext4 errors=remount-ro, an xfs
  // shutdown); a read-only mount or bind shows "ro" in its own options instead.
  // (ext4 on recent kernels reports the latter as "emergency_ro" in the superblock options.)
  const superRo = mount.superOptions.includes('ro') || mount.superOptions.includes('emergency_ro');
  if (superRo && mount.mountOptions.includes('rw')) {
    return {
      usage,
      volume_condition: {
        abnormal: true,
        message: `the filesystem at ${path} went read-only; check the node's kernel log`,
      },
    };
  }
  return { usage, volume_condition: { abnormal: false, message: 'ok' } };
}

function abnormal(message: string): NodeGetVolumeStatsResponse {
  return { usage: [], volume_condition: { abnormal: true, message } };
}
