/**
 * /api/v1/volumes/<v>/objectKeyValues[/<key>] — later firmware only (REFERENCE.md §5.9). The
 * driver keeps its metadata in `comment`; these exist so that clients written for later arrays
 * can be tried.
 */
import type { VolumeRec } from '../model/types.js';
import { F, read, validate } from '../validate.js';
import type { Answer, Req, Server } from './types.js';

export function keyValueRoutes(srv: Server, req: Req, v: VolumeRec, key: string | undefined): Answer {
  const { sim } = srv;
  const kv = (v.keyValues ??= {});
  if (key === undefined) {
    if (req.method === 'GET')
      return { status: 200, members: Object.entries(kv).map(([k, value]) => ({ key: k, value })), stream: false };
    if (req.method !== 'POST') throw sim.errors.err('UNSUP_OP');
    const b = validate(sim.errors, req.body, { key: F.text(255, true), value: F.text(4096, true) });
    const k = read.str(b, 'key')!;
    if (k in kv) throw sim.errors.err('EXISTENT_OBJECT_KEY', 'key');
    kv[k] = read.str(b, 'value')!;
    sim.array.touch();
    return { status: 201, location: `/api/v1/volumes/${v.name}/objectKeyValues/${k}` };
  }
  if (!(key in kv)) throw sim.errors.err('NON_EXISTENT_OBJECT_KEY');
  if (req.method === 'GET') return { status: 200, body: { key, value: kv[key] } };
  if (req.method === 'PUT') {
    kv[key] = read.str(validate(sim.errors, req.body, { value: F.text(4096, true) }), 'value')!;
    sim.array.touch();
    return { status: 200 };
  }
  if (req.method === 'DELETE') {
    v.keyValues = Object.fromEntries(Object.entries(kv).filter(([k]) => k !== key));
    sim.array.touch();
    return { status: 200 };
  }
  throw sim.errors.err('UNSUP_OP');
}
