import { hostname } from 'node:os';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { CsiServer, type CsiServices } from './csi/server.js';
import { createIdentity, Readiness } from './csi/identity.js';
import type { BackendConfig } from './config/backends.js';
import { VERSION } from './version.js';

export type DriverMode = 'controller' | 'node' | 'all';

/** Everything `serve` needs, already validated by the CLI. */
export interface DriverOptions {
  mode: DriverMode;
  endpoint: string;
  driverName: string;
  /** Required for controller modes (validated by the caller). */
  clusterId?: string;
  backends?: BackendConfig[];
  /** Host-name part of the node_id. */
  nodeName?: string;
  log: Logger;
  metrics?: Metrics;
  /** Seconds in-flight calls get to finish on shutdown. */
  shutdownGraceMs?: number;
}

/** A running driver process (or an in-process one, for the demo and tests). */
export interface RunningDriver {
  /** The socket path or host:port served. */
  address: string;
  readiness: Readiness;
  stop(graceMs?: number): Promise<void>;
}

/** Builds the services for the mode, starts the gRPC server, and reports ready. */
export async function startDriver(options: DriverOptions): Promise<RunningDriver> {
  const readiness = new Readiness();
  const metrics = options.metrics ?? new Metrics({ processMetrics: false });
  const controller = options.mode !== 'node';
  const services: CsiServices = {
    identity: createIdentity({
      driverName: options.driverName,
      vendorVersion: VERSION,
      controller: false,
      groupController: false,
      topology: controller && (options.backends?.length ?? 0) > 1,
      readiness,
    }),
  };
  const server = new CsiServer({ endpoint: options.endpoint, services, log: options.log, metrics });
  const address = await server.start();
  readiness.setReady();
  options.log.info({ mode: options.mode, driver: options.driverName, version: VERSION, node: options.nodeName ?? hostname() }, 'driver ready');
  return {
    address,
    readiness,
    async stop(graceMs = options.shutdownGraceMs ?? 30_000) {
      readiness.setNotReady('shutting down');
      await server.stop(graceMs);
    },
  };
}
