/**
 * The embedded 3PAR array: a WSAPI 1.3.x server with an in-process object model, copy tasks,
 * sessions, fault injection, optional persistence and an optional data plane. Start one with
 * `startSimulator(options)`; the node plugin's loop connector needs only `<dataDir>/exports`.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DataPlane } from './dataplane.js';
import { ErrorCatalog } from './errors.js';
import { FaultController } from './faults.js';
import { AdminHandler } from './http/admin.js';
import { WsapiFront, type RequestLogEntry } from './http/server.js';
import { SimArray, emptyState } from './model/array.js';
import type { Sim } from './model/context.js';
import { onTaskEnd } from './model/copies.js';
import { makePorts } from './model/vluns.js';
import { resolveOptions, type SimulatorOptions } from './options.js';
import { StateSaver, loadState } from './persistence.js';
import { Sessions } from './sessions.js';
import { TaskEngine } from './tasks.js';
import { tlsMaterial, tlsServerOptions } from './tls.js';

export type { SimulatorOptions, Profile } from './options.js';
export { PROFILE_NAMES } from './options.js';
export type { FaultSpec, FaultMatch, Switches } from './faults.js';
export { FaultController } from './faults.js';
export { SimArray } from './model/array.js';
export { ERRORS, SimulatorError, type ErrorName, type ErrorOverrides } from './errors.js';
export type { RequestLogEntry } from './http/server.js';
export type { VolumeRec, HostRec, VlunRec, SetRec, TaskRec, CpgRec } from './model/types.js';

export interface RunningSimulator {
  /** e.g. http://127.0.0.1:PORT (or https://…). */
  url: string;
  username: string;
  password: string;
  /** PEM of the server certificate when serving HTTPS. */
  caCert?: string;
  /** The object model, for audits in tests (treat as read-only). */
  array: SimArray;
  /** In-process fault injection (same powers as the admin endpoint). */
  faults: FaultController;
  /** Every WSAPI request served, in order. */
  requests: RequestLogEntry[];
  resetRequests(): void;
  /** The data directory, when the data plane is on. */
  dataDir?: string;
  close(): Promise<void>;
}

/** Listens on host:port (0: any free port) and answers the port it got. */
async function listen(server: http.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const opts = resolveOptions(options);
  const loaded = opts.stateFile ? await loadState(opts.stateFile) : undefined;
  const state = loaded ?? emptyState(opts.cpgs);
  if (loaded) {
    // CPGs named in the options but missing from an older state file are added, never removed.
    const fresh = emptyState(opts.cpgs).cpgs.filter((c) => !loaded.cpgs.some((x) => x.name === c.name));
    for (const c of fresh) loaded.cpgs.push({ ...c, id: loaded.cpgs.reduce((n, x) => Math.max(n, x.id + 1), 0) });
  }
  const array = new SimArray(state, opts.thinUsedPct);
  const tasks = new TaskEngine(array, {
    copyRateMiBps: opts.copyRateMiBps,
    maxConcurrentTasks: opts.maxConcurrentTasks,
    tickMs: opts.tickMs,
  });
  const data = opts.dataDir ? new DataPlane(opts.dataDir) : undefined;
  const sim: Sim = { array, errors: new ErrorCatalog(opts.errorCodes), opts, tasks, ...(data ? { data } : {}) };
  tasks.onEnd = (t, status) => onTaskEnd(sim, t, status);
  const saver = opts.stateFile ? new StateSaver(opts.stateFile, () => array.state) : undefined;
  const exportedWwns = (): Set<string> =>
    new Set(array.volumes.filter((v) => array.isExported(v.id)).map((v) => v.wwn));
  if (data) {
    await data.init();
    for (const v of array.volumes) await data.create(v.wwn, v.sizeMiB);
    await data.syncExports(exportedWwns);
  }
  const afterChange = async (): Promise<void> => {
    await data?.syncExports(exportedWwns);
    await saver?.save();
  };
  tasks.onPersist = () => void afterChange().catch(() => undefined);
  const sessions = new Sessions(opts);
  const faults = new FaultController(opts, sessions, tasks, array);
  for (const f of opts.faults) faults.add(f);
  const tls = opts.https === false ? undefined : await tlsMaterial(opts.https, opts.host);
  const srv = {
    sim,
    sessions,
    ports: makePorts(state.systemId, opts.profile.vlanTaggedPort === true),
    https: tls !== undefined,
  };
  const front = new WsapiFront(srv, faults, opts.admin ? new AdminHandler(faults, array) : undefined);
  front.afterChange = afterChange;
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key, ...tlsServerOptions(opts) })
    : http.createServer();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => front.handle(req, res));
  const port = await listen(server, opts.port, opts.host);
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  if (saver) await saver.save();
  tasks.resume();
  front.startHousekeeping();
  const running: RunningSimulator = {
    url: `${tls ? 'https' : 'http'}://${hostPart}:${port}`,
    username: opts.username,
    password: opts.password,
    array,
    faults,
    requests: front.log,
    resetRequests: () => {
      front.log.length = 0;
    },
    close: async () => {
      tasks.close();
      front.stopHousekeeping();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await saver?.flush();
    },
  };
  if (tls) running.caCert = tls.cert;
  if (opts.dataDir) running.dataDir = opts.dataDir;
  return running;
}
