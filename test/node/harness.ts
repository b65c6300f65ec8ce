/**
 * Shared set-up for the node tests: a temporary simulator data directory holding sparse
 * backing files and `exports/<WWN>` links (the simulator's data-plane contract, made by hand),
 * node services on real loop devices, and a clean-up that removes every mount and loop device
 * under the temporary directory even when a test failed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  openSync,
  closeSync,
  ftruncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { createNodeService, type NodeService, type NodeServiceOptions } from '../../src/csi/node.js';
import { spawnExec, type Exec } from '../../src/host/exec.js';
import type { CallContext } from '../../src/csi/server.js';
import { parseMountInfo } from '../../src/host/mounts.js';
import { detachLoopsUnder, unmountUnder } from '../helpers/host.js';
import type {
  VolumeCapability__Output,
  _csi_v1_VolumeCapability_AccessMode_Mode__Output,
} from '../../src/gen/csi/v1/VolumeCapability.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';
import type { NodePublishVolumeRequest__Output } from '../../src/gen/csi/v1/NodePublishVolumeRequest.js';

/** Why the node tests cannot run here, or undefined when they can. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'node tests need root (losetup, mkfs, mount)';
  if (!existsSync('/dev/loop-control')) return 'node tests need loop devices (/dev/loop-control is missing)';
  for (const tool of ['losetup', 'mkfs.ext4', 'mkfs.xfs', 'blkid', 'blockdev', 'resize2fs', 'xfs_growfs']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `node tests need ${tool} (install e2fsprogs and xfsprogs)`;
    }
  }
  return undefined;
}

/** CapEff bit 24 (CAP_SYS_RESOURCE): the kernel's online ext4 resize needs it. */
export function hasCapSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}

export const DRIVER = 'csi.3par.test';
export const MiB = 1024 * 1024;

export interface TestVolume {
  name: string;
  wwn: string;
  file: string;
}

export class NodeHarness {
  readonly base: string;
  readonly simDataDir: string;
  readonly log = createLogger({ level: (process.env['TEST_LOG_LEVEL'] as 'info' | undefined) ?? 'silent' });

  constructor() {
    this.base = mkdtempSync(join(tmpdir(), '3par-node-'));
    this.simDataDir = join(this.base, 'sim');
    mkdirSync(join(this.simDataDir, 'exports'), { recursive: true });
    mkdirSync(join(this.simDataDir, 'volumes'), { recursive: true });
  }

  /** A sparse backing file and its exports link: what the simulator does at the first VLUN. */
  volume(name: string, sizeMiB: number): TestVolume {
    const wwn = `60002AC0${randomBytes(12).toString('hex').toUpperCase()}`;
    const file = join(this.simDataDir, 'volumes', `${name}.img`);
    const fd = openSync(file, 'w');
    ftruncateSync(fd, sizeMiB * MiB);
    closeSync(fd);
    symlinkSync(file, join(this.simDataDir, 'exports', wwn));
    return { name, wwn, file };
  }

  /** Grows a volume's backing file, as the simulator does on a volume grow. */
  grow(v: TestVolume, sizeMiB: number): void {
    const fd = openSync(v.file, 'r+');
    ftruncateSync(fd, sizeMiB * MiB);
    closeSync(fd);
  }

  node(name = 'node-a', extra: Partial<NodeServiceOptions> = {}): NodeService {
    return createNodeService({
      driverName: DRIVER,
      nodeName: name,
      backendIds: [],
      maxVolumesPerNode: 0,
      // Staging and target paths live anywhere under the base directory, the kubelet root of
      // every test node; each node keeps its own records (two nodes share one kernel here).
      kubeletDir: this.base,
      stateDir: join(this.base, `kubelet-${name}`, 'plugins', DRIVER, 'state'),
      simDataDir: this.simDataDir,
      exec: spawnExec,
      hostExec: 'direct',
      log: this.log,
      ...extra,
    });
  }

  path(...parts: string[]): string {
    return join(this.base, ...parts);
  }

  ctx(): CallContext {
    return { rpc: 'test', log: this.log, signal: new AbortController().signal };
  }

  /** Loop devices whose backing file is `file`. */
  loopsOf(file: string): string[] {
    return readdirSync('/sys/block')
      .filter((n) => /^loop\d+$/.test(n))
      .filter((n) => {
        try {
          return readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim() === file;
        } catch {
          return false;
        }
      });
  }

  isMounted(path: string): boolean {
    return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.target === path);
  }

  /** Per-mount options of the topmost mount at `path`. */
  mountOptions(path: string): string[] {
    const all = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.target === path);
    return all[all.length - 1]?.mountOptions ?? [];
  }

  /** Unmounts everything under the base directory and detaches every loop device of its files. */
  cleanup(): void {
    unmountUnder(this.base);
    detachLoopsUnder(this.base);
    rmSync(this.base, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** sha256 of a whole backing file (coreutils' sha256sum: several times faster than a Node stream). */
export async function sha256File(file: string): Promise<string> {
  const { stdout } = await spawnExec('sha256sum', [file], { timeoutMs: 60_000 });
  return stdout.split(' ')[0]!;
}

/** An Exec that passes through to the real one except where `override` answers. */
export function interceptExec(
  override: (
    command: string,
    args: readonly string[],
  ) => Promise<{ code: number; stdout: string; stderr: string }> | undefined,
): Exec {
  return (command, args, options) => override(command, args) ?? spawnExec(command, args, options);
}

export type Mode = _csi_v1_VolumeCapability_AccessMode_Mode__Output;

export function mountCap(
  fsType: string,
  mode: Mode = 'SINGLE_NODE_WRITER',
  mountFlags: string[] = [],
): VolumeCapability__Output {
  return {
    mount: { fs_type: fsType, mount_flags: mountFlags, volume_mount_group: '' },
    access_mode: { mode },
    access_type: 'mount',
  };
}

export function blockCap(mode: Mode = 'SINGLE_NODE_WRITER'): VolumeCapability__Output {
  return { block: {}, access_mode: { mode }, access_type: 'block' };
}

export interface StageOpts {
  cap: VolumeCapability__Output;
  readonly?: boolean;
  createdEmpty?: boolean;
  isCopy?: boolean;
  volumeContext?: Record<string, string>;
}

export function stageReq(v: TestVolume, stagingPath: string, o: StageOpts): NodeStageVolumeRequest__Output {
  const publish: Record<string, string> = { protocol: 'loop', wwn: v.wwn, lun: '0' };
  if (o.readonly) publish['readonly'] = 'true';
  const vc: Record<string, string> = { ...(o.volumeContext ?? {}) };
  if (o.createdEmpty ?? true) vc['createdEmpty'] = 'true';
  if (o.isCopy) vc['isCopy'] = 'true';
  return {
    volume_id: `sim/${v.name}`,
    publish_context: publish,
    staging_target_path: stagingPath,
    volume_capability: o.cap,
    secrets: {},
    volume_context: vc,
  };
}

export function publishReq(
  v: TestVolume,
  stagingPath: string,
  targetPath: string,
  cap: VolumeCapability__Output,
  readonly = false,
): NodePublishVolumeRequest__Output {
  return {
    volume_id: `sim/${v.name}`,
    publish_context: { protocol: 'loop', wwn: v.wwn, lun: '0' },
    staging_target_path: stagingPath,
    target_path: targetPath,
    volume_capability: cap,
    readonly,
    secrets: {},
    volume_context: {},
  };
}
