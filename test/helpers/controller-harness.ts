/** Service-test harness for the Controller: simulators, the real gRPC server on a unix socket, a client. */
import { rmSync } from 'node:fs';
import { CsiServer } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import {
  createControllerService,
  type ControllerService,
  type ControllerServiceOptions,
} from '../../src/csi/controller.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import type { BackendConfig } from '../../src/config/backends.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { CsiTestClient, tempSocket } from './grpc.js';

export const DRIVER = 'csi.3par.test.example.com';
export const CLUSTER = 'cluster-a';
export const GiB = 1024 * 1024 * 1024;
export const MiB = 1024 * 1024;

/** Fast simulator defaults: one CPG, fast copies, quick task ticks. */
export const FAST_SIM: SimulatorOptions = {
  cpgs: [{ name: 'CPG1', sizeMiB: 4 * 1024 * 1024 }],
  copyRateMiBps: 1_000_000,
  tickMs: 10,
};

export interface Driver {
  controller: ControllerService;
  client: CsiTestClient<'Controller'>;
  /** A GroupController client on the same socket. */
  group: CsiTestClient<'GroupController'>;
  stop(): Promise<void>;
}

/**
 * Starts one controller process (in-process) against the given backends. As in `serve`, the
 * gRPC server logs to the controller's logger and counts into its metrics (`extra.log`,
 * `extra.metrics`).
 */
export async function startDriver(
  backends: BackendConfig[],
  extra: Partial<ControllerServiceOptions> = {},
): Promise<Driver> {
  const log = extra.log ?? (process.env['DBG'] ? createLogger({ level: 'debug' }) : silentLogger);
  const controller = createControllerService({
    driverName: DRIVER,
    clusterId: CLUSTER,
    backends,
    log,
    copyPollIntervalMs: 20,
    metricsRefreshMs: 0,
    ...extra,
  });
  await controller.start();
  const sock = tempSocket('ctl-');
  const readiness = new Readiness();
  // CONTROLLER_TEST_TCP=1 serves on loopback TCP instead (to bisect socket-layer problems).
  const endpoint = process.env['CONTROLLER_TEST_TCP'] ? '127.0.0.1:0' : sock.endpoint;
  const identity = createIdentity({
    driverName: DRIVER,
    vendorVersion: 't',
    controller: true,
    groupController: true,
    topology: backends.length > 1,
    readiness,
  });
  const server = new CsiServer({
    endpoint,
    services: { identity, controller: controller.service, groupController: controller.groupService },
    log,
    metrics: extra.metrics,
  });
  const bound = await server.start();
  const address = endpoint === sock.endpoint ? sock.endpoint : bound;
  const client = new CsiTestClient('Controller', address);
  const group = new CsiTestClient('GroupController', address);
  return {
    controller,
    client,
    group,
    async stop() {
      client.close();
      group.close();
      await server.stop(1000);
      await controller.close();
      rmSync(sock.dir, { recursive: true, force: true });
    },
  };
}

export function backendOf(sim: RunningSimulator, id: string, extra: Partial<BackendConfig> = {}): BackendConfig {
  return { id, url: sim.url, username: sim.username, password: sim.password, ...extra };
}

export async function startSim(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ ...FAST_SIM, ...options });
}

/** A file's usual set-up: one simulator, a controller on it as backend `sim`, and a raw client of the array. */
export interface OnSim {
  sim: RunningSimulator;
  d: Driver;
  /** The array's own API, for arranging and checking what the driver does not do. */
  wsapi: WsapiClient;
  stop(): Promise<void>;
}

export async function startOnSim(
  options: {
    sim?: SimulatorOptions;
    backend?: Partial<BackendConfig>;
    driver?: Partial<ControllerServiceOptions>;
  } = {},
): Promise<OnSim> {
  const sim = await startSim(options.sim);
  const d = await startDriver([backendOf(sim, 'sim', options.backend)], options.driver);
  const wsapi = new WsapiClient({ backendId: 'raw', url: sim.url, username: sim.username, password: sim.password });
  return {
    sim,
    d,
    wsapi,
    async stop() {
      await wsapi.close();
      await d.stop();
      await sim.close();
    },
  };
}

/** WSAPI requests the simulator served since the last reset (sessions excluded). */
export function arrayRequests(sim: RunningSimulator): string[] {
  return sim.requests
    .filter((r) => !r.path.startsWith('/api/v1/credentials'))
    .map((r) => `${r.method} ${r.path}${r.code ? ` (${r.code})` : ''}`);
}

export const mountCap = (mode = 'SINGLE_NODE_WRITER', fs = 'ext4') => ({
  mount: { fs_type: fs, mount_flags: [] },
  access_mode: { mode },
});
export const blockCap = (mode = 'SINGLE_NODE_WRITER') => ({ block: {}, access_mode: { mode } });

/** A node_id with an iSCSI initiator. */
export const iscsiNode = (host: string) => `${host};i=iqn.1994-05.com.redhat:${host}`;
