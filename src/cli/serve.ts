import { hostname } from 'node:os';
import { LOG_LEVELS, createLogger, type LogLevel } from '../log.js';
import {
  BACKEND_KEYS,
  ConfigError,
  loadBackendsFile,
  backendIdProblem,
  type BackendConfig,
} from '../config/backends.js';
import { DEFAULT_DRIVER_NAME, validateClusterId, validateDriverName } from '../config/identity.js';
import { isLocalEndpoint, parseEndpoint, type Endpoint } from '../csi/server.js';
import { TOPOLOGY_MODES, type TopologyMode } from '../csi/context.js';
import { MULTIPATH_MODES, type MultipathMode } from '../host/multipath.js';
import { listenError } from '../errors.js';
import { SIM_BACKEND_ID, startDriver, type DriverMode } from '../driver.js';
import {
  UsageError,
  formatHelp,
  get,
  parseFlags,
  untilShutdownSignal,
  type FlagSpec,
  type FlagValues,
} from './flags.js';
import type { RunningSimulator } from '../simulator/index.js';

export const SERVE_FLAGS: FlagSpec[] = [
  {
    name: 'mode',
    type: 'string',
    choices: ['controller', 'node', 'all'],
    default: 'all',
    help: 'Which CSI services to serve: the controller (a Deployment; its sidecars elect leaders), the node plugin (every node), or both.',
  },
  {
    name: 'endpoint',
    type: 'string',
    metavar: 'URL',
    default: 'unix:///csi/csi.sock',
    help: 'Where to listen: unix:///absolute/path (what kubelet and the sidecars use) or host:port on loopback (debugging only). A missing last directory of the path is created (and logged).',
  },
  {
    name: 'allow-remote-endpoint',
    type: 'boolean',
    default: false,
    help: 'Allow a TCP --endpoint on a non-loopback address: anyone who reaches it can call every CSI service, unauthenticated (logged as a warning).',
  },
  {
    name: 'driver-name',
    type: 'string',
    metavar: 'NAME',
    default: DEFAULT_DRIVER_NAME,
    help: 'CSI driver name (GetPluginInfo); must match the CSIDriver object and StorageClass provisioner.',
  },
  {
    name: 'cluster-id',
    type: 'string',
    metavar: 'ID',
    help: 'Identifies this Kubernetes cluster in ownership markers on the array (1-32 of [a-z0-9-]); required for the controller.',
  },
  {
    name: 'backends',
    type: 'string',
    metavar: 'FILE',
    help: `Backends file: a YAML/JSON list of {${BACKEND_KEYS.map((k) => (['id', 'url', 'username', 'password'].includes(k) ? k : `${k}?`)).join(', ')}} (chap: {user, secret}; timeouts in seconds: connect 10, response 30 to the first byte, request 120 in all; see docs/configuration.md); required for the controller.`,
  },
  {
    name: 'node-name',
    type: 'string',
    metavar: 'NAME',
    help: 'Host-name part of the node_id (default: $NODE_NAME, then the host name).',
  },
  {
    name: 'backend-ids',
    type: 'list',
    metavar: 'ID,ID',
    default: [],
    help: 'Node plugin: ids of the backends this node can reach; with topology on, NodeGetInfo reports a segment <driver-name>/backend-<id> for each.',
  },
  {
    name: 'topology',
    type: 'string',
    choices: [...TOPOLOGY_MODES],
    default: 'auto',
    help: "Topology, the same on the controller and every node plugin: 'on' (a backend segment on every volume; every node reports the backends of its --backend-ids, which it then needs), 'off', or 'auto' (controller: on with two or more backends; node: on when --backend-ids is given).",
  },
  {
    name: 'kubelet-dir',
    type: 'string',
    metavar: 'DIR',
    help: 'Node plugin: kubelet root directory; every staging and target path must resolve below it, and node state lives in <dir>/plugins/<driver-name>/state (default /var/lib/kubelet; a temporary directory with --simulator).',
  },
  {
    name: 'max-volumes-per-node',
    type: 'int',
    metavar: 'N',
    default: 0,
    help: 'max_volumes_per_node reported by NodeGetInfo; the controller refuses a publish beyond it (0 = no limit).',
  },
  {
    name: 'host-exec',
    type: 'string',
    choices: ['nsenter', 'direct'],
    default: 'nsenter',
    help: "Node plugin: how iscsiadm/multipath/multipathd run: 'nsenter' into PID 1's mount and network namespaces (the host's own tools; needs hostPID), or 'direct' (tests, or when the image's tools are the host's).",
  },
  {
    name: 'multipath',
    type: 'string',
    choices: [...MULTIPATH_MODES],
    default: 'auto',
    help: "Node plugin: dm-multipath use. 'auto' asks the host's multipathd ('multipathd show status') at each stage and uses single-path devices when it does not answer; 'on' fails a stage while multipathd does not answer; 'off' never asks multipathd nor waits for a map (a map that already exists is still found, and flushed at unstage).",
  },
  {
    name: 'sim-data-dir',
    type: 'string',
    metavar: 'DIR',
    help: "Node plugin: the simulator's data directory, for the loop protocol (exports/<WWN> links).",
  },
  {
    name: 'simulator',
    type: 'boolean',
    default: false,
    help: 'Run an embedded WSAPI simulator (with its data plane) as backend "sim"; no backends file or cluster id needed. For trying the driver and for conformance tools.',
  },
  { name: 'log-level', type: 'string', choices: LOG_LEVELS, default: 'info', help: 'Log level.' },
  {
    name: 'log-format',
    type: 'string',
    choices: ['json', 'pretty', 'auto'],
    default: 'auto',
    help: 'Log format; auto is pretty on a terminal, JSON otherwise.',
  },
  {
    name: 'metrics-address',
    type: 'string',
    metavar: 'HOST:PORT',
    help: 'Serve Prometheus metrics on http://HOST:PORT/metrics (off when unset).',
  },
  {
    name: 'shutdown-grace',
    type: 'int',
    metavar: 'SECONDS',
    default: 30,
    help: 'Seconds in-flight calls get to finish after SIGTERM; the rest are answered UNAVAILABLE, array sessions are logged out (each bounded to 3 s) and the process exits.',
  },
];

/** After the grace period, how long shutdown may still take (client drain 2 s + logouts 3 s + margin). */
const SHUTDOWN_BACKSTOP_MS = 8_000;

const DESCRIPTION = 'Serves the CSI driver over gRPC until SIGTERM or SIGINT.';

/** Parses --endpoint; refuses one off loopback unless allowed. Whether it is off loopback. */
function checkEndpoint(endpoint: string, allowRemote: boolean): boolean {
  let ep: Endpoint;
  try {
    ep = parseEndpoint(endpoint);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const remote = !isLocalEndpoint(ep);
  if (remote && !allowRemote) {
    throw new UsageError(
      `--endpoint ${endpoint} is not on loopback: the CSI services have no authentication, so anyone who reaches it could call them; use a unix socket or 127.0.0.1, or add --allow-remote-endpoint`,
    );
  }
  return remote;
}

async function checkMetricsAddress(metricsAddress: string): Promise<void> {
  // metrics.js (and prom-client with it) is loaded only when metrics are served.
  const { parseHostPort } = await import('../metrics.js');
  try {
    parseHostPort(metricsAddress);
  } catch (err) {
    throw new UsageError(`--metrics-address: ${(err as Error).message} (e.g. 0.0.0.0:9810 or 127.0.0.1:9810)`);
  }
}

function checkBackendIds(mode: DriverMode, topology: TopologyMode, ids: string[]): void {
  for (const id of ids) {
    const problem = backendIdProblem(id);
    if (problem) throw new ConfigError(`--backend-ids: "${id}" ${problem}`);
  }
  if (mode === 'node' && topology === 'on' && ids.length === 0)
    throw new ConfigError(
      '--topology=on needs --backend-ids on a node plugin: the ids of the backends this node reaches',
    );
}

/** The controller's cluster id and backends file (both optional with the embedded simulator). */
function controllerConfig(values: FlagValues, simulator: boolean): { clusterId?: string; backends?: BackendConfig[] } {
  const given = get.str(values, 'cluster-id');
  // The embedded simulator is private to this process: a cluster id is optional there.
  const clusterId = simulator && given === undefined ? undefined : validateClusterId(given);
  const file = get.str(values, 'backends');
  if (file) return { clusterId, backends: loadBackendsFile(file) };
  if (!simulator)
    throw new ConfigError(
      '--backends FILE is required for the controller (mode controller or all), unless --simulator is given',
    );
  return { clusterId };
}

/** With --simulator: where it serves, the array's address and credentials, and a first call to try. */
function printSimulatorBanner(address: string, sim: RunningSimulator, kubeletDir: string): void {
  // The address is a socket path, or host:port for a TCP endpoint.
  const served = address.startsWith('/') ? `unix://${address}` : address;
  process.stdout.write(
    `3par-csi is serving on ${served} with the embedded simulator as backend "${SIM_BACKEND_ID}":\n` +
      `  WSAPI ${sim.url}  user ${sim.username}  password ${sim.password}\n` +
      `  data plane ${sim.dataDir ?? '(off)'}, node state ${kubeletDir}\n` +
      `  try: 3par-csi call CreateVolume --endpoint ${served} --json '{"name":"pvc-1","volume_capabilities":[{"mount":{},"access_mode":{"mode":"SINGLE_NODE_WRITER"}}]}'\n`,
  );
}

export async function serveCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(formatHelp('3par-csi serve [flags]', DESCRIPTION, SERVE_FLAGS));
    return 0;
  }
  const { values, positional } = parseFlags(args, SERVE_FLAGS);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const mode = get.str(values, 'mode') as DriverMode;
  const endpoint = get.str(values, 'endpoint')!;
  const remote = checkEndpoint(endpoint, get.bool(values, 'allow-remote-endpoint'));
  const metricsAddress = get.str(values, 'metrics-address');
  if (metricsAddress !== undefined) await checkMetricsAddress(metricsAddress);
  const driverName = validateDriverName(get.str(values, 'driver-name')!);
  const format = get.str(values, 'log-format');
  const log = createLogger({
    level: get.str(values, 'log-level') as LogLevel,
    pretty: format === 'auto' ? undefined : format === 'pretty',
  });
  if (remote)
    log.warn(
      { endpoint },
      'the CSI endpoint is not on loopback (--allow-remote-endpoint): anyone who reaches it can call every CSI service, unauthenticated',
    );
  const topology = get.str(values, 'topology') as TopologyMode;
  checkBackendIds(mode, topology, get.list(values, 'backend-ids'));
  const simulator = get.bool(values, 'simulator');
  const { clusterId, backends } = mode === 'node' ? {} : controllerConfig(values, simulator);
  // The registry (prom-client) is loaded only when metrics are served: it costs start-up CPU.
  const metrics = metricsAddress ? new (await import('../metrics.js')).Metrics() : undefined;
  const metricsServer =
    metricsAddress && metrics
      ? await metrics
          .serve(metricsAddress)
          .catch((err: unknown) => Promise.reject(listenError(err, '--metrics-address', metricsAddress)))
      : undefined;
  if (metricsServer) log.info({ url: metricsServer.url }, 'metrics served');
  const graceMs = (get.num(values, 'shutdown-grace') ?? 30) * 1000;
  const driver = await startDriver({
    mode,
    endpoint,
    driverName,
    clusterId,
    backends,
    nodeName: get.str(values, 'node-name') ?? process.env['NODE_NAME'] ?? hostname(),
    backendIds: get.list(values, 'backend-ids'),
    topology,
    kubeletDir: get.str(values, 'kubelet-dir'),
    maxVolumesPerNode: get.num(values, 'max-volumes-per-node'),
    hostExec: get.str(values, 'host-exec') as 'nsenter' | 'direct',
    multipath: get.str(values, 'multipath') as MultipathMode,
    simDataDir: get.str(values, 'sim-data-dir'),
    simulator: simulator ? {} : undefined,
    log,
    metrics,
    shutdownGraceMs: graceMs,
  });
  if (driver.simulator) printSimulatorBanner(driver.address, driver.simulator, driver.kubeletDir);
  log.info({ signal: await untilShutdownSignal(), graceMs }, 'shutting down');
  // A backstop only: stop() is bounded by the grace period plus the arrays' short close limits.
  const backstop = setTimeout(() => {
    log.error({ graceMs }, 'shutdown did not finish in time; exiting anyway');
    process.exit(0);
  }, graceMs + SHUTDOWN_BACKSTOP_MS);
  backstop.unref();
  await driver.stop();
  metricsServer?.server.closeAllConnections();
  metricsServer?.server.close();
  log.info('stopped');
  return 0;
}
