import { failedPrecondition, notFound, unavailable } from '../errors.js';
import { deviceSize, growFs } from '../host/fs.js';
import { identityOf, type NodeDeps, type StepOptions } from './node-stage.js';
import { requireOwnPath } from './node-stats.js';
import type { ExpandRequest } from './node-validate.js';

/**
 * NodeExpandVolume, for block volumes too (DESIGN): rescan the LUN's paths and resize the
 * multipath map, check the device now shows the new size, then grow the filesystem mounted at
 * the staging path (of the type mounted there, never a guessed one). Returns the device's size.
 */
export async function expandVolume(d: NodeDeps, r: ExpandRequest, o: StepOptions): Promise<{ capacity_bytes: string }> {
  const rec = await d.store.load(r.volumeId);
  if (!rec?.steps.attached) throw notFound(`volume ${r.volumeId} is not staged on this node`);
  await requireOwnPath(rec, r.volumePath);
  const connector = d.connectors[rec.protocol];
  await connector.rescan(identityOf(rec), o);
  const device = await connector.find(identityOf(rec), o);
  if (!device) throw failedPrecondition(`the device of volume ${r.volumeId} is gone; stage it again`);
  const size = await deviceSize(d.exec, device.path, o.signal);
  if (size < r.requiredBytes)
    throw unavailable(
      `the device of volume ${r.volumeId} still reports ${size} bytes, less than ${r.requiredBytes}; retry after the array's resize is visible`,
    );
  if ((r.access ?? rec.access) === 'mount') {
    if (rec.readOnly)
      throw failedPrecondition(`volume ${r.volumeId} is staged read-only; its filesystem cannot grow here`);
    const mounted = await o.mounts.at(rec.stagingPath);
    if (!mounted) throw failedPrecondition(`volume ${r.volumeId} is not mounted at ${rec.stagingPath}; stage it again`);
    await growFs(d.exec, mounted.fsType, device.path, rec.stagingPath);
    o.log.info({ bytes: size.toString() }, 'filesystem grown');
  }
  return { capacity_bytes: size.toString() };
}
