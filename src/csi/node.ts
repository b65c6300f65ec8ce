import { hostname } from 'node:os';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import { InFlight } from '../util/inflight.js';
import type { Connector, Protocol } from '../host/connector.js';
import { DEFAULT_DISCOVERY, type DiscoveryTimings } from '../host/connector.js';
import { hostExec as hostExecOf, type Exec } from '../host/exec.js';
import { FcConnector } from '../host/fc.js';
import { readInitiators } from '../host/initiators.js';
import { IscsiConnector } from '../host/iscsi.js';
import { LoopConnector } from '../host/loop.js';
import { Mounter, MOUNTINFO_PATH } from '../host/mounts.js';
import { Multipath, type MultipathMode } from '../host/multipath.js';
import { ScsiVolumes } from '../host/scsi.js';
import { StateStore, type VolumeRecord } from '../host/state.js';
import { Sysfs } from '../host/sysfs.js';
import { KubeletRoot } from '../host/paths.js';
import { topologyKey, type TopologyMode } from './context.js';
import { encodeNodeId } from '../nodeid.js';
import { stageVolume, type NodeDeps, type StepOptions } from './node-stage.js';
import { expandVolume } from './node-expand.js';
import { volumeStats } from './node-stats.js';
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
import type { CallContext, NodeImpl } from './server.js';
import type { NodeGetInfoResponse } from '../gen/csi/v1/NodeGetInfoResponse.js';

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
  /** mount/umount and the mount table; default one over `exec` and `mountinfoPath` (tests count its reads). */
  mounter?: Mounter;
  /** sysfs access; default <hostRoot>/sys (tests inject one that plays the kernel's part). */
  sysfs?: Sysfs;
}

/** Capabilities the node service implements (CSI NodeGetCapabilities). */
const NODE_CAPABILITIES = [
  'STAGE_UNSTAGE_VOLUME',
  'EXPAND_VOLUME',
  'GET_VOLUME_STATS',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
] as const;

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
  const mounter = options.mounter ?? new Mounter(options.exec, options.mountinfoPath ?? MOUNTINFO_PATH);
  const store = new StateStore(options.kubeletDir, options.driverName, options.stateDir);
  const kubelet = new KubeletRoot(options.kubeletDir, mounter);
  const inflight = new InFlight();
  let deps: NodeDeps | undefined;
  /** Connectors are built on first use. */
  const getDeps = (): NodeDeps => (deps ??= nodeDeps(options, sys, mounter, store));
  /** Runs one volume's step under its in-flight key (a duplicate while it runs → ABORTED). */
  const run = <T>(volumeId: string, step: () => Promise<T>): Promise<T> => inflight.run([`volume:${volumeId}`], step);
  /** The step options of one RPC: its log and signal, and its own snapshot of the mount table. */
  const stepOptions = (ctx: CallContext): StepOptions => ({
    log: ctx.log,
    signal: ctx.signal,
    mounts: mounter.snapshot(),
  });

  return {
    loadState: () => loadState(store, options.log),
    health: () => mountTableHealth(mounter, options.mountinfoPath ?? MOUNTINFO_PATH),
    NodeGetInfo: async () => nodeInfo(options),
    NodeGetCapabilities: async () => ({ capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) }),

    async NodeStageVolume(req, ctx) {
      const r = validateNodeStageVolumeRequest(req);
      const o = stepOptions(ctx);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path', o.mounts);
      await run(r.volumeId, () => stageVolume(getDeps(), r, o));
      return {};
    },

    async NodeUnstageVolume(req, ctx) {
      const r = validateNodeUnstageVolumeRequest(req);
      const o = stepOptions(ctx);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path', o.mounts);
      await run(r.volumeId, () => unstageVolume(getDeps(), r.volumeId, r.stagingPath, o));
      return {};
    },

    async NodePublishVolume(req, ctx) {
      const r = validateNodePublishVolumeRequest(req);
      const o = stepOptions(ctx);
      r.stagingPath = await kubelet.resolve(r.stagingPath, 'staging_target_path', o.mounts);
      r.targetPath = await kubelet.resolve(r.targetPath, 'target_path', o.mounts);
      // The staging path is the volume's own mount: publishing "there" would bind nothing.
      if (r.targetPath === r.stagingPath)
        throw invalidArgument(
          `target_path ${req.target_path} is the staging path; kubelet passes a separate path per pod`,
        );
      await run(r.volumeId, () => publishVolume(getDeps(), r, o));
      return {};
    },

    async NodeUnpublishVolume(req, ctx) {
      const r = validateNodeUnpublishVolumeRequest(req);
      const o = stepOptions(ctx);
      r.targetPath = await kubelet.resolve(r.targetPath, 'target_path', o.mounts);
      await run(r.volumeId, () => unpublishVolume(getDeps(), r.volumeId, r.targetPath, o));
      return {};
    },

    async NodeExpandVolume(req, ctx) {
      const r = validateNodeExpandVolumeRequest(req);
      return run(r.volumeId, () => expandVolume(getDeps(), r, stepOptions(ctx)));
    },

    async NodeGetVolumeStats(req, ctx) {
      const r = validateNodeGetVolumeStatsRequest(req);
      return volumeStats({ store, mounter, exec: options.exec }, r.volumeId, r.volumePath, ctx.signal);
    },
  };
}

/** Reads the node records at start-up (and logs them); tears nothing down. */
async function loadState(store: StateStore, log: Logger): Promise<VolumeRecord[]> {
  // A save this process's predecessor was killed in the middle of leaves a temp file.
  await store.removeStaleTemps();
  const { records, unreadable } = await store.list();
  log.info(
    { volumes: records.map((r) => r.volumeId), unreadable },
    'node state read; nothing is torn down at start-up',
  );
  return records;
}

/** Without the mount table every node call fails (and unmount checks are blind): not ready. */
async function mountTableHealth(mounter: Mounter, path: string): Promise<string | undefined> {
  try {
    await mounter.read();
    return undefined;
  } catch (err) {
    return `the mount table (${path}) cannot be read: ${(err as Error).message}`;
  }
}

/** NodeGetInfo: the node_id (host name and initiators) and the topology segments. */
async function nodeInfo(options: NodeServiceOptions): Promise<NodeGetInfoResponse> {
  const initiators = await readInitiators(options.hostRoot ?? '/');
  const nodeId = encodeNodeId({
    hostName: options.nodeName || hostname(),
    iqns: initiators.iqns,
    wwpns: initiators.wwpns,
  });
  // DESIGN "Topology": with topology on, a segment for every backend the node reaches, also
  // for one: the controller's volumes carry a backend segment whatever this node's count.
  const topology = nodeTopology(options.topology ?? 'auto', options.backendIds);
  const segments = Object.fromEntries(options.backendIds.map((id) => [topologyKey(options.driverName, id), 'true']));
  return {
    node_id: nodeId,
    max_volumes_per_node: options.maxVolumesPerNode,
    accessible_topology: topology ? { segments } : null,
  };
}

/** The connectors and what the node steps share. */
function nodeDeps(options: NodeServiceOptions, sys: Sysfs, mounter: Mounter, store: StateStore): NodeDeps {
  const host = hostExecOf(options.exec, options.hostExec);
  const timings = options.discovery ?? DEFAULT_DISCOVERY;
  const multipath = new Multipath(host, options.exec, sys, mounter, options.multipath ?? 'auto');
  const scsi = new ScsiVolumes(sys, options.exec, mounter, multipath, timings, join(options.hostRoot ?? '/', 'dev'));
  const connectors: Record<Protocol, Connector> = {
    iscsi: new IscsiConnector(host, sys, scsi),
    fc: new FcConnector(sys, scsi),
    loop: new LoopConnector(options.simDataDir, options.exec, sys, mounter),
  };
  return { store, mounter, exec: options.exec, sys, connectors };
}
