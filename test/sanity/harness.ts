/**
 * Shared set-up of the conformance suite: the whole driver (`startDriver`, mode all) with its
 * embedded simulator as backend "sim", served on a temporary unix socket, and one client per
 * CSI service — the way the sidecars and kubelet reach it. Also: request builders for the
 * shapes the spec describes, a root check for the node steps, the audit of what the array
 * holds, and a clean-up that undoes every mount and loop device even after a failed test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDriver, type DriverOptions, type RunningDriver } from '../../src/driver.js';
import { silentLogger, createLogger } from '../../src/log.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/index.js';
import { CsiTestClient } from '../helpers/grpc.js';
import { detachLoopsUnder, isMounted, loopsUnder, unmountUnder } from '../helpers/host.js';
import { SAFETY_NET_MS, waitFor } from '../helpers/wait.js';

export { detachLoopsUnder, isMounted, loopsUnder, unmountUnder };

export const DRIVER = 'csi.3par.sanity.example.com';
export const NODE = 'node-1';
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
/** Copies finish in a few ticks: the suite tests protocol, not copy speed. */
export const FAST_SIM: SimulatorOptions = { copyRateMiBps: 1_000_000, tickMs: 10 };

export type Obj = Record<string, unknown>;

/** The driver under test and a client per service. */
export interface Sanity {
  driver: RunningDriver;
  sim: RunningSimulator;
  identity: CsiTestClient;
  controller: CsiTestClient;
  node: CsiTestClient;
  /** unix://<socket path> the driver serves. */
  endpoint: string;
  /** A private temp dir (staging and target paths live here). */
  base: string;
  /** Stops the driver (and its simulator); unmounts and detaches what the test left. */
  close(): Promise<void>;
}

/** Starts the full driver on a temp socket with the embedded simulator. */
export async function startSanity(extra: Partial<DriverOptions> = {}, sim: SimulatorOptions = {}): Promise<Sanity> {
  const base = mkdtempSync(join(tmpdir(), '3par-sanity-'));
  const log = process.env['TEST_LOG_LEVEL'] ? createLogger({ level: process.env['TEST_LOG_LEVEL'] as 'debug' }) : silentLogger;
  const driver = await startDriver({
    mode: 'all',
    endpoint: `unix://${join(base, 'csi.sock')}`,
    driverName: DRIVER,
    simulator: { ...FAST_SIM, ...sim },
    hostExec: 'direct',
    log,
    nodeName: NODE,
    kubeletDir: join(base, 'kubelet'),
    shutdownGraceMs: 2000,
    ...extra,
  });
  const endpoint = `unix://${driver.address.replace(/^unix:\/\//, '')}`;
  const clients = [new CsiTestClient('Identity', endpoint), new CsiTestClient('Controller', endpoint), new CsiTestClient('Node', endpoint)] as const;
  return {
    driver,
    sim: driver.simulator!,
    identity: clients[0],
    controller: clients[1],
    node: clients[2],
    endpoint,
    base,
    async close() {
      for (const c of clients) c.close();
      unmountUnder(base);
      const dataDir = driver.simulator?.dataDir;
      await driver.stop(1000);
      if (dataDir) detachLoopsUnder(dataDir);
      detachLoopsUnder(base);
      rmSync(base, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Why the node steps cannot run here, or undefined when they can (root, loop devices, mkfs). */
export function nodeSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'node steps need root (losetup, mkfs, mount)';
  if (!existsSync('/dev/loop-control')) return 'node steps need loop devices (/dev/loop-control is missing)';
  for (const tool of ['losetup', 'mkfs.ext4', 'mkfs.xfs', 'blkid', 'blockdev', 'xfs_growfs']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `node steps need ${tool} (install e2fsprogs and xfsprogs)`;
    }
  }
  return undefined;
}

/** A staging directory as kubelet makes it (the CO creates it; the SP mounts on it). */
export function stagingDir(s: Sanity, name: string): string {
  const dir = join(s.base, 'kubelet', 'plugins', 'kubernetes.io', 'csi', DRIVER, name, 'globalmount');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A target path as kubelet passes it: the parent exists, the SP creates the path itself. */
export function targetPath(s: Sanity, name: string): string {
  const parent = join(s.base, 'kubelet', 'pods', name, 'volumes', 'kubernetes.io~csi', 'pv');
  mkdirSync(parent, { recursive: true });
  return join(parent, 'mount');
}

export const mountCap = (mode = 'SINGLE_NODE_WRITER', fsType = '', mountFlags: string[] = []) => ({ mount: { fs_type: fsType, mount_flags: mountFlags }, access_mode: { mode } });
export const blockCap = (mode = 'SINGLE_NODE_WRITER') => ({ block: {}, access_mode: { mode } });

/** What the array holds that a finished test must not leave behind. */
export interface Leftovers {
  volumes: string[];
  hosts: string[];
  vluns: number;
  activeTasks: number;
}

export function leftovers(sim: RunningSimulator): Leftovers {
  return {
    volumes: sim.array.volumes.map((v) => v.name),
    hosts: sim.array.hosts.map((h) => h.name),
    vluns: sim.array.vluns.length,
    activeTasks: sim.array.tasks.filter((t) => t.status === 2).length,
  };
}

export const NOTHING_LEFT: Leftovers = { volumes: [], hosts: [], vluns: 0, activeTasks: 0 };

/** The array name inside a `<backend>/<arrayName>` id. */
export const arrayName = (id: string): string => id.split('/')[1] ?? '';

/** Polls `fn` until it returns true; the limit only catches a hang (see helpers/wait.ts). */
export async function eventually(fn: () => boolean | Promise<boolean>, safetyNetMs = SAFETY_NET_MS, intervalMs = 50): Promise<void> {
  await waitFor('a condition of the sanity test', fn, { safetyNetMs, intervalMs });
}

/** CapEff bit 24 (CAP_SYS_RESOURCE): the kernel's online ext4 resize needs it. */
export function hasCapSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}
