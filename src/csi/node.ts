import { stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { invalidArgument, notFound, failedPrecondition, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { InFlight } from '../util/inflight.js';
import type { Connector, Protocol } from '../host/connector.js';
import { DEFAULT_DISCOVERY, type DiscoveryTimings } from '../host/connector.js';
import { hostExec as hostExecOf, type Exec } from '../host/exec.js';
import { FcConnector } from '../host/fc.js';
import { deviceSize, growFs } from '../host/fs.js';
import { readInitiators } from '../host/initiators.js';
import { IscsiConnector } from '../host/iscsi.js';
import { LoopConnector } from '../host/loop.js';
import { Mounter, MOUNTINFO_PATH } from '../host/mounts.js';
import { Multipath, type MultipathMode } from '../host/multipath.js';
import { ScsiVolumes } from '../host/scsi.js';
import { StateStore, type VolumeRecord } from '../host/state.js';
import { Sysfs } from '../host/sysfs.js';
import { KubeletRoot, resolvePath } from '../host/paths.js';
import { topologyKey, type TopologyMode } from './context.js';
import { encodeNodeId } from '../nodeid.js';
import { identityOf, stageVolume, type NodeDeps } from './node-stage.js';
import { unstageVolume } from './node-unstage.js';
import { publishVolume, unpublishVolume } from './node-publish.js';
import {
  validateNodeExpandVolumeRequest,
  validateNodeGetVolumeStatsRequest,
  validateNodePublishVolumeRequest,
  validateNodeStageVolumeRequest,
  validateNodeUnpublishVolumeRequest,
  validateNodeUnstageVolumeRequest,
} from './node-validate.js';
import type { NodeImpl } from './server.js';
import type { NodeGetVolumeStatsResponse } from '../gen/csi/v1/NodeGetVolumeStatsResponse.js';

/** Whether a node plugin reports topology segments: `auto` does when it was given backend ids. */
export function nodeTopology(mode: TopologyMode, backendIds: readonly string[]): boolean {
  return mode !== 'off' && backendIds.length > 0;
}

export interface NodeServiceOptions {
  driverName: string;
  /** Host-name part of the node_id. */
  nodeName: string;
  /** Backends this node reaches: a topology segment each when topology is on. */
  backendIds: string[];
  /** Topology (see TopologyMode); default auto: segments whenever backendIds is not empty. */
  topology?: TopologyMode;
  /** max_volumes_per_node; 0 = no limit. */
  maxVolumesPerNode: number;
  /**
   * The kubelet root: every path a node call touches must resolve below it. State lives under
   * <kubeletDir>/plugins/<driverName>/state/<sha256(volume_id)>.json.
   */
  kubeletDir: string;
  /** Where node records live instead (tests that run two nodes on one kernel and kubelet root). */
  stateDir?: string;
  /** The simulator's data directory, for the loop protocol. */
  simDataDir?: string;
  exec: Exec;
  /** How iscsiadm/multipath/multipathd run: nsenter into the host's namespaces, or directly. */
  hostExec: 'nsenter' | 'direct';
  /** Where /etc/iscsi, /sys and /dev are read (tests: a temp dir); default '/'. */
  hostRoot?: string;
  log: Logger;
  /** `--multipath`: auto (ask multipathd at each stage, the default), on (require it), off. */
  multipath?: MultipathMode;
  /** Device discovery timings (tests shorten them). */
  discovery?: DiscoveryTimings;
  /** The mount table to read (tests may point elsewhere). */
  mountinfoPath?: string;
  /** sysfs access; default <hostRoot>/sys (tests inject one that plays the kernel's part). */
  sysfs?: Sysfs;
}

/** Capabilities the node service implements (CSI NodeGetCapabilities). */
const NODE_CAPABILITIES = ['STAGE_UNSTAGE_VOLUME', 'EXPAND_VOLUME', 'GET_VOLUME_STATS', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER'] as const;

/** statfs errors that mean the mount is there but dead (a lost device, a stale mount). */
const STALE_ERRNOS = new Set(['ENOTCONN', 'EIO', 'ESTALE', 'ENXIO']);

export type NodeService = NodeImpl & {
  /** Reads the node records at start-up (and logs them); tears nothing down. */
  loadState(): Promise<VolumeRecord[]>;
  /** Why node calls cannot work now (the mount table is unreadable), or undefined; for Probe. */
  health(): Promise<string | undefined>;
};

/** Builds the CSI Node service: validate → dedup (per volume) → act → errors mapped by server.ts. */
export function createNodeService(options: NodeServiceOptions): NodeService {
  const hostRoot = options.hostRoot ?? '/';
  const sys = options.sysfs ?? new Sysfs(join(hostRoot, 'sys'));
  const mounter = new Mounter(options.exec, options.mountinfoPath ?? MOUNTINFO_PATH);
  const store = new StateStore(options.kubeletDir, options.driverName, options.stateDir);
  const kubelet = new KubeletRoot(options.kubeletDir, () => mounter.read());
  const timings = options.discovery ?? DEFAULT_DISCOVERY;
  const inflight = new InFlight();
  let deps: NodeDeps | undefined;

  /** Connectors are built on first use. */
  async function getDeps(): Promise<NodeDeps> {
    if (deps) return deps;
    const host = hostExecOf(options.exec, options.hostExec);
    const multipath = new Multipath(host, options.exec, sys, mounter, options.multipath ?? 'auto');
    const scsi = new ScsiVolumes(sys, options.exec, mounter, multipath, timings, join(hostRoot, 'dev'));
    const connectors: Record<Protocol, Connector> = {
      iscsi: new IscsiConnector(host, sys, scsi),
      fc: new FcConnector(sys, scsi),
      loop: new LoopConnector(options.simDataDir, options.exec, sys, mounter),
    };
    deps = { store, mounter, exec: options.exec, sys, connectors };
    return deps;
  }
  const volumeKey = (id: string): string => `volume:${id}`;

  return {
    async loadState() {
      // A save this process's predecessor was killed in the middle of leaves a temp file.
      await store.removeStaleTemps();
      const { records, unreadable } = await store.list();
      options.log.info({ volumes: records.map((r) => r.volumeId), unreadable }, 'node state read; nothing is torn down at start-up');
      return records;
    },

    async health() {
      // Without the mount table every node call fails (and unmount checks are blind): not ready.
      try {
        await mounter.read();
        return undefined;
      } catch (err) {
        return `the mount table (${options.mountinfoPath ?? MOUNTINFO_PATH}) cannot be read: ${(err as Error).message}`;
      }
    },

    async NodeGetInfo() {
      const initiators = await readInitiators(hostRoot);
      const nodeId = encodeNodeId({ hostName: options.nodeName || hostname(), iqns: initiators.iqns, wwpns: initiators.wwpns });
      // DESIGN "Topology": with topology on, a segment for every backend the node reaches, also
      // for one: the controller's volumes carry a backend segment whatever this node's count.
      const segments = nodeTopology(options.topology ?? 'auto', options.backendIds) ? Object.fromEntries(options.backendIds.map((id) => [topologyKey(options.driverName, id), 'true'])) : undefined;
      return {
        node_id: nodeId,
        max_volumes_per_node: options.maxVolumesPerNode,
        accessible_topology: segments ? { segments } : null,
      };
    },

    async NodeGetCapabilities() {
      return { capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) };
    },

    async NodeStageVolume(req, ctx) {
      const r = validateNodeStageVolumeRequest(req);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path');
      const d = await getDeps();
      await inflight.run([volumeKey(r.volumeId)], () => stageVolume(d, r, ctx));
      return {};
    },

    async NodeUnstageVolume(req, ctx) {
      const r = validateNodeUnstageVolumeRequest(req);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path');
      const d = await getDeps();
      await inflight.run([volumeKey(r.volumeId)], () => unstageVolume(d, r.volumeId, r.stagingPath, ctx));
      return {};
    },

    async NodePublishVolume(req, ctx) {
      const r = validateNodePublishVolumeRequest(req);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path');
      r.targetPath = await kubelet.resolve(r.targetPath, 'target_path');
      // The staging path is the volume's own mount: publishing "there" would bind nothing.
      if (r.targetPath === r.stagingPath) throw invalidArgument(`target_path ${req.target_path} is the staging path; kubelet passes a separate path per pod`);
      const d = await getDeps();
      await inflight.run([volumeKey(r.volumeId)], () => publishVolume(d, r, ctx));
      return {};
    },

    async NodeUnpublishVolume(req, ctx) {
      const r = validateNodeUnpublishVolumeRequest(req);
      r.targetPath = await kubelet.resolve(r.targetPath, 'target_path');
      const d = await getDeps();
      await inflight.run([volumeKey(r.volumeId)], () => unpublishVolume(d, r.volumeId, r.targetPath, ctx));
      return {};
    },

    async NodeExpandVolume(req, ctx) {
      const r = validateNodeExpandVolumeRequest(req);
      const d = await getDeps();
      return inflight.run([volumeKey(r.volumeId)], async () => {
        const rec = await store.load(r.volumeId);
        if (!rec?.steps.attached) throw notFound(`volume ${r.volumeId} is not staged on this node`);
        await requireOwnPath(rec, r.volumePath);
        const connector = d.connectors[rec.protocol];
        await connector.rescan(identityOf(rec), ctx);
        const device = await connector.find(identityOf(rec), ctx);
        if (!device) throw failedPrecondition(`the device of volume ${r.volumeId} is gone; stage it again`);
        const size = await deviceSize(options.exec, device.path, ctx.signal);
        if (size < r.requiredBytes) throw unavailable(`the device of volume ${r.volumeId} still reports ${size} bytes, less than ${r.requiredBytes}; retry after the array's resize is visible`);
        if ((r.access ?? rec.access) === 'mount') {
          if (rec.readOnly) throw failedPrecondition(`volume ${r.volumeId} is staged read-only; its filesystem cannot grow here`);
          // The filesystem mounted at the staging path says what to grow (never a guessed type).
          const mounted = await mounter.at(rec.stagingPath);
          if (!mounted) throw failedPrecondition(`volume ${r.volumeId} is not mounted at ${rec.stagingPath}; stage it again`);
          await growFs(options.exec, mounted.fsType, device.path, rec.stagingPath);
          ctx.log.info({ bytes: size.toString() }, 'filesystem grown');
        }
        return { capacity_bytes: size.toString() };
      });
    },

    async NodeGetVolumeStats(req, ctx) {
      const r = validateNodeGetVolumeStatsRequest(req);
      // CSI NodeGetVolumeStats: a volume that does not exist on volume_path → NOT_FOUND.
      const rec = await store.load(r.volumeId);
      if (!rec) throw notFound(`volume ${r.volumeId} is not staged on this node`);
      await requireOwnPath(rec, r.volumePath);
      return volumeStats(r.volumePath, ctx.signal);
    },
  };

  /** volume_path must be where this volume is staged or published (per its record); else NOT_FOUND. */
  async function requireOwnPath(rec: VolumeRecord, volumePath: string): Promise<void> {
    // Records hold resolved paths; a caller may name one through a symlink.
    const want = isAbsolute(volumePath) && !volumePath.split('/').includes('..') ? await resolvePath(resolve(volumePath), 'volume_path').catch(() => undefined) : undefined;
    const own = [rec.stagingPath, ...rec.publishes.map((p) => p.targetPath)].map((p) => resolve(p));
    if (want === undefined || !own.includes(want)) throw notFound(`volume ${rec.volumeId} is not staged or published at ${volumePath}`);
  }

  /** Usage from statfs (filesystem) or blockdev (raw block) only: never an array call. */
  async function volumeStats(path: string, signal: AbortSignal): Promise<NodeGetVolumeStatsResponse> {
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`${path} does not exist`);
      if (STALE_ERRNOS.has((err as NodeJS.ErrnoException).code ?? '')) return abnormal(`${path} is stale: ${(err as Error).message}`);
      throw err;
    }
    const mount = await mounter.at(path);
    if (st.isBlockDevice()) {
      if (!mount) return abnormal(`${path} is not published`);
      const total = await deviceSize(options.exec, path, signal);
      return { usage: [{ unit: 'BYTES', total: total.toString() }], volume_condition: { abnormal: false, message: 'ok' } };
    }
    if (!st.isDirectory()) throw invalidArgument(`${path} is neither a directory nor a block device`);
    if (!mount) return abnormal(`${path} is not mounted`);
    let fs;
    try {
      fs = await statfs(path, { bigint: true });
    } catch (err) {
      if (STALE_ERRNOS.has((err as NodeJS.ErrnoException).code ?? '')) return abnormal(`the filesystem at ${path} does not answer: ${(err as Error).message}`);
      throw err;
    }
    const usage = [
      { unit: 'BYTES' as const, total: (fs.blocks * fs.bsize).toString(), available: (fs.bavail * fs.bsize).toString(), used: ((fs.blocks - fs.bfree) * fs.bsize).toString() },
      { unit: 'INODES' as const, total: fs.files.toString(), available: fs.ffree.toString(), used: (fs.files - fs.ffree).toString() },
    ];
    // The filesystem went read-only under a read-write mount (ext4 errors=remount-ro, an xfs
    // shutdown); a read-only mount or bind shows "ro" in its own options instead.
    // (ext4 on recent kernels reports the latter as "emergency_ro" in the superblock options.)
    const superRo = mount.superOptions.includes('ro') || mount.superOptions.includes('emergency_ro');
    if (superRo && mount.mountOptions.includes('rw')) {
      return { usage, volume_condition: { abnormal: true, message: `the filesystem at ${path} went read-only; check the node's kernel log` } };
    }
    return { usage, volume_condition: { abnormal: false, message: 'ok' } };
  }
}

function abnormal(message: string): NodeGetVolumeStatsResponse {
  return { usage: [], volume_condition: { abnormal: true, message } };
}
