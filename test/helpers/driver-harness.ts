/**
 * The whole driver as `serve` builds it (src/driver.ts `startDriver`: identity, controller, group
 * controller and node on one socket), served on a unix socket in a private temp dir, with a
 * client per CSI service — the way the sidecars and kubelet reach it. The set-up the sanity,
 * security and e2e tiers share; the service tier's in-process controller is in
 * controller-harness.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDriver, type DriverOptions, type RunningDriver } from '../../src/driver.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import { CsiTestClient } from './grpc.js';
import { detachLoopsUnder, unmountUnder } from './host.js';

/** A test's choices; everything but `driverName` has a default. */
export type ServeOptions = Partial<Omit<DriverOptions, 'log' | 'endpoint'>> & {
  driverName: string;
  /** Default: silent, or the level in TEST_LOG_LEVEL. */
  log?: Logger;
  /** The private dir (socket, kubelet dir); default a new temp dir. Removed by `close`. */
  base?: string;
};

/** The running driver and a client per service. */
export interface ServedDriver {
  driver: RunningDriver;
  identity: CsiTestClient<'Identity'>;
  controller: CsiTestClient<'Controller'>;
  node: CsiTestClient<'Node'>;
  group: CsiTestClient<'GroupController'>;
  /** unix://<socket path> the driver serves. */
  endpoint: string;
  /** The private temp dir (staging and target paths live here). */
  base: string;
  /** Closes the clients and stops the driver (and its embedded simulator); keeps `base`. */
  stop(graceMs?: number): Promise<void>;
  /** `stop`, then unmounts and detaches what the test left under `base`, and removes it. */
  close(graceMs?: number): Promise<void>;
}

export function testLogger(): Logger {
  const level = process.env['TEST_LOG_LEVEL'];
  return level ? createLogger({ level: level as 'debug' }) : silentLogger;
}

/**
 * Starts the driver (mode `all` unless told) on `<base>/csi.sock`, with host commands run
 * directly and the kubelet dir `<base>/kubelet` unless told.
 */
export async function serveDriver(options: ServeOptions): Promise<ServedDriver> {
  const { base: given, log, ...rest } = options;
  const base = given ?? mkdtempSync(join(tmpdir(), '3par-driver-'));
  const driver = await startDriver({
    mode: 'all',
    hostExec: 'direct',
    kubeletDir: join(base, 'kubelet'),
    shutdownGraceMs: 1000,
    ...rest,
    endpoint: `unix://${join(base, 'csi.sock')}`,
    log: log ?? testLogger(),
  });
  const endpoint = `unix://${driver.address.replace(/^unix:\/\//, '')}`;
  const clients = {
    identity: new CsiTestClient('Identity', endpoint),
    controller: new CsiTestClient('Controller', endpoint),
    node: new CsiTestClient('Node', endpoint),
    group: new CsiTestClient('GroupController', endpoint),
  };
  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 1000): Promise<void> => {
    for (const c of Object.values(clients)) c.close();
    return (stopped ??= driver.stop(graceMs));
  };
  return {
    driver,
    ...clients,
    endpoint,
    base,
    stop,
    async close(graceMs) {
      unmountUnder(base);
      const dataDir = driver.simulator?.dataDir;
      await stop(graceMs);
      if (dataDir) detachLoopsUnder(dataDir);
      detachLoopsUnder(base);
      rmSync(base, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
