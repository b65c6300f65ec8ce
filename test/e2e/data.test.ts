/**
 * End-to-end data test (root only): the whole driver with its embedded array, real loop devices,
 * mkfs and mounts. Data written through a mounted volume — flushed and frozen before each
 * snapshot, because an array snapshots only what reached the LUN — must read back intact after
 * snapshot → restore, clone, expand (xfs: online ext4 growth needs CAP_SYS_RESOURCE), unstage →
 * restage, and a restart of the driver (and its array) on the same state file, data directory
 * and kubelet directory; bytes written to a raw block volume must survive snapshot → restore.
 * At the end the array must hold no VLUN, host, volume or running task.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDriver, type ServedDriver } from '../helpers/driver-harness.js';
import type { CsiTestClient } from '../helpers/grpc.js';
import {
  detachLoopsUnder,
  eventually,
  isMounted,
  loopsUnder,
  MiB,
  GiB,
  mountCap,
  nodeSkipReason,
  unmountUnder,
} from '../sanity/harness.js';
import { describeUnless } from '../helpers/skip.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';

const DRIVER = 'csi.3par.e2e.example.com';
const XFS = mountCap('SINGLE_NODE_WRITER', 'xfs');

const skipReason = nodeSkipReason();
const describeRoot = describeUnless(skipReason);

/** The driver process and its clients; restartable on the same state. */
class Rig {
  private baseDir: string | undefined;
  /** Made on first use, so a skipped run (not root) leaves no directory behind. */
  get base(): string {
    return (this.baseDir ??= mkdtempSync(join(tmpdir(), '3par-e2e-')));
  }
  get dataDir(): string {
    return join(this.base, 'array');
  }
  get stateFile(): string {
    return join(this.base, 'array-state.json');
  }
  get kubeletDir(): string {
    return join(this.base, 'kubelet');
  }
  served!: ServedDriver;
  nodeId = '';

  get controller(): CsiTestClient<'Controller'> {
    return this.served.controller;
  }
  get node(): CsiTestClient<'Node'> {
    return this.served.node;
  }

  async start(): Promise<void> {
    this.served = await serveDriver({
      base: this.base,
      driverName: DRIVER,
      simulator: { copyRateMiBps: 2048, tickMs: 10, dataDir: this.dataDir, stateFile: this.stateFile },
      kubeletDir: this.kubeletDir,
      nodeName: 'node-1',
      shutdownGraceMs: 2000,
    });
    this.nodeId = (await this.node.call('NodeGetInfo')).node_id;
  }

  async stop(): Promise<void> {
    await this.served.stop(1000);
  }

  get sim() {
    return this.served.driver.simulator!;
  }

  /** Removes every mount and loop device the test made, even after a failure. */
  async destroy(): Promise<void> {
    if (this.served) return this.served.close(1000).catch(() => undefined);
    unmountUnder(this.base);
    detachLoopsUnder(this.base);
    rmSync(this.base, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** One volume as kubelet sees it: its paths and the requests that attach it. */
interface Attached {
  v: Volume;
  staging: string;
  target: string;
  publishContext: Record<string, string>;
}

const rig = new Rig();
/** Files written so far, per volume name: relative path → sha256. */
const written = new Map<string, Map<string, string>>();

async function createVolume(name: string, extra: Record<string, unknown> = {}): Promise<Volume> {
  return (
    await rig.controller.call('CreateVolume', {
      name,
      volume_capabilities: [XFS],
      capacity_range: { required_bytes: String(512 * MiB) },
      ...extra,
    })
  ).volume!;
}

async function attach(name: string, v: Volume): Promise<Attached> {
  const pub = await rig.controller.call('ControllerPublishVolume', {
    volume_id: v.volume_id,
    node_id: rig.nodeId,
    volume_capability: XFS,
    readonly: false,
    volume_context: v.volume_context,
  });
  const staging = join(rig.kubeletDir, 'plugins', 'kubernetes.io', 'csi', DRIVER, name, 'globalmount');
  const targetParent = join(rig.kubeletDir, 'pods', `pod-${name}`, 'volumes', 'kubernetes.io~csi', name);
  mkdirSync(staging, { recursive: true });
  mkdirSync(targetParent, { recursive: true });
  const a = { v, staging, target: join(targetParent, 'mount'), publishContext: pub.publish_context };
  await stage(a);
  return a;
}

async function stage(a: Attached): Promise<void> {
  await rig.node.call('NodeStageVolume', {
    volume_id: a.v.volume_id,
    staging_target_path: a.staging,
    volume_capability: XFS,
    publish_context: a.publishContext,
    volume_context: a.v.volume_context,
  });
  await rig.node.call('NodePublishVolume', {
    volume_id: a.v.volume_id,
    staging_target_path: a.staging,
    target_path: a.target,
    volume_capability: XFS,
    publish_context: a.publishContext,
    volume_context: a.v.volume_context,
    readonly: false,
  });
  expect(isMounted(a.target)).toBe(true);
}

async function unstage(a: Attached): Promise<void> {
  await rig.node.call('NodeUnpublishVolume', { volume_id: a.v.volume_id, target_path: a.target });
  await rig.node.call('NodeUnstageVolume', { volume_id: a.v.volume_id, staging_target_path: a.staging });
  expect(isMounted(a.staging)).toBe(false);
}

async function detach(a: Attached): Promise<void> {
  await unstage(a);
  await rig.controller.call('ControllerUnpublishVolume', { volume_id: a.v.volume_id, node_id: rig.nodeId });
}

/** Writes `bytes` of random data to `file` under the volume's mount and remembers its digest. */
function write(a: Attached, key: string, file: string, bytes: number): void {
  const data = randomBytes(bytes);
  writeFileSync(join(a.target, file), data);
  const files = written.get(key) ?? new Map<string, string>();
  files.set(file, createHash('sha256').update(data).digest('hex'));
  written.set(key, files);
}

/** Every file `key` holds is present with its digest. */
function expectFiles(a: Attached, files: Map<string, string>): void {
  for (const [file, digest] of files) {
    const path = join(a.target, file);
    expect({ file, present: existsSync(path) }).toEqual({ file, present: true });
    expect({ file, digest: createHash('sha256').update(readFileSync(path)).digest('hex') }).toEqual({ file, digest });
  }
}

/** What a user must do before a snapshot: push dirty pages to the LUN and hold writes. */
async function quiesced<T>(a: Attached, fn: () => Promise<T>): Promise<T> {
  execFileSync('sync', ['-f', a.target]);
  execFileSync('fsfreeze', ['--freeze', a.staging]);
  try {
    return await fn();
  } finally {
    execFileSync('fsfreeze', ['--unfreeze', a.staging]);
  }
}

const copy = (m: Map<string, string> | undefined) => new Map(m ?? []);
const activeTasks = () => rig.sim.array.tasks.filter((t) => t.status === 2).length;

describeRoot('data survives snapshot, restore, clone, expand, restage and a driver restart (root)', () => {
  let src: Attached;
  let snapshotId = '';
  let atSnapshot = new Map<string, string>();
  const others: Attached[] = [];

  beforeAll(async () => {
    await rig.start();
  });
  afterAll(async () => {
    await rig.destroy();
  });

  test('write to a new xfs volume through its mount', async () => {
    const v = await createVolume('e2e-source');
    src = await attach('e2e-source', v);
    write(src, 'source', 'small.txt', 5);
    write(src, 'source', 'random-8m.bin', 8 * MiB);
    mkdirSync(join(src.target, 'dir'));
    write(src, 'source', 'dir/nested.bin', 64 * 1024);
    expectFiles(src, written.get('source')!);
  });

  test('snapshot (flushed and frozen) → restore: the restored volume holds exactly the data at snapshot time', async () => {
    atSnapshot = copy(written.get('source'));
    const snap = await quiesced(src, () =>
      rig.controller.call('CreateSnapshot', { name: 'e2e-snap', source_volume_id: src.v.volume_id }),
    );
    expect(snap.snapshot!.ready_to_use).toBe(true);
    snapshotId = snap.snapshot!.snapshot_id;
    // Written after the snapshot: must not appear in the restore.
    write(src, 'source', 'after-snapshot.bin', MiB);

    const restored = await createVolume('e2e-restored', {
      volume_content_source: { snapshot: { snapshot_id: snapshotId } },
    });
    const r = await attach('e2e-restored', restored);
    others.push(r);
    expectFiles(r, atSnapshot);
    expect(existsSync(join(r.target, 'after-snapshot.bin'))).toBe(false);
    // The restore is a volume of its own: writing to it leaves the source alone.
    writeFileSync(join(r.target, 'only-in-restore.txt'), 'r');
    expect(existsSync(join(src.target, 'only-in-restore.txt'))).toBe(false);
  });

  test('clone of the live volume (flushed and frozen): every file, including those written after the snapshot', async () => {
    const clone = await quiesced(src, () =>
      createVolume('e2e-clone', { volume_content_source: { volume: { volume_id: src.v.volume_id } } }),
    );
    const c = await attach('e2e-clone', clone);
    others.push(c);
    expectFiles(c, written.get('source')!);
  });

  test('expand (xfs, online): ControllerExpand + NodeExpand grow the mounted filesystem; the data stays and the new space is usable', async () => {
    const before = statfsSync(src.target);
    const grown = await rig.controller.call('ControllerExpandVolume', {
      volume_id: src.v.volume_id,
      capacity_range: { required_bytes: String(GiB) },
      volume_capability: XFS,
    });
    expect(Number(grown.capacity_bytes)).toBeGreaterThanOrEqual(GiB);
    expect(grown.node_expansion_required).toBe(true);
    await rig.node.call('NodeExpandVolume', {
      volume_id: src.v.volume_id,
      volume_path: src.target,
      staging_target_path: src.staging,
      capacity_range: { required_bytes: grown.capacity_bytes },
      volume_capability: XFS,
    });
    const after = statfsSync(src.target);
    expect(after.blocks * after.bsize).toBeGreaterThan(before.blocks * before.bsize + 400 * MiB);
    expectFiles(src, written.get('source')!);
    // More than the old filesystem could have held (allocated, not written: fast, and the
    // array's sparse copies stay small).
    execFileSync('fallocate', ['-l', String(520 * MiB), join(src.target, 'big-520m.bin')]);
    expect(statSync(join(src.target, 'big-520m.bin')).blocks * 512).toBeGreaterThanOrEqual(520 * MiB);
    write(src, 'source', 'after-expand.bin', MiB);
    expectFiles(src, written.get('source')!);
  });

  test('unstage → restage: the data is there after the device was detached and attached again', async () => {
    execFileSync('sync', ['-f', src.target]);
    await unstage(src);
    expect(loopsUnder(rig.dataDir).length).toBe(others.length);
    await stage(src);
    expectFiles(src, written.get('source')!);
  });

  test('driver restart (same array state file, data directory and kubelet directory): mounts keep serving, and the new process unpublishes, unstages and restages them', async () => {
    execFileSync('sync', ['-f', src.target]);
    const ids = rig.sim.array.volumes.map((v) => v.name).sort();
    await rig.stop();
    await rig.start();
    expect(rig.sim.array.volumes.map((v) => v.name).sort()).toEqual(ids);
    // CreateVolume repeated after the restart finds the same volume (the array's marker is the truth).
    expect((await createVolume('e2e-source')).volume_id).toBe(src.v.volume_id);
    // The node's mounts were never torn down: reads go on while the driver is new.
    expectFiles(src, written.get('source')!);
    write(src, 'source', 'after-restart.bin', MiB);
    execFileSync('sync', ['-f', src.target]);
    // The new process knows every staged volume from its node records.
    await unstage(src);
    await stage(src);
    expectFiles(src, written.get('source')!);
    for (const o of others) {
      await unstage(o);
      await stage(o);
    }
    expectFiles(others[0]!, atSnapshot);
  });

  test('raw block: bytes written at both ends of the device survive snapshot → restore', async () => {
    const cap = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const attachBlock = async (name: string, v: Volume) => {
      const pub = await rig.controller.call('ControllerPublishVolume', {
        volume_id: v.volume_id,
        node_id: rig.nodeId,
        volume_capability: cap,
        volume_context: v.volume_context,
      });
      const staging = join(rig.kubeletDir, 'plugins', 'kubernetes.io', 'csi', DRIVER, name, 'globalmount');
      const parent = join(rig.kubeletDir, 'plugins', 'kubernetes.io', 'csi', 'volumeDevices', 'publish', name);
      mkdirSync(staging, { recursive: true });
      mkdirSync(parent, { recursive: true });
      const target = join(parent, 'pod-uid');
      const common = {
        volume_id: v.volume_id,
        volume_capability: cap,
        publish_context: pub.publish_context,
        volume_context: v.volume_context,
      };
      await rig.node.call('NodeStageVolume', { ...common, staging_target_path: staging });
      await rig.node.call('NodePublishVolume', {
        ...common,
        staging_target_path: staging,
        target_path: target,
        readonly: false,
      });
      expect(statSync(target).isBlockDevice()).toBe(true);
      return {
        target,
        async detach() {
          await rig.node.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: target });
          await rig.node.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: staging });
          await rig.controller.call('ControllerUnpublishVolume', { volume_id: v.volume_id, node_id: rig.nodeId });
          await rig.controller.call('DeleteVolume', { volume_id: v.volume_id });
        },
      };
    };
    const v = (
      await rig.controller.call('CreateVolume', {
        name: 'e2e-block',
        volume_capabilities: [cap],
        capacity_range: { required_bytes: String(256 * MiB) },
      })
    ).volume!;
    const b = await attachBlock('e2e-block', v);
    const size = Number(v.capacity_bytes);
    const head = randomBytes(MiB);
    const tail = randomBytes(MiB);
    const fd = openSync(b.target, 'r+');
    try {
      writeSync(fd, head, 0, head.length, 0);
      writeSync(fd, tail, 0, tail.length, size - tail.length);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const snap = await rig.controller.call('CreateSnapshot', { name: 'e2e-block-snap', source_volume_id: v.volume_id });
    const restored = (
      await rig.controller.call('CreateVolume', {
        name: 'e2e-block-restored',
        volume_capabilities: [cap],
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot!.snapshot_id } },
      })
    ).volume!;
    const r = await attachBlock('e2e-block-restored', restored);
    const rfd = openSync(r.target, 'r');
    try {
      const got = Buffer.alloc(MiB);
      readSync(rfd, got, 0, MiB, 0);
      expect(got.equals(head)).toBe(true);
      // The restore may be larger than its source (no capacity_range: the driver's default):
      // the source's last MiB sits at the same offset.
      expect(Number(restored.capacity_bytes)).toBeGreaterThanOrEqual(size);
      readSync(rfd, got, 0, MiB, size - MiB);
      expect(got.equals(tail)).toBe(true);
    } finally {
      closeSync(rfd);
    }
    await r.detach();
    await rig.controller.call('DeleteSnapshot', { snapshot_id: snap.snapshot!.snapshot_id });
    await b.detach();
  });

  test('teardown: everything unpublished and deleted; the array holds no VLUN, host, volume or running task', async () => {
    for (const a of [src, ...others]) await detach(a);
    expect(loopsUnder(rig.dataDir)).toEqual([]);
    await rig.controller.call('DeleteSnapshot', { snapshot_id: snapshotId });
    await eventually(() => activeTasks() === 0);
    for (const a of [src, ...others]) await rig.controller.call('DeleteVolume', { volume_id: a.v.volume_id });
    const sim = rig.sim;
    expect(sim.array.vluns).toHaveLength(0);
    expect(sim.array.hosts.map((h) => h.name)).toEqual([]);
    expect(sim.array.volumes.map((v) => v.name)).toEqual([]);
    expect(activeTasks()).toBe(0);
  });
});
