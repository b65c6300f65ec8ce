import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import { VERSION } from './version.js';

/**
 * All Prometheus metrics of one driver process, in one registry (no global state, so tests and
 * two drivers in one process do not collide).
 */
export class Metrics {
  readonly registry = new Registry();

  /** CSI RPCs by method and resulting gRPC status code name. */
  readonly rpcTotal = new Counter({
    name: 'threepar_csi_rpc_total',
    help: 'CSI RPCs handled, by method and gRPC status code',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });

  /** CSI RPC latency. */
  readonly rpcSeconds = new Histogram({
    name: 'threepar_csi_rpc_duration_seconds',
    help: 'CSI RPC latency in seconds, by method and gRPC status code',
    labelNames: ['method', 'code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  /** WSAPI requests by backend, operation (method + path template) and outcome. */
  readonly wsapiTotal = new Counter({
    name: 'threepar_csi_wsapi_requests_total',
    help: 'WSAPI requests, by backend, operation and outcome (HTTP status or error class)',
    labelNames: ['backend', 'op', 'outcome'] as const,
    registers: [this.registry],
  });

  /** WSAPI request latency. */
  readonly wsapiSeconds = new Histogram({
    name: 'threepar_csi_wsapi_request_duration_seconds',
    help: 'WSAPI request latency in seconds, by backend and operation',
    labelNames: ['backend', 'op'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** WSAPI logins by backend and outcome. */
  readonly wsapiLogins = new Counter({
    name: 'threepar_csi_wsapi_logins_total',
    help: 'WSAPI session logins, by backend and outcome',
    labelNames: ['backend', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Session keys held now per backend. */
  readonly wsapiKeys = new Gauge({
    name: 'threepar_csi_wsapi_session_keys',
    help: 'WSAPI session keys held by this process, by backend',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  /** 1 after a successful authenticated request to the backend, 0 after a failure to reach or log in. */
  readonly backendUp = new Gauge({
    name: 'threepar_csi_backend_up',
    help: '1 when the last request to the array proved it reachable with valid credentials, 0 otherwise',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  /** 1 for the backend's current state (reachable, unreachable, auth-refused, tls-refused), 0 for the others. */
  readonly backendStatus = new Gauge({
    name: 'threepar_csi_backend_status',
    help: 'Backend reachability: 1 on the current status (reachable, unreachable, auth-refused, tls-refused), 0 on the others',
    labelNames: ['backend', 'status'] as const,
    registers: [this.registry],
  });

  /** Constant 1 with the array's identity as labels. */
  readonly backendInfo = new Gauge({
    name: 'threepar_csi_backend_info',
    help: 'Array identity per backend (value is always 1)',
    labelNames: ['backend', 'name', 'serial', 'model', 'os_version', 'wsapi_version'] as const,
    registers: [this.registry],
  });

  /** Sessions in use on the array, as its WSAPI configuration reports. */
  readonly backendSessions = new Gauge({
    name: 'threepar_csi_backend_sessions_in_use',
    help: 'WSAPI sessions in use on the array (all clients), from wsapiconfiguration',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  /** Array tasks (copies, tunes) this process follows, counted at each scrape from `taskSources`. */
  readonly arrayTasks = new Gauge({
    name: 'threepar_csi_array_tasks',
    help: 'Array tasks this process waits for (a copy grown after it ends, a tune), by backend, type (copy, tune) and state (active; done, failed, cancelled for 10 minutes after they end)',
    labelNames: ['backend', 'type', 'state'] as const,
    registers: [this.registry],
    collect: () => {
      this.arrayTasks.reset();
      for (const source of this.taskSources.values())
        for (const c of source()) this.arrayTasks.set({ backend: c.backend, type: c.type, state: c.state }, c.count);
    },
  });

  /**
   * What fills `arrayTasks`: one source per backend id (src/array/task-progress.ts). Keyed, so a
   * backend created again (a new registry over the same metrics) replaces its predecessor instead
   * of adding a source per re-creation that reports the old tasks for ever.
   */
  readonly taskSources = new Map<
    string,
    () => readonly { backend: string; type: string; state: string; count: number }[]
  >();

  /** Constant 1 naming the driver version and the Node.js running it. */
  readonly buildInfo = new Gauge({
    name: 'threepar_csi_build_info',
    help: 'The driver build (value is always 1): version and Node.js version',
    labelNames: ['version', 'node_version'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    this.buildInfo.set({ version: VERSION, node_version: process.version }, 1);
    // Without a prefix: process_cpu_seconds_total, nodejs_heap_size_used_bytes, … are the names
    // the standard process and Node.js dashboards query.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Serves `/metrics` on host:port; resolves with the bound address. */
  async serve(address: string): Promise<{ server: Server; url: string }> {
    const { host, port } = parseHostPort(address);
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found; metrics are at /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const actualPort = bound && typeof bound === 'object' ? bound.port : port;
    return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/metrics` };
  }
}

/** Parses `host:port` or `:port` (all interfaces); throws a plain Error naming the problem. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`"${address}" is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
