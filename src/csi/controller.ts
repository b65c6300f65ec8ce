import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BackendConfig } from '../config/backends.js';
import { BackendRegistry, type ClientFactory } from '../array/registry.js';
import { InFlight } from '../util/inflight.js';
import { ListingCache } from './listing-cache.js';
import type { ControllerServiceCapability } from '../gen/csi/v1/ControllerServiceCapability.js';
import type { ControllerImpl, GroupControllerImpl } from './server.js';
import type { ControllerDeps } from './controller-deps.js';
import type { TopologyMode } from './context.js';
import { volumeHandlers } from './controller-volumes.js';
import { publishHandlers } from './controller-publish.js';
import { snapshotHandlers } from './controller-snapshots.js';
import { listHandlers } from './controller-list.js';
import { modifyHandlers } from './controller-modify.js';
import { createGroupControllerService } from './group-controller.js';

export interface ControllerServiceOptions {
  /** CSI driver name (in every marker). */
  driverName: string;
  /** `--cluster-id` (in every marker). */
  clusterId: string;
  /** The backends file's entries. */
  backends: readonly BackendConfig[];
  log: Logger;
  metrics?: Metrics;
  /** How each backend's client is built; default: the WSAPI client. */
  clientFactory?: ClientFactory;
  /** Interval between copy-task polls (default 1 s). */
  copyPollIntervalMs?: number;
  /**
   * Advertise PUBLISH_READONLY: only once the node plugin enforces read-only staging (DESIGN
   * "Node safety"); default false.
   */
  publishReadonly?: boolean;
  /** Topology (see TopologyMode); default auto: on with two or more backends. */
  topology?: TopologyMode;
  /** Advertise LIST_VOLUMES_PUBLISHED_NODES (exact node_ids from host markers); default true. */
  listPublishedNodes?: boolean;
  /**
   * Nodes known to share the loop data plane (the embedded simulator's node in mode all). A publish
   * whose protocol is not in volume_context and resolves to loop reaches only these; unset: any.
   */
  loopNodes?: string[];
  /** `--max-volumes-per-node`: ControllerPublish refuses a new export beyond it (0 = no limit). */
  maxVolumesPerNode?: number;
  /** How often each array's sessions-in-use gauge is refreshed (default 60 s; 0 = only at start). */
  metricsRefreshMs?: number;
}

/** Default period of the sessions-in-use refresh: one light request per array per minute. */
export const METRICS_REFRESH_MS = 60_000;

/** The Controller service and what its owner needs to start and stop it. */
export interface ControllerService {
  /** The handlers to give CsiServer as `services.controller`. */
  service: ControllerImpl;
  /** The GroupController handlers (`services.groupController`), sharing the controller's state. */
  groupService: GroupControllerImpl;
  /** Reads each array's identity (logs, backend_info / backend_up metrics). Never throws. */
  start(): Promise<void>;
  /** Logs out of every array. */
  close(): Promise<void>;
}

/** Capabilities always advertised (see ControllerServiceOptions for the two that are gated). */
const BASE_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'VOLUME_CONDITION',
  'GET_VOLUME',
  'SINGLE_NODE_MULTI_WRITER',
  'GET_SNAPSHOT',
  'MODIFY_VOLUME',
] as const;

/** Whether the controller advertises topology: `auto` turns it on with two or more backends. */
export function controllerTopology(mode: TopologyMode, backendCount: number): boolean {
  return mode === 'auto' ? backendCount > 1 : mode === 'on';
}

/** Builds the CSI Controller service over the configured arrays. */
export function createControllerService(options: ControllerServiceOptions): ControllerService {
  const log = options.log.child({ service: 'controller' });
  const registry = new BackendRegistry(options.backends, {
    log,
    ...(options.metrics && { metrics: options.metrics }),
    ...(options.clientFactory && { clientFactory: options.clientFactory }),
    owner: { driverName: options.driverName, clusterId: options.clusterId },
    ...(options.copyPollIntervalMs !== undefined && { copyPollIntervalMs: options.copyPollIntervalMs }),
    maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
    ...(options.loopNodes && { loopNodes: options.loopNodes }),
  });
  const deps: ControllerDeps = {
    driverName: options.driverName,
    registry,
    log,
    inflight: new InFlight(),
    volumeListings: new ListingCache(),
    snapshotListings: new ListingCache(),
    topology: controllerTopology(options.topology ?? 'auto', registry.all().length),
  };
  const capabilities: ControllerServiceCapability[] = BASE_CAPABILITIES.map((type) => ({ rpc: { type } }));
  if (options.publishReadonly) capabilities.push({ rpc: { type: 'PUBLISH_READONLY' } });
  if (options.listPublishedNodes ?? true) capabilities.push({ rpc: { type: 'LIST_VOLUMES_PUBLISHED_NODES' } });

  const service: ControllerImpl = {
    ...volumeHandlers(deps),
    ...publishHandlers(deps),
    ...snapshotHandlers(deps),
    ...listHandlers(deps),
    ...modifyHandlers(deps),
    async ControllerGetCapabilities() {
      return { capabilities };
    },
  };
  return {
    service,
    groupService: createGroupControllerService(deps),
    start: () => registry.start(options.metricsRefreshMs ?? METRICS_REFRESH_MS),
    close: () => registry.close(),
  };
}
