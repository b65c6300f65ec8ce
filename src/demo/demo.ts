import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { startDriver, type RunningDriver } from '../driver.js';
import { Metrics } from '../metrics.js';
import { CsiClient } from '../csi/client.js';
import { MOUNTINFO_PATH, parseMountInfo } from '../host/mounts.js';
import { StepRunner, bold, dim, progressBar } from './steps.js';
import { copySourceNameFor } from '../array/names.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DRIVER = 'csi.3par.hpe.example.com';

export interface DemoOptions {
  /** Copy rate of the simulated array, MiB/s: sets how long the clone's copy task runs. */
  copyRateMiBps: number;
  /** MiB of data written to the first volume (the clone copies it). */
  dataMiB: number;
  log?: Logger;
  /** After the summary, print the driver's Prometheus metrics as a scrape of /metrics would. */
  printMetrics?: boolean;
}

/** Why node steps cannot run here, or undefined when they can (root and the tools present). */
export function nodeStepsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: loop devices, mkfs and mount (run the demo as root to see them)';
  for (const tool of ['losetup', 'mkfs.ext4', 'mount', 'blkid']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (util-linux / e2fsprogs)`;
  }
  return undefined;
}

function xfsUnavailable(): string | undefined {
  return spawnSync('sh', ['-c', 'command -v mkfs.xfs']).status === 0
    ? undefined
    : 'needs mkfs.xfs (apt-get install xfsprogs)';
}

const mountCap = (fsType: string) => ({
  mount: { fs_type: fsType, mount_flags: [] },
  access_mode: { mode: 'SINGLE_NODE_WRITER' },
});

interface GroupSnapshot {
  group_snapshot_id: string;
  snapshots: { snapshot_id: string; source_volume_id: string }[];
  ready_to_use: boolean;
}

interface Vol {
  id: string;
  context: Record<string, string>;
  publish?: Record<string, string>;
  staging?: string;
  target?: string;
  fsType: string;
}

/** Plays the sequence Kubernetes' sidecars and kubelet would, against the embedded simulator. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), '3par-demo-'));
  const noNode = nodeStepsUnavailable();
  const noXfs = noNode ?? xfsUnavailable();
  let driver: RunningDriver | undefined;
  let client: CsiClient | undefined;
  let onInterrupt: ((signal: NodeJS.Signals) => void) | undefined;
  let interrupted = false;
  // Output piped into a reader that quits (| head) must not kill the demo before its teardown.
  const ignoreEpipe = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stdout.on('error', ignoreEpipe);
  const metrics = new Metrics();
  try {
    process.stdout.write(
      bold('3par-csi demo') + dim(` — the driver against its embedded 3PAR simulator (work dir ${work})\n`),
    );
    driver = await startDriver({
      mode: 'all',
      endpoint: `unix://${join(work, 'csi.sock')}`,
      driverName: DRIVER,
      nodeName: 'demo-node',
      hostExec: 'direct',
      kubeletDir: join(work, 'kubelet'),
      simulator: { dataDir: join(work, 'array'), copyRateMiBps: options.copyRateMiBps },
      log: options.log ?? silentLogger,
      metrics,
      shutdownGraceMs: 5000,
    });
    const sim = driver.simulator!;
    process.stdout.write(dim(`driver on unix://${driver.address}; simulator ${sim.url} (user ${sim.username})\n`));
    if (noNode) process.stdout.write(`Node steps will be skipped: ${noNode}.\n`);
    process.stdout.write('\n');
    const csi = new CsiClient(`unix://${driver.address}`);
    client = csi;
    const steps = new StepRunner(sim);
    // Ctrl-C (or SIGTERM) ends the lifecycle early but still tears down what was set up.
    onInterrupt = (signal: NodeJS.Signals) => {
      if (interrupted) return;
      interrupted = true;
      process.stdout.write(`\n${signal}: skipping the remaining steps, tearing down what was set up…\n`);
      steps.interrupt(`skipped: interrupted by ${signal}`);
    };
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
    const vols = new Map<string, Vol>();
    let nodeId = 'demo-node';

    await steps.run('NodeGetInfo', async () => {
      const info = await csi.call<{ node_id: string }>('NodeGetInfo');
      nodeId = info.node_id;
      return `node_id ${nodeId}`;
    });

    const create = (label: string, name: string, sizeBytes: number, fsType: string, source?: Record<string, unknown>) =>
      steps.run(label, async () => {
        const res = await csi.call<{
          volume: { volume_id: string; capacity_bytes: string; volume_context: Record<string, string> };
        }>('CreateVolume', {
          name,
          capacity_range: { required_bytes: String(sizeBytes) },
          volume_capabilities: [mountCap(fsType)],
          parameters: { 'csi.storage.k8s.io/pvc/name': name, 'csi.storage.k8s.io/pvc/namespace': 'demo' },
          ...(source ? { volume_content_source: source } : {}),
        });
        vols.set(name, { id: res.volume.volume_id, context: res.volume.volume_context, fsType });
        return `${res.volume.volume_id}, ${Number(res.volume.capacity_bytes) / MiB} MiB ${fsType}`;
      });

    const attach = async (name: string): Promise<void> => {
      const v = vols.get(name);
      if (!v) {
        steps.skip(`attach ${name}`, 'its CreateVolume failed');
        return;
      }
      await steps.run(`ControllerPublishVolume ${name}`, async () => {
        const res = await csi.call<{ publish_context: Record<string, string> }>('ControllerPublishVolume', {
          volume_id: v.id,
          node_id: nodeId,
          volume_capability: mountCap(v.fsType),
          readonly: false,
          volume_context: v.context,
        });
        v.publish = res.publish_context;
        return `LUN ${res.publish_context['lun']} over ${res.publish_context['protocol']}, WWN ${res.publish_context['wwn']}`;
      });
      if (noNode) {
        steps.skip(`NodeStageVolume + NodePublishVolume ${name}`, noNode);
        return;
      }
      // Where kubelet puts them: the node plugin acts only below its kubelet directory.
      v.staging = join(work, 'kubelet', 'plugins', 'kubernetes.io', 'csi', DRIVER, name, 'globalmount');
      v.target = join(work, 'kubelet', 'pods', name, 'volumes', 'kubernetes.io~csi', name, 'mount');
      mkdirSync(v.staging, { recursive: true });
      mkdirSync(dirname(v.target), { recursive: true });
      await steps.run(`NodeStageVolume ${name}`, async () => {
        await csi.call('NodeStageVolume', {
          volume_id: v.id,
          publish_context: v.publish,
          staging_target_path: v.staging,
          volume_capability: mountCap(v.fsType),
          volume_context: v.context,
        });
        return `${v.fsType} mounted at ${v.staging}`;
      });
      await steps.run(`NodePublishVolume ${name}`, async () => {
        await csi.call('NodePublishVolume', {
          volume_id: v.id,
          publish_context: v.publish,
          staging_target_path: v.staging,
          target_path: v.target,
          volume_capability: mountCap(v.fsType),
          readonly: false,
          volume_context: v.context,
        });
        return `bind-mounted at ${v.target}`;
      });
    };

    const detach = async (name: string): Promise<void> => {
      const v = vols.get(name);
      if (!v) return;
      const always = { always: true };
      if (v.target)
        await steps.run(
          `NodeUnpublishVolume ${name}`,
          async () => void (await csi.call('NodeUnpublishVolume', { volume_id: v.id, target_path: v.target })),
          always,
        );
      if (v.staging)
        await steps.run(
          `NodeUnstageVolume ${name}`,
          async () => void (await csi.call('NodeUnstageVolume', { volume_id: v.id, staging_target_path: v.staging })),
          always,
        );
      if (v.publish)
        await steps.run(
          `ControllerUnpublishVolume ${name}`,
          async () => void (await csi.call('ControllerUnpublishVolume', { volume_id: v.id, node_id: nodeId })),
          always,
        );
    };

    let snapshotId = '';
    let group: GroupSnapshot | undefined;
    try {
      // 1. A new volume, attached and mounted, with data on it.
      await create('CreateVolume pvc-a', 'pvc-a', 1 * GiB, 'ext4');
      await attach('pvc-a');
      const payload = randomBytes(options.dataMiB * MiB);
      const digest = createHash('sha256').update(payload).digest('hex');
      if (!noNode) {
        await steps.run('write data to pvc-a', async () => {
          const file = join(vols.get('pvc-a')!.target!, 'data.bin');
          writeFileSync(file, payload);
          const fd = openSync(file, 'r');
          fsyncSync(fd);
          closeSync(fd);
          // An array snapshots only what reached the LUN: flush before snapshotting (the user's job).
          spawnSync('sync');
          return `${options.dataMiB} MiB, sha256 ${digest.slice(0, 16)}…, flushed`;
        });
      }

      // 2. Snapshot and restore.
      await steps.run('CreateSnapshot snap-a of pvc-a', async () => {
        const res = await csi.call<{ snapshot: { snapshot_id: string; ready_to_use: boolean } }>('CreateSnapshot', {
          source_volume_id: vols.get('pvc-a')!.id,
          name: 'snap-a',
          parameters: {},
        });
        snapshotId = res.snapshot.snapshot_id;
        return `${snapshotId}, ready_to_use ${res.snapshot.ready_to_use}`;
      });
      await create('CreateVolume pvc-restored from snap-a', 'pvc-restored', 1 * GiB, 'ext4', {
        snapshot: { snapshot_id: snapshotId },
      });
      await steps.run('how pvc-restored was copied', async () =>
        describeCopySource(driver!, vols.get('pvc-restored')?.id ?? ''),
      );
      await attach('pvc-restored');
      if (!noNode)
        await steps.run('check data on pvc-restored', async () =>
          checkFile(join(vols.get('pvc-restored')!.target!, 'data.bin'), digest),
        );

      // 3. A clone, with the array's copy task followed live.
      await steps.run('CreateVolume pvc-clone (clone of pvc-a)', async () => {
        const res = await csi.call<{ volume: { volume_id: string; volume_context: Record<string, string> } }>(
          'CreateVolume',
          {
            name: 'pvc-clone',
            capacity_range: { required_bytes: String(1 * GiB) },
            volume_capabilities: [mountCap('ext4')],
            parameters: {},
            volume_content_source: { volume: { volume_id: vols.get('pvc-a')!.id } },
          },
        );
        vols.set('pvc-clone', { id: res.volume.volume_id, context: res.volume.volume_context, fsType: 'ext4' });
        return `${res.volume.volume_id}: usable at once (online physical copy)`;
      });
      await steps.run('copy task of pvc-clone', async () =>
        followCopy(driver!, vols.get('pvc-clone')?.id ?? '', () => interrupted),
      );
      await attach('pvc-clone');
      if (!noNode)
        await steps.run('check data on pvc-clone', async () =>
          checkFile(join(vols.get('pvc-clone')!.target!, 'data.bin'), digest),
        );

      // 4. Growing an xfs volume online.
      await create('CreateVolume pvc-xfs', 'pvc-xfs', 512 * MiB, 'xfs');
      if (noXfs && !noNode) {
        steps.skip('stage pvc-xfs', noXfs);
      } else await attach('pvc-xfs');
      await steps.run('ControllerExpandVolume pvc-xfs to 1 GiB', async () => {
        const xfsId = vols.get('pvc-xfs')?.id;
        if (!xfsId) throw new Error('pvc-xfs was not created');
        const res = await csi.call<{ capacity_bytes: string; node_expansion_required: boolean }>(
          'ControllerExpandVolume',
          { volume_id: xfsId, capacity_range: { required_bytes: String(1 * GiB) }, volume_capability: mountCap('xfs') },
        );
        return `${Number(res.capacity_bytes) / MiB} MiB on the array, node expansion required: ${res.node_expansion_required}`;
      });
      const xfs = vols.get('pvc-xfs');
      if (xfs?.target) {
        await steps.run('NodeExpandVolume pvc-xfs (xfs_growfs, online)', async () => {
          const res = await csi.call<{ capacity_bytes: string }>('NodeExpandVolume', {
            volume_id: xfs.id,
            volume_path: xfs.target,
            staging_target_path: xfs.staging,
            capacity_range: { required_bytes: String(1 * GiB) },
            volume_capability: mountCap('xfs'),
          });
          return `filesystem grown, device ${Number(res.capacity_bytes) / MiB} MiB`;
        });
        await steps.run('NodeGetVolumeStats pvc-xfs', async () => {
          const res = await csi.call<{
            usage: { total: string; available: string; unit: string }[];
            volume_condition: { abnormal: boolean; message: string };
          }>('NodeGetVolumeStats', { volume_id: xfs.id, volume_path: xfs.target });
          const bytes = res.usage.find((u) => u.unit === 'BYTES')!;
          const inodes = res.usage.find((u) => u.unit === 'INODES');
          return `${(Number(bytes.total) / MiB).toFixed(0)} MiB total, ${(Number(bytes.available) / MiB).toFixed(0)} MiB free, ${inodes?.total ?? '?'} inodes; condition ${res.volume_condition.abnormal ? 'ABNORMAL' : 'normal'}`;
        });
      } else steps.skip('NodeExpandVolume + NodeGetVolumeStats pvc-xfs', noXfs ?? 'not staged');

      // 5. A crash-consistent snapshot of two volumes at one point in time (one VV-set snapshot).
      await steps.run('CreateVolumeGroupSnapshot of pvc-a and pvc-xfs', async () => {
        const sources = ['pvc-a', 'pvc-xfs'].map((n) => vols.get(n)?.id ?? `sim/missing-${n}`);
        const res = await csi.call<{ group_snapshot: GroupSnapshot }>('CreateVolumeGroupSnapshot', {
          name: 'group-a-xfs',
          source_volume_ids: sources,
          parameters: {},
        });
        group = res.group_snapshot;
        return `${group.group_snapshot_id}: ${group.snapshots.map((m) => `${m.snapshot_id} of ${m.source_volume_id}`).join(', ')}; ready_to_use ${group.ready_to_use}`;
      });
    } catch (err) {
      // Whatever went wrong, the teardown below still runs.
      await steps.run('lifecycle', async () => {
        throw err;
      });
      steps.interrupt('skipped: an unexpected error stopped the lifecycle');
    }

    // 6. Teardown, then an audit of the array.
    for (const name of ['pvc-xfs', 'pvc-clone', 'pvc-restored', 'pvc-a']) await detach(name);
    if (group) {
      const g = group;
      await steps.run(
        'DeleteVolumeGroupSnapshot group-a-xfs',
        async () =>
          void (await csi.call('DeleteVolumeGroupSnapshot', {
            group_snapshot_id: g.group_snapshot_id,
            snapshot_ids: g.snapshots.map((m) => m.snapshot_id),
          })),
        { always: true },
      );
    }
    const deleteVolume = async (name: string): Promise<void> => {
      const id = vols.get(name)?.id;
      if (id)
        await steps.run(`DeleteVolume ${name}`, async () => void (await csi.call('DeleteVolume', { volume_id: id })), {
          always: true,
        });
    };
    // Copies first (deleting one cancels a copy still running), then the snapshot, then its source.
    for (const name of ['pvc-clone', 'pvc-restored', 'pvc-xfs']) await deleteVolume(name);
    if (snapshotId)
      await steps.run(
        'DeleteSnapshot snap-a',
        async () => void (await csi.call('DeleteSnapshot', { snapshot_id: snapshotId })),
        { always: true },
      );
    await deleteVolume('pvc-a');
    await steps.run('the array holds nothing left over', async () => auditArray(driver!), { always: true });

    process.stdout.write(`\n${steps.table()}\n\n`);
    const skipped = steps.results.filter((r) => r.status === 'skipped').length;
    const ok = steps.results.filter((r) => r.status === 'ok').length;
    process.stdout.write(`${ok} steps OK, ${steps.failed} failed, ${skipped} skipped.\n`);
    if (options.printMetrics)
      process.stdout.write(`\n${bold("The driver's /metrics after the run")}\n${await metrics.registry.metrics()}`);
    return steps.failed > 0 ? 1 : interrupted ? 130 : 0;
  } finally {
    if (onInterrupt) {
      process.removeListener('SIGINT', onInterrupt);
      process.removeListener('SIGTERM', onInterrupt);
    }
    process.stdout.removeListener('error', ignoreEpipe);
    client?.close();
    await driver?.stop(5000);
    removeWorkDir(work);
  }
}

function checkFile(path: string, digest: string): string {
  const got = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (got !== digest)
    throw new Error(`data.bin differs: sha256 ${got.slice(0, 16)}… instead of ${digest.slice(0, 16)}…`);
  return `data.bin intact (sha256 ${digest.slice(0, 16)}…)`;
}

/** Follows the array's copy task for a volume until it ends, drawing a progress bar. */
async function followCopy(driver: RunningDriver, volumeId: string, stop: () => boolean): Promise<string> {
  const sim = driver.simulator!;
  const arrayName = volumeId.slice(volumeId.indexOf('/') + 1);
  const vol = sim.array.volume(arrayName);
  if (!vol) throw new Error(`${arrayName} is not on the array`);
  const task = sim.array.state.tasks.filter((t) => t.destId === vol.id).at(-1);
  if (!task) return 'the copy had already finished';
  const started = Date.now();
  const tty = process.stdout.isTTY === true;
  let lastPrinted = -1;
  while (task.status === 2 && !stop()) {
    const fraction = task.totalMiB > 0 ? task.doneMiB / task.totalMiB : 0;
    const bucket = Math.floor(fraction * 4);
    if (tty)
      process.stdout.write(
        `\r    task ${task.id} ${progressBar(fraction)} ${Math.floor(task.doneMiB)}/${task.totalMiB} MiB`,
      );
    else if (bucket !== lastPrinted)
      process.stdout.write(
        `    task ${task.id} ${progressBar(fraction)} ${Math.floor(task.doneMiB)}/${task.totalMiB} MiB\n`,
      );
    lastPrinted = bucket;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (tty)
    process.stdout.write(
      `\r    task ${task.id} ${progressBar(task.status === 1 ? 1 : task.doneMiB / Math.max(1, task.totalMiB))} ${Math.floor(task.doneMiB)}/${task.totalMiB} MiB\n`,
    );
  if (task.status === 2)
    return `left running: interrupted at ${Math.floor(task.doneMiB)}/${task.totalMiB} MiB (DeleteVolume cancels it)`;
  if (task.status !== 1) throw new Error(`copy task ${task.id} ended with status ${task.status}`);
  return `task ${task.id} copied ${task.totalMiB} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/**
 * A read-only snapshot is no physical-copy parent on a real array (403
 * INV_OPERATION_VV_READONLY_SNAPSHOT): the driver copies through a temporary read-write child
 * with an expiration, removed once the copy ended (at the latest with the volume or snapshot).
 */
function describeCopySource(driver: RunningDriver, volumeId: string): string {
  const a = driver.simulator!.array;
  const dest = volumeId.split('/')[1] ?? '';
  const child = a.volume(copySourceNameFor(dest));
  if (!child) throw new Error(`no temporary copy source of ${dest} on the array`);
  const parent = a.volumeById(child.parentId ?? -1);
  const expires =
    child.expirationTimeSec === undefined
      ? 'no expiration'
      : `expires ${new Date(child.expirationTimeSec * 1000).toISOString()}`;
  return `through ${child.name}, a ${child.readOnly ? 'read-only' : 'read-write'} child of read-only ${parent?.name ?? '?'} (${expires}); the array refuses a read-only snapshot as copy parent`;
}

/** Nothing of the demo may remain on the array: volumes, VLUNs, hosts, running tasks. */
function auditArray(driver: RunningDriver): string {
  const s = driver.simulator!.array.state;
  const left = [
    ...s.volumes.map((v) => `volume ${v.name}`),
    ...s.vluns.map((v) => `VLUN lun ${v.lun}`),
    ...s.hosts.map((h) => `host ${h.name}`),
    ...s.volumeSets.map((v) => `VV set ${v.name}`),
    ...s.tasks.filter((t) => t.status === 2).map((t) => `running task ${t.id}`),
  ];
  if (left.length > 0) throw new Error(`left on the array: ${left.join(', ')}`);
  return `0 volumes, 0 VLUNs, 0 hosts, 0 VV sets, 0 running tasks (${s.tasks.length} finished tasks in the log)`;
}

/** Removes the demo's work dir, unless something is still mounted inside it (never delete through a mount). */
function removeWorkDir(work: string): void {
  const mounted = parseMountInfo(readFileSync(MOUNTINFO_PATH, 'utf8'))
    .map((m) => m.target)
    .filter((target) => target === work || target.startsWith(`${work}/`));
  if (mounted.length > 0) {
    process.stdout.write(`left ${work} in place: still mounted there: ${mounted.join(', ')}\n`);
    return;
  }
  rmSync(work, { recursive: true, force: true });
}
