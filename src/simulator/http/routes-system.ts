/**
 * Routes for sessions, system information, CPGs and capacity, tasks and (later profiles) QoS
 * (REFERENCE.md §2, §3, §8, §12, §13).
 */
import { createCpg, deleteCpg, modifyCpg } from '../model/cpgs.js';
import { renderCapacity, renderCpg, renderSystem } from '../model/render.js';
import { TASK_STATUS } from '../model/types.js';
import { renderTask } from '../tasks.js';
import { F, checkName, read, validate, type Schema } from '../validate.js';
import type { Answer, Req, Server } from './types.js';

export function versionAnswer(srv: Server): Answer {
  const p = srv.sim.opts.profile;
  return { status: 200, body: { major: p.major, minor: p.minor, build: p.build } };
}

export function login(srv: Server, req: Req): Answer {
  const { sim, sessions } = srv;
  const schema: Schema = { user: F.text(255, true), password: F.text(255, true) };
  if (sim.opts.profile.sessionType) schema['sessionType'] = F.enumOf([1, 2]);
  const b = validate(sim.errors, req.body, schema);
  if (read.str(b, 'user') !== sim.opts.username || read.str(b, 'password') !== sim.opts.password)
    throw sim.errors.err('INV_USER_PASS');
  const s = sessions.login(read.str(b, 'user')!, req.ip);
  if (!s) throw sim.errors.err('SVC_UNAVAIL');
  return { status: 201, body: { key: s.key }, location: `/api/v1/credentials/${s.key}` };
}

export function credentialRoutes(srv: Server, req: Req): Answer {
  const [, key, extra] = req.segs;
  if (extra !== undefined) throw srv.sim.errors.err('URI_RES_NOT_FOUND');
  if (key === undefined && req.method === 'POST') return login(srv, req);
  if (key !== undefined && req.method === 'DELETE') {
    if (!srv.sessions.use(key, req.ip)) throw srv.sim.errors.err('INV_SESS_KEY');
    srv.sessions.logout(key);
    return { status: 200 };
  }
  throw srv.sim.errors.err('UNSUP_OP');
}

export function systemRoutes(srv: Server, req: Req): Answer {
  const { sim } = srv;
  const [what, name, extra] = req.segs;
  const get = req.method === 'GET';
  switch (what) {
    case 'system':
      if (name !== undefined) break;
      if (!get) throw sim.errors.err('UNSUP_OP');
      return { status: 200, body: renderSystem(sim) };
    case 'wsapiconfiguration':
      if (name !== undefined) break;
      if (!get) throw sim.errors.err('UNSUP_OP');
      return {
        status: 200,
        body: {
          httpState: srv.https ? 'Disabled' : 'Enabled',
          httpPort: 8008,
          httpsState: srv.https ? 'Enabled' : 'Disabled',
          httpsPort: 8080,
          version: sim.opts.profile.wsapiVersion,
          sessionsInUse: srv.sessions.inUse,
          systemResourceUsage: sim.opts.sessionLimit,
        },
      };
    case 'capacity':
      if (name !== undefined) break;
      if (!get) throw sim.errors.err('UNSUP_OP');
      return { status: 200, body: renderCapacity(sim) };
    case 'spacereporter': {
      if (name !== undefined) break;
      if (req.method !== 'POST') throw sim.errors.err('UNSUP_OP');
      const b = validate(sim.errors, req.body, {
        cpg: F.name31(),
        RAIDType: F.enumOf([1, 2, 3, 4]),
        HA: F.enumOf([1, 2, 3]),
        setSize: F.uint32(),
      });
      const cpg = read.str(b, 'cpg');
      const layout = ['RAIDType', 'HA', 'setSize'].some((k) => b[k] !== undefined);
      if (cpg !== undefined && layout) throw sim.errors.err('INV_INPUT_PARAM_CONFLICT', 'cpg');
      if (cpg === undefined && !layout) throw sim.errors.err('INV_INPUT_ONE_REQUIRED', 'cpg');
      if (cpg !== undefined && !sim.array.cpg(cpg)) throw sim.errors.err('NON_EXISTENT_CPG', 'cpg');
      const free =
        cpg !== undefined
          ? sim.array.cpgPhysicalFreeMiB(cpg)
          : sim.array.cpgs.reduce((n, c) => n + sim.array.cpgPhysicalFreeMiB(c.name), 0);
      return { status: 200, body: { rawFreeMiB: free * 2, usableFreeMiB: free } };
    }
    case 'cpgs': {
      if (extra !== undefined) break;
      if (name === undefined) {
        if (get) return { status: 200, members: sim.array.cpgs.map((c) => renderCpg(sim, c)), stream: false };
        if (req.method === 'POST') return createCpg(sim, req.body);
        throw sim.errors.err('UNSUP_OP');
      }
      checkName(sim.errors, name, 31, 'name');
      const c = sim.array.cpg(name);
      if (!c) throw sim.errors.err('NON_EXISTENT_CPG');
      if (get) return { status: 200, body: renderCpg(sim, c) };
      if (req.method === 'PUT') return modifyCpg(sim, c, req.body);
      if (req.method === 'DELETE') return deleteCpg(sim, c);
      throw sim.errors.err('UNSUP_OP');
    }
  }
  throw sim.errors.err('URI_RES_NOT_FOUND');
}

export function taskRoutes(srv: Server, req: Req): Answer {
  const { sim } = srv;
  const [, idStr, extra] = req.segs;
  if (extra !== undefined) throw sim.errors.err('URI_RES_NOT_FOUND');
  if (idStr === undefined) {
    if (req.method !== 'GET') throw sim.errors.err('UNSUP_OP');
    const since = Date.now() / 1000 - 24 * 3600;
    return {
      status: 200,
      members: sim.array.tasks
        .filter((t) => t.status === TASK_STATUS.ACTIVE || (t.finishTimeSec ?? 0) >= since)
        .map(renderTask),
      stream: false,
    };
  }
  if (!/^-?\d+$/.test(idStr)) throw sim.errors.err('INV_INPUT_WRONG_TYPE', 'id');
  const id = Number(idStr);
  if (id <= 0) throw sim.errors.err('INV_INPUT_BELOW_RANGE', 'id');
  if (id > 0x7fffffff) throw sim.errors.err('INV_INPUT_EXCEEDS_RANGE', 'id');
  if (req.method !== 'GET' && req.method !== 'PUT') throw sim.errors.err('UNSUP_OP');
  if (req.method === 'PUT') validate(sim.errors, req.body, { action: F.enumOf([1], true) });
  const t = sim.array.task(id);
  if (!t) throw sim.errors.err('NON_EXISTENT_TASK');
  if (req.method === 'GET') return { status: 200, body: renderTask(t) };
  if (t.status !== TASK_STATUS.ACTIVE) throw sim.errors.err('NON_ACTIVE_TASK');
  sim.tasks.end(t, TASK_STATUS.CANCELLED);
  return { status: 200 };
}
