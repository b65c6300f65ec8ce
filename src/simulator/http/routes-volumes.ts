/** Routes for /volumes and /volumesets (REFERENCE.md §5–7). */
import { createPhysicalCopy, createSnapshot, resyncPhysicalCopy, stopPhysicalCopy } from '../model/copies.js';
import { renderSet, renderVolume } from '../model/render.js';
import { copySet, createSet, deleteSet, modifySet, snapshotSet, type SetKind } from '../model/sets.js';
import { promoteSnapshot, stopPromote, tuneVolume } from '../model/tune.js';
import type { SetRec, VolumeRec } from '../model/types.js';
import { createVolume, deleteVolume, growVolume, modifyVolume } from '../model/volumes.js';
import { checkName, validate, F, type Schema } from '../validate.js';
import { keyValueRoutes } from './routes-keyvalues.js';
import type { Answer, Req, Server } from './types.js';

const ACTION_SCHEMA: Schema = { action: { type: { t: 'action' }, required: true }, parameters: F.object({}, true) };

export function volumeByPath(srv: Server, name: string): VolumeRec {
  const e = srv.sim.errors;
  checkName(e, name, 31, 'name');
  const v = srv.sim.array.volume(name);
  if (!v) throw e.err('NON_EXISTENT_VOL');
  return v;
}

export function setByPath(srv: Server, kind: SetKind, name: string): SetRec {
  const e = srv.sim.errors;
  checkName(e, name, 27, 'name');
  const s = kind === 'volumesets' ? srv.sim.array.volumeSet(name) : srv.sim.array.hostSet(name);
  if (!s) throw e.err('NON_EXISTENT_SET');
  return s;
}

/** `{action, parameters}` bodies of POST to an object; parameters are validated by the action. */
function actionBody(srv: Server, body: unknown): { action: unknown; parameters: unknown } {
  const e = srv.sim.errors;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw e.err('INV_INPUT_NOT_JSON_OBJ');
  const o = body as Record<string, unknown>;
  validate(e, { action: o['action'] }, { action: ACTION_SCHEMA['action']! });
  for (const k of Object.keys(o))
    if (k !== 'action' && k !== 'parameters') throw e.err('INV_INPUT', k, `unknown member ${k}`);
  if (o['parameters'] === undefined || o['parameters'] === null)
    throw e.err('INV_INPUT_MISSING_REQUIRED', 'parameters');
  return { action: o['action'], parameters: o['parameters'] };
}

/** `?query="wwn==A OR wwn==B"` (1.3), plus `wwn EQ`/`copyOf EQ` on later profiles. */
function filterVolumes(srv: Server, query: string): VolumeRec[] | undefined {
  const q = query
    .trim()
    .replace(/^"(.*)"$/s, '$1')
    .trim();
  const terms = q.split(/\s+OR\s+/);
  const wwns = new Set<string>();
  const copyOf = new Set<string>();
  for (const t of terms) {
    let m = /^wwn\s*==\s*([0-9A-Fa-f]{32})$/.exec(t.trim());
    if (m) {
      wwns.add(m[1]!.toUpperCase());
      continue;
    }
    if (!srv.sim.opts.profile.eqQueries) return undefined;
    m = /^(wwn|copyOf)\s+EQ\s+(\S+)$/.exec(t.trim());
    if (!m) return undefined;
    if (m[1] === 'wwn') wwns.add(m[2]!.toUpperCase());
    else copyOf.add(m[2]!);
  }
  const a = srv.sim.array;
  return a.volumes.filter(
    (v) => wwns.has(v.wwn) || (v.parentId !== undefined && copyOf.has(a.volumeById(v.parentId)?.name ?? '')),
  );
}

export function listVolumes(srv: Server, req: Req): Answer {
  let vols: readonly VolumeRec[] = srv.sim.array.volumes;
  if (req.query !== undefined) {
    const filtered = filterVolumes(srv, req.query);
    if (filtered) vols = filtered;
    else if (srv.sim.opts.unsupportedQuery === 'reject') throw srv.sim.errors.err('INV_QUERY_STRING', 'query');
  }
  return { status: 200, members: vols.map((v) => renderVolume(srv.sim, v)), stream: true };
}

export async function postVolume(srv: Server, req: Req, name: string): Promise<Answer> {
  const src = volumeByPath(srv, name);
  const { action, parameters } = actionBody(srv, req.body);
  if (action === 'createSnapshot') return createSnapshot(srv.sim, src, parameters);
  if (action === 'createPhysicalCopy') return createPhysicalCopy(srv.sim, src, parameters, req.caller);
  throw srv.sim.errors.err(typeof action === 'string' ? 'INV_INPUT' : 'INV_INPUT_WRONG_TYPE', 'action');
}

export async function putVolume(srv: Server, req: Req, name: string): Promise<Answer> {
  const e = srv.sim.errors;
  const v = volumeByPath(srv, name);
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw e.err('INV_INPUT_NOT_JSON_OBJ');
  const action = (body as Record<string, unknown>)['action'];
  if (action === undefined || action === null) return modifyVolume(srv.sim, v, body);
  if (typeof action !== 'number' || !Number.isInteger(action)) throw e.err('INV_INPUT_WRONG_TYPE', 'action');
  const onlyAction = (): void => void validate(e, body, { action: { type: { t: 'action' }, required: true } });
  switch (action) {
    case 1:
      onlyAction();
      return stopPhysicalCopy(srv.sim, v);
    case 2:
      onlyAction();
      return resyncPhysicalCopy(srv.sim, v, req.caller);
    case 3:
      return growVolume(srv.sim, v, body);
    case 4:
      return promoteSnapshot(srv.sim, v, body, req.caller);
    case 5:
      onlyAction();
      return stopPromote(srv.sim, v);
    case 6:
      return tuneVolume(srv.sim, v, body, req.caller);
    default:
      throw e.err('INV_INPUT_BAD_ENUM_VALUE', 'action');
  }
}

export async function volumeRoutes(srv: Server, req: Req): Promise<Answer> {
  const [, name, extra, key, more] = req.segs;
  const m = req.method;
  if (name !== undefined && extra === 'objectKeyValues' && more === undefined && srv.sim.opts.profile.objectKeyValues)
    return keyValueRoutes(srv, req, volumeByPath(srv, name), key);
  if (extra !== undefined) throw srv.sim.errors.err('URI_RES_NOT_FOUND');
  if (name === undefined) {
    if (m === 'GET') return listVolumes(srv, req);
    if (m === 'POST') return createVolume(srv.sim, req.body);
  } else {
    if (m === 'GET') return { status: 200, body: renderVolume(srv.sim, volumeByPath(srv, name)) };
    if (m === 'POST') return postVolume(srv, req, name);
    if (m === 'PUT') return putVolume(srv, req, name);
    if (m === 'DELETE') return deleteVolume(srv.sim, volumeByPath(srv, name));
  }
  throw srv.sim.errors.err('UNSUP_OP');
}

export async function setRoutes(srv: Server, kind: SetKind, req: Req): Promise<Answer> {
  const [, name, extra] = req.segs;
  const m = req.method;
  const sim = srv.sim;
  if (extra !== undefined) throw sim.errors.err('URI_RES_NOT_FOUND');
  const all = kind === 'volumesets' ? sim.array.volumeSets : sim.array.hostSets;
  if (name === undefined) {
    if (m === 'GET') return { status: 200, members: all.map((s) => renderSet(sim, s, kind)), stream: false };
    if (m === 'POST') return createSet(sim, kind, req.body);
  } else {
    if (m === 'GET') return { status: 200, body: renderSet(sim, setByPath(srv, kind, name), kind) };
    if (m === 'PUT') return modifySet(sim, kind, setByPath(srv, kind, name), req.body, req.caller);
    if (m === 'DELETE') return deleteSet(sim, kind, setByPath(srv, kind, name));
    if (m === 'POST' && kind === 'volumesets') {
      const s = setByPath(srv, kind, name);
      const { action, parameters } = actionBody(srv, req.body);
      if (action === 'createSnapshot') return snapshotSet(sim, s, parameters);
      if (action === 'createPhysicalCopy') return copySet(sim, s, parameters, req.caller);
      throw sim.errors.err('INV_INPUT', 'action');
    }
  }
  throw sim.errors.err('UNSUP_OP');
}
