/**
 * /api/v1/qos — later firmware only (REFERENCE.md §8): rules on VV sets (`vvset:<name>`) or the
 * system default (`sys:all_others`). Present only with a profile that has QoS.
 */
import { F, read, validate, type Schema } from '../validate.js';
import type { QosRec } from '../model/types.js';
import type { Answer, Req, Server } from './types.js';

const LIMITS: Schema = {
  priority: F.enumOf([1, 2, 3]),
  bwMinGoalKB: F.uint32(),
  bwMaxLimitKB: F.uint32(),
  ioMinGoal: F.uint32(),
  ioMaxLimit: F.uint32(),
  bwMinGoalOP: F.enumOf([1, 2]),
  bwMaxLimitOP: F.enumOf([1, 2]),
  ioMinGoalOP: F.enumOf([1, 2]),
  ioMaxLimitOP: F.enumOf([1, 2]),
  latencyGoal: F.uint32(),
  latencyGoaluSecs: F.uint32(),
  defaultLatency: F.bool(),
  enable: F.bool(),
};
const CREATE: Schema = { ...LIMITS, name: F.name31(true), type: F.enumOf([1, 2], true) };

function render(q: QosRec): Record<string, unknown> {
  const { enable, ...rule } = q.rule;
  return { id: q.id, type: q.type, name: q.name, enabled: enable !== false, ...rule };
}

function find(srv: Server, target: string): QosRec {
  const m = /^(vvset|sys):(.+)$/.exec(target);
  if (!m) throw srv.sim.errors.err('INV_INPUT', 'target');
  const type = m[1] === 'vvset' ? 1 : 2;
  const q = srv.sim.array.state.qos.find((x) => x.type === type && x.name === m[2]);
  if (!q) throw srv.sim.errors.err('NON_EXISTENT_QOS_RULE');
  return q;
}

export function qosRoutes(srv: Server, req: Req): Answer {
  const { sim } = srv;
  const [, target, extra] = req.segs;
  const state = sim.array.state;
  if (extra !== undefined) throw sim.errors.err('URI_RES_NOT_FOUND');
  if (target === undefined) {
    if (req.method === 'GET') return { status: 200, members: state.qos.map(render), stream: false };
    if (req.method !== 'POST') throw sim.errors.err('UNSUP_OP');
    const b = validate(sim.errors, req.body, CREATE);
    const name = read.str(b, 'name')!;
    const type = read.num(b, 'type')!;
    if (type === 1 && !sim.array.volumeSet(name)) throw sim.errors.err('INV_INPUT_QOS_TARGET_OBJECT', 'name');
    if (state.qos.some((q) => q.type === type && q.name === name)) throw sim.errors.err('EXISTENT_QOS_RULE', 'name');
    const { name: _n, type: _t, ...rule } = b;
    state.qos.push({ id: state.qos.reduce((n, q) => Math.max(n, q.id + 1), 0), type, name, rule });
    sim.array.touch();
    return { status: 201, location: `/api/v1/qos/${type === 1 ? 'vvset' : 'sys'}:${name}` };
  }
  const q = find(srv, target);
  if (req.method === 'GET') return { status: 200, body: render(q) };
  if (req.method === 'PUT') {
    const b = validate(sim.errors, req.body, LIMITS);
    q.rule = { ...q.rule, ...b };
    sim.array.touch();
    return { status: 200 };
  }
  if (req.method === 'DELETE') {
    state.qos = state.qos.filter((x) => x !== q);
    sim.array.touch();
    return { status: 200 };
  }
  throw sim.errors.err('UNSUP_OP');
}
