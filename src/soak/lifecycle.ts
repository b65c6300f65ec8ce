/**
 * One volume's life, as Kubernetes would drive it: provision, attach, mount, write, snapshot,
 * restore, clone, grow (xfs), detach, delete — every step through the retrying Sidecar, and every
 * expectation written to the Ledger the audit checks at the end.
 */
import { arrayNameFor } from '../array/names.js';
import type { FaultController } from '../simulator/index.js';
import type { Chaos } from './faults.js';
import { digestOf, fsBytes, stagingDir, targetPath, writeFlushed } from './node-fs.js';
import type { Prng } from './prng.js';
import type { Sidecar } from './sidecar.js';

export const MiB = 1024 * 1024;
/** Volumes start at 512 MiB (mkfs.xfs needs 300 MB) and grow to 1 GiB. */
export const START_BYTES = 512 * MiB;
export const GROWN_BYTES = 1024 * MiB;

/** What must be true of the array and the data at the end. */
export class Ledger {
  /** CSI volume name → what it should hold (only volumes that should exist now). */
  readonly volumes = new Map<
    string,
    { id: string; context: Record<string, string>; minBytes: number; file?: string; digest?: string }
  >();
  /** CSI snapshot names that should exist now. */
  readonly snapshots = new Map<string, string>();
  /** Names of volumes and snapshots deleted (must be gone from the array). */
  readonly deleted = new Set<string>();
  /** Data that did not read back intact, or objects that vanished: each entry is one loss. */
  readonly lost: string[] = [];
  /** Lifecycles that could not finish (an operation failed within its budget). */
  readonly failed: string[] = [];
  /** Expectations that were not data loss but still wrong (e.g. a filesystem that did not grow). */
  readonly anomalies: string[] = [];
}

export interface LifecycleEnv {
  sidecar: Sidecar;
  ledger: Ledger;
  chaos: Chaos;
  faults: FaultController;
  rng: Prng;
  driverName: string;
  clusterId: string;
  nodeId: string;
  /** Kubelet directory of the node plugin (staging and target paths live under it). */
  kubeletDir: string;
  /** False when node steps cannot run (not root): control plane only. */
  node: boolean;
  /** Raced controller calls (two controller processes, split leaders). */
  race: boolean;
}

const cap = { mount: { fs_type: 'xfs', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

interface Vol {
  name: string;
  id: string;
  context: Record<string, string>;
  publish?: Record<string, string>;
  staging?: string;
  target?: string;
}

interface CreatedVolume {
  volume: { volume_id: string; capacity_bytes: string; volume_context: Record<string, string> };
}

/**
 * Runs one lifecycle; never throws (failures go to the ledger, and a best-effort teardown runs).
 * Resolves true when every step succeeded.
 */
export async function runLifecycle(env: LifecycleEnv, name: string, keep: boolean): Promise<boolean> {
  const vols: Vol[] = [];
  const snaps: { name: string; id: string }[] = [];
  try {
    await lifecycle(env, name, keep, vols, snaps);
    return true;
  } catch (err) {
    env.ledger.failed.push(`${name}: ${(err as Error).message}`);
    await teardown(env, vols, snaps, keep ? name : undefined).catch((e: unknown) =>
      env.ledger.failed.push(`${name} teardown: ${(e as Error).message}`),
    );
    return false;
  }
}

async function lifecycle(
  env: LifecycleEnv,
  name: string,
  keep: boolean,
  vols: Vol[],
  snaps: { name: string; id: string }[],
): Promise<void> {
  const { ledger, rng } = env;
  const a = await createVolume(env, name, START_BYTES);
  vols.push(a);
  ledger.volumes.set(name, { id: a.id, context: a.context, minBytes: START_BYTES });
  await attach(env, a);

  const written: Written = { file: 'data.bin' };
  if (a.target) {
    written.digest = writeFlushed(a.target, written.file, rng.bytes(rng.int(64, 2048) * 1024));
    ledger.volumes.set(name, {
      id: a.id,
      context: a.context,
      minBytes: START_BYTES,
      file: written.file,
      digest: written.digest,
    });
  }

  const snapName = `${name}-snap`;
  const snap = await env.sidecar.controller<{ snapshot: { snapshot_id: string } }>(
    'CreateSnapshot',
    { source_volume_id: a.id, name: snapName, parameters: {} },
    { race: env.race },
  );
  snaps.push({ name: snapName, id: snap.snapshot.snapshot_id });
  ledger.snapshots.set(snapName, snap.snapshot.snapshot_id);
  await copyAndCheck(env, name, a, snap.snapshot.snapshot_id, written, vols);
  await growOnline(env, name, a, written);

  await detach(env, a);
  await env.sidecar.controller('DeleteSnapshot', { snapshot_id: snap.snapshot.snapshot_id }, { race: env.race });
  ledger.snapshots.delete(snapName);
  ledger.deleted.add(snapName);
  snaps.length = 0;
  if (!keep) {
    await deleteVolume(env, a);
    vols.length = 0;
  }
}

/** The file a lifecycle wrote on its volume, and its digest (none when the volume has no node side). */
interface Written {
  file: string;
  digest?: string;
}

/** A restore of the snapshot and a clone of the volume: each attached, its data checked, then deleted. */
async function copyAndCheck(
  env: LifecycleEnv,
  name: string,
  a: Vol,
  snapshotId: string,
  written: Written,
  vols: Vol[],
): Promise<void> {
  const { rng } = env;
  // A restore larger than the snapshot makes CreateVolume wait for the copy: a task failing then
  // must be cleaned up and copied afresh on the retry.
  const larger = rng.chance(0.5);
  const restoreName = `${name}-restore`;
  if (larger && rng.chance(0.5)) {
    env.faults.failFutureTasks(`^${arrayNameFor('volume', env.clusterId, restoreName)}$`, rng.int(10, 90), 1);
    env.chaos.count('copy task failed');
  }
  const restored = await createVolume(env, restoreName, larger ? GROWN_BYTES : START_BYTES, {
    snapshot: { snapshot_id: snapshotId },
  });
  vols.push(restored);
  const clone = await createVolume(env, `${name}-clone`, START_BYTES, { volume: { volume_id: a.id } });
  vols.push(clone);

  for (const copy of [restored, clone]) {
    await attach(env, copy);
    if (copy.target && written.digest)
      checkData(env, copy, written.file, written.digest, `${copy.name} (copy of ${name})`);
    await detach(env, copy);
    await deleteVolume(env, copy);
    vols.splice(vols.indexOf(copy), 1);
  }
}

/** Grows the xfs volume online: the array first, then the filesystem; the data must survive it. */
async function growOnline(env: LifecycleEnv, name: string, a: Vol, written: Written): Promise<void> {
  await env.sidecar.controller(
    'ControllerExpandVolume',
    { volume_id: a.id, capacity_range: { required_bytes: String(GROWN_BYTES) }, volume_capability: cap },
    { race: env.race },
  );
  env.ledger.volumes.get(name)!.minBytes = GROWN_BYTES;
  if (!a.target) return;
  const before = fsBytes(a.target);
  await env.sidecar.nodeCall('NodeExpandVolume', {
    volume_id: a.id,
    volume_path: a.target,
    staging_target_path: a.staging,
    capacity_range: { required_bytes: String(GROWN_BYTES) },
    volume_capability: cap,
  });
  const after = fsBytes(a.target);
  if (after <= before) env.ledger.anomalies.push(`${name}: xfs did not grow (${before} → ${after} bytes)`);
  if (written.digest) checkData(env, a, written.file, written.digest, `${name} after growing`);
}

/** Attaches, reads back and deletes a kept volume at the end of the run. */
export async function finishKeeper(env: LifecycleEnv, name: string): Promise<void> {
  const rec = env.ledger.volumes.get(name);
  if (!rec) return;
  // The PV keeps the volume_context CreateVolume returned; kubelet and the attacher pass it on.
  const v: Vol = { name, id: rec.id, context: rec.context };
  try {
    await attach(env, v);
    if (v.target && rec.file && rec.digest) checkData(env, v, rec.file, rec.digest, `${name} at the end of the run`);
    await detach(env, v);
    await deleteVolume(env, v);
  } catch (err) {
    env.ledger.failed.push(`${name} (final check): ${(err as Error).message}`);
  }
}

function checkData(env: LifecycleEnv, v: Vol, file: string, digest: string, what: string): void {
  const got = digestOf(`${v.target}/${file}`);
  if (got !== digest) env.ledger.lost.push(`${what}: ${file} ${got === undefined ? 'is missing' : 'differs'}`);
}

async function createVolume(
  env: LifecycleEnv,
  name: string,
  bytes: number,
  source?: Record<string, unknown>,
): Promise<Vol> {
  const res = await env.sidecar.controller<CreatedVolume>(
    'CreateVolume',
    {
      name,
      capacity_range: { required_bytes: String(bytes) },
      volume_capabilities: [cap],
      parameters: {
        'csi.storage.k8s.io/pvc/name': name,
        'csi.storage.k8s.io/pvc/namespace': 'soak',
        'csi.storage.k8s.io/pv/name': `pv-${name}`,
      },
      ...(source ? { volume_content_source: source } : {}),
    },
    { race: env.race },
  );
  if (Number(res.volume.capacity_bytes) < bytes)
    env.ledger.anomalies.push(`${name}: CreateVolume returned ${res.volume.capacity_bytes} bytes, asked ${bytes}`);
  if (source)
    env.ledger.volumes.set(name, { id: res.volume.volume_id, context: res.volume.volume_context, minBytes: bytes });
  return { name, id: res.volume.volume_id, context: res.volume.volume_context };
}

async function deleteVolume(env: LifecycleEnv, v: Vol): Promise<void> {
  await env.sidecar.controller('DeleteVolume', { volume_id: v.id }, { race: env.race });
  env.ledger.volumes.delete(v.name);
  env.ledger.deleted.add(v.name);
}

async function attach(env: LifecycleEnv, v: Vol): Promise<void> {
  const res = await env.sidecar.controller<{ publish_context: Record<string, string> }>(
    'ControllerPublishVolume',
    { volume_id: v.id, node_id: env.nodeId, volume_capability: cap, readonly: false, volume_context: v.context },
    { race: env.race },
  );
  v.publish = res.publish_context;
  if (!env.node) return;
  const staging = stagingDir(env.kubeletDir, env.driverName, v.name);
  v.staging = staging;
  await env.sidecar.nodeCall('NodeStageVolume', {
    volume_id: v.id,
    publish_context: v.publish,
    staging_target_path: staging,
    volume_capability: cap,
    volume_context: v.context,
  });
  const target = targetPath(env.kubeletDir, v.name);
  v.target = target;
  await env.sidecar.nodeCall('NodePublishVolume', {
    volume_id: v.id,
    publish_context: v.publish,
    staging_target_path: staging,
    target_path: target,
    volume_capability: cap,
    readonly: false,
    volume_context: v.context,
  });
}

async function detach(env: LifecycleEnv, v: Vol): Promise<void> {
  if (v.target) {
    await env.sidecar.nodeCall('NodeUnpublishVolume', { volume_id: v.id, target_path: v.target });
    v.target = undefined;
  }
  if (v.staging) {
    await env.sidecar.nodeCall('NodeUnstageVolume', { volume_id: v.id, staging_target_path: v.staging });
    v.staging = undefined;
  }
  if (v.publish) {
    await env.sidecar.controller(
      'ControllerUnpublishVolume',
      { volume_id: v.id, node_id: env.nodeId },
      { race: env.race },
    );
    v.publish = undefined;
  }
}

/** Best effort after a failed step: detach and delete what this lifecycle made (a kept volume stays). */
async function teardown(
  env: LifecycleEnv,
  vols: Vol[],
  snaps: { name: string; id: string }[],
  keepName: string | undefined,
): Promise<void> {
  for (const v of vols) await detach(env, v);
  for (const s of snaps) {
    await env.sidecar.controller('DeleteSnapshot', { snapshot_id: s.id });
    env.ledger.snapshots.delete(s.name);
    env.ledger.deleted.add(s.name);
  }
  for (const v of vols) if (v.name !== keepName) await deleteVolume(env, v);
}
