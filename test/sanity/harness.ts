/**
 * Shared set-up of the conformance suite: the whole driver (helpers/driver-harness.ts, mode all)
 * with its embedded simulator as backend "sim", served on a temporary unix socket, and one client
 * per CSI service — the way the sidecars and kubelet reach it. Also: request builders for the
 * shapes the spec describes, a root check for the node steps, the audit of what the array
 * holds, and a clean-up that undoes every mount and loop device even after a failed test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/index.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';
import { serveDriver, type ServedDriver, type ServeOptions } from '../helpers/driver-harness.js';
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

/** The driver under test (helpers/driver-harness.ts) with its embedded simulator. */
export interface Sanity extends ServedDriver {
  sim: RunningSimulator;
  /** CreateVolume as conformance tools send it (a mount capability, no class parameters) plus `extra`. */
  createVolume(name: string, extra?: Obj): Promise<Volume>;
}

/** Starts the full driver on a temp socket with the embedded simulator. */
export async function startSanity(extra: Partial<ServeOptions> = {}, sim: SimulatorOptions = {}): Promise<Sanity> {
  const served = await serveDriver({
    driverName: DRIVER,
    simulator: { ...FAST_SIM, ...sim },
    nodeName: NODE,
    shutdownGraceMs: 2000,
    ...extra,
  });
  const createVolume = (name: string, extra: Obj = {}) =>
    served.controller
      .call('CreateVolume', { name, volume_capabilities: [mountCap()], ...extra })
      .then((r) => r.volume!);
  return { ...served, sim: served.driver.simulator!, createVolume };
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

export const mountCap = (mode = 'SINGLE_NODE_WRITER', fsType = '', mountFlags: string[] = []) => ({
  mount: { fs_type: fsType, mount_flags: mountFlags },
  access_mode: { mode },
});
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
export async function eventually(
  fn: () => boolean | Promise<boolean>,
  safetyNetMs = SAFETY_NET_MS,
  intervalMs = 50,
): Promise<void> {
  await waitFor('a condition of the sanity test', fn, { safetyNetMs, intervalMs });
}

/** CapEff bit 24 (CAP_SYS_RESOURCE): the kernel's online ext4 resize needs it. */
export function hasCapSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}
