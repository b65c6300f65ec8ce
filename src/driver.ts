import { hostname, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { CsiServer, type CsiServices } from './csi/server.js';
import { createIdentity, Readiness } from './csi/identity.js';
import { controllerTopology, createControllerService, type ControllerService } from './csi/controller.js';
import { createNodeService, nodeTopology, type NodeService } from './csi/node.js';
import type { TopologyMode } from './csi/context.js';
import type { MultipathMode } from './host/multipath.js';
import { spawnExec, type Exec } from './host/exec.js';
import type { BackendConfig } from './config/backends.js';
import type { RunningSimulator, SimulatorOptions } from './simulator/index.js';
import { VERSION } from './version.js';

export type DriverMode = 'controller' | 'node' | 'all';

/** The backend id of the embedded simulator (`serve --simulator`). */
export const SIM_BACKEND_ID = 'sim';
/** CPG used by classes that name none on the embedded simulator (one of its default CPGs). */
export const SIM_DEFAULT_CPG = 'SSD_r6';
/** Cluster id used with the embedded simulator when none is given. */
export const SIM_CLUSTER_ID = 'sim-cluster';

/** Everything `serve` needs, already validated by the CLI. */
export interface DriverOptions {
  mode: DriverMode;
  endpoint: string;
  driverName: string;
  /** Required for controller modes (validated by the caller), except with `simulator`. */
  clusterId?: string;
  backends?: BackendConfig[];
  /** Host-name part of the node_id. */
  nodeName?: string;
  /** Node plugin: backends this node reaches (topology). */
  backendIds?: string[];
  /** Topology, shared by the controller and every node plugin (`--topology`; default auto). */
  topology?: TopologyMode;
  /** Node plugin: kubelet root; default /var/lib/kubelet (a temp dir with `simulator`). */
  kubeletDir?: string;
  maxVolumesPerNode?: number;
  hostExec?: 'nsenter' | 'direct';
  /** Node plugin: --multipath auto|on|off. */
  multipath?: MultipathMode;
  /** Node plugin: the simulator's data directory (loop protocol). */
  simDataDir?: string;
  /** Run an embedded simulator as backend `sim` (with its data plane); options for it. */
  simulator?: SimulatorOptions;
  /**
   * Advertise PUBLISH_READONLY (default true: the node enforces read-only staging, and its concurrent-stage test
   * passes).
   */
  publishReadonly?: boolean;
  /** Host command runner for the node plugin (tests); default spawns real processes. */
  exec?: Exec;
  log: Logger;
  metrics?: Metrics;
  /** Milliseconds in-flight calls get to finish on shutdown. */
  shutdownGraceMs?: number;
}

/** A running driver process (or an in-process one, for the demo and tests). */
export interface RunningDriver {
  /** The socket path or host:port served. */
  address: string;
  readiness: Readiness;
  /** The embedded simulator, when `simulator` was given. */
  simulator?: RunningSimulator;
  controller?: ControllerService;
  /** Node state directory (kubelet dir) in use. */
  kubeletDir: string;
  stop(graceMs?: number): Promise<void>;
}

/** Builds the services for the mode, starts the gRPC server, and reports ready. */
export async function startDriver(options: DriverOptions): Promise<RunningDriver> {
  const readiness = new Readiness();
  // No registry unless the caller brings one: prom-client is loaded only where metrics are served.
  const metrics = options.metrics;
  const log = options.log;
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const { simulator, backends, simDataDir, kubeletDir, clusterId } = options.simulator
      ? await startEmbedded(options, options.simulator, cleanups)
      : { ...options, simulator: undefined, kubeletDir: options.kubeletDir ?? '/var/lib/kubelet' };

    const { services, controller, node } = buildServices(options, {
      simulator,
      backends,
      simDataDir,
      kubeletDir,
      clusterId,
      readiness,
      cleanups,
    });
    const server = new CsiServer({ endpoint: options.endpoint, services, log, metrics });
    const address = await server.start();
    let graceMs = options.shutdownGraceMs ?? 30_000;
    cleanups.push(() => server.stop(graceMs));
    // Ready as soon as the socket serves: Probe never waits for an array (DESIGN "Probe").
    readiness.setReady();
    // Array identity is read in the background; an unreachable array shows in backend_up and logs.
    void controller?.start();
    if (node) void node.loadState().catch((err: unknown) => log.warn({ err }, 'could not read node state at start-up'));
    log.info(
      {
        mode: options.mode,
        driver: options.driverName,
        version: VERSION,
        node: options.nodeName ?? hostname(),
        endpoint: address,
      },
      'driver ready',
    );
    return {
      address,
      readiness,
      simulator,
      controller,
      kubeletDir,
      async stop(grace) {
        readiness.setNotReady('shutting down');
        if (grace !== undefined) graceMs = grace;
        await runCleanups(cleanups, log);
      },
    };
  } catch (err) {
    await runCleanups(cleanups, log);
    throw err;
  }
}

/** The services of the mode: the controller's (with their cleanup), the node plugin's, identity. */
function buildServices(
  options: DriverOptions,
  ctx: Partial<Embedded> & { kubeletDir: string; readiness: Readiness; cleanups: (() => Promise<void> | void)[] },
): { services: CsiServices; controller?: ControllerService; node?: NodeService } {
  const { simulator, backends, simDataDir, kubeletDir, clusterId, readiness, cleanups } = ctx;
  const { log, metrics } = options;
  const withController = options.mode !== 'node';
  const withNode = options.mode !== 'controller';
  // One decision for the whole process: a node served with its controller follows it.
  const nodeIds = options.backendIds?.length
    ? options.backendIds
    : withController
      ? (backends ?? []).map((b) => b.id)
      : [];
  const topology = withController
    ? controllerTopology(options.topology ?? 'auto', backends?.length ?? 0)
    : nodeTopology(options.topology ?? 'auto', nodeIds);
  let controller: ControllerService | undefined;
  if (withController) {
    if (!clusterId || !backends || backends.length === 0)
      throw new Error('the controller needs a cluster id and at least one backend');
    controller = createControllerService({
      driverName: options.driverName,
      clusterId,
      backends,
      log,
      metrics,
      publishReadonly: options.publishReadonly ?? true,
      topology: topology ? 'on' : 'off',
      maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
      ...(simulator && withNode && { loopNodes: [options.nodeName ?? hostname()] }),
    });
    const c = controller;
    cleanups.push(() => c.close());
  }
  // A node served with the controller reaches the controller's backends; a node alone
  // knows only its --backend-ids (it has no backends file).
  const node = withNode
    ? createNodeService({
        driverName: options.driverName,
        nodeName: options.nodeName ?? hostname(),
        backendIds: nodeIds,
        topology: topology ? 'on' : 'off',
        maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
        kubeletDir,
        simDataDir,
        exec: options.exec ?? spawnExec,
        hostExec: options.hostExec ?? 'nsenter',
        multipath: options.multipath,
        log,
      })
    : undefined;
  const identity = createIdentity({
    driverName: options.driverName,
    vendorVersion: VERSION,
    controller: withController,
    groupController: withController,
    topology,
    readiness,
    nodeHealth: node?.health,
  });
  const services: CsiServices = {
    identity,
    controller: controller?.service,
    groupController: controller?.groupService,
    node,
  };
  return { services, controller, node };
}

/** What the embedded simulator changes in the options: it is the first backend, and brings temp dirs. */
interface Embedded {
  simulator: RunningSimulator;
  backends: BackendConfig[];
  simDataDir: string;
  kubeletDir: string;
  clusterId: string;
}

/** Starts the embedded simulator (`serve --simulator`) as backend "sim"; its cleanups join the driver's. */
async function startEmbedded(
  options: DriverOptions,
  simOptions: SimulatorOptions,
  cleanups: (() => Promise<void> | void)[],
): Promise<Embedded> {
  const dataDir = simOptions.dataDir ?? mkdtempSync(join(tmpdir(), '3par-sim-'));
  if (!simOptions.dataDir) cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  // Loaded only when asked for: a production driver does not pay for the simulator's modules.
  const { startSimulator } = await import('./simulator/index.js');
  const sim = await startSimulator({ ...simOptions, dataDir });
  cleanups.push(() => sim.close());
  const backends: BackendConfig[] = [
    {
      id: SIM_BACKEND_ID,
      url: sim.url,
      username: sim.username,
      password: sim.password,
      default: true,
      defaultAccessProtocol: 'loop',
      defaultCpg: SIM_DEFAULT_CPG,
      ...(sim.caCert ? { caCert: sim.caCert } : {}),
    },
    ...(options.backends ?? []),
  ];
  let kubeletDir = options.kubeletDir;
  if (!kubeletDir) {
    const dir = mkdtempSync(join(tmpdir(), '3par-kubelet-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    kubeletDir = dir;
  }
  options.log.info({ url: sim.url, username: sim.username, dataDir }, 'embedded simulator started as backend "sim"');
  return {
    simulator: sim,
    backends,
    simDataDir: options.simDataDir ?? dataDir,
    kubeletDir,
    clusterId: options.clusterId ?? SIM_CLUSTER_ID,
  };
}

/** Runs cleanups last-first; one failing does not stop the others. */
async function runCleanups(cleanups: (() => Promise<void> | void)[], log: Logger): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      log.warn({ err }, 'cleanup step failed');
    }
  }
}
