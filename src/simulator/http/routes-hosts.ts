/** Routes for /hosts, /ports and /vluns (REFERENCE.md §9–11). */
import { createHost, deleteHost, modifyHost, queryHosts } from '../model/hosts.js';
import { renderHost, renderIscsiVlans, renderPort } from '../model/render.js';
import { createVlun, deleteVlun, findVlun, nsp, parseNsp, renderVlun } from '../model/vluns.js';
import type { HostRec, VlunRec } from '../model/types.js';
import type { Sim } from '../model/context.js';
import { checkName } from '../validate.js';
import type { Answer, Req, Server } from './types.js';

function hostByPath(srv: Server, name: string): HostRec {
  checkName(srv.sim.errors, name, 31, 'name');
  const h = srv.sim.array.host(name);
  if (!h) throw srv.sim.errors.err('NON_EXISTENT_HOST');
  return h;
}

export function hostRoutes(srv: Server, req: Req): Answer {
  const [, name, extra] = req.segs;
  const { sim, ports } = srv;
  const m = req.method;
  if (extra !== undefined) throw sim.errors.err('URI_RES_NOT_FOUND');
  if (name === undefined) {
    if (m === 'GET') {
      let hosts: readonly HostRec[] = sim.array.hosts;
      if (req.query !== undefined) {
        const found = queryHosts(sim, req.query);
        if (!found) throw sim.errors.err('INV_QUERY_STRING', 'query');
        hosts = found;
      }
      return { status: 200, members: hosts.map((h) => renderHost(sim, h, ports)), stream: false };
    }
    if (m === 'POST') return createHost(sim, req.body);
  } else {
    if (m === 'GET') return { status: 200, body: renderHost(sim, hostByPath(srv, name), ports) };
    if (m === 'PUT') return modifyHost(sim, hostByPath(srv, name), req.body);
    if (m === 'DELETE') return deleteHost(sim, hostByPath(srv, name));
  }
  throw sim.errors.err('UNSUP_OP');
}

export function portRoutes(srv: Server, req: Req): Answer {
  const [, pos, extra] = req.segs;
  const { sim, ports } = srv;
  if (extra !== undefined && (extra !== 'iSCSIVlans' || !sim.opts.profile.iscsiPortInfo || req.segs.length > 3))
    throw sim.errors.err('URI_RES_NOT_FOUND');
  if (req.method !== 'GET') throw sim.errors.err('UNSUP_OP');
  if (pos === undefined) return { status: 200, members: ports.map((p) => renderPort(sim, p)), stream: false };
  const parsed = parseNsp(pos);
  if (!parsed) throw sim.errors.err('INV_INPUT_PORT_SPECIFICATION');
  const p = ports.find((x) => nsp(x.portPos) === nsp(parsed));
  if (!p) throw sim.errors.err('NON_EXISTENT_PORT');
  if (extra !== undefined) {
    // [U] The answer for a port that is not iSCSI is not documented: BAD_PORT_TYPE (the code of
    // a wrong port type elsewhere in the API) is this simulator's choice. Protocol 2 is iSCSI.
    if (p.protocol !== 2) throw sim.errors.err('BAD_PORT_TYPE');
    return { status: 200, body: renderIscsiVlans(p) };
  }
  return { status: 200, body: renderPort(sim, p) };
}

type VlunCond = [key: 'volumeName' | 'hostname' | 'volumeWWN', value: string];

/** Later profiles: `?query="volumeName EQ v"` / `"hostname EQ h"` / `"volumeWWN EQ w"` (ORed). */
function vlunQuery(srv: Server, query: string): VlunCond[] | undefined {
  if (!srv.sim.opts.profile.eqQueries) return undefined;
  const q = query
    .trim()
    .replace(/^"(.*)"$/s, '$1')
    .trim();
  const conds: VlunCond[] = [];
  for (const t of q.split(/\s+OR\s+/)) {
    const m = /^(volumeName|hostname|volumeWWN)\s+EQ\s+(\S+)$/.exec(t.trim());
    if (!m) return undefined;
    conds.push([m[1] as VlunCond[0], m[2]!]);
  }
  return conds;
}

/**
 * Whether a VLUN template can render a row the query matches: its own volume or host decides,
 * except for templates of a set or port-presents, which are rendered and filtered row by row.
 * Only the simulator's own CPU changes (a query no longer renders every VLUN of the array); the
 * answer is the same.
 */
function mayMatch(sim: Sim, t: VlunRec, conds: readonly VlunCond[]): boolean {
  return conds.some(([k, v]) => {
    if (k === 'hostname') return t.hostId === undefined || sim.array.hostById(t.hostId)?.name === v;
    if (t.volumeId === undefined) return true;
    const vol = sim.array.volumeById(t.volumeId);
    return k === 'volumeName' ? vol?.name === v : vol?.wwn === v;
  });
}

/** GET /vluns, whole or by query; an unknown query is refused or ignored (`unsupportedQuery`). */
function listVluns(srv: Server, query: string | undefined): Record<string, unknown>[] {
  const { sim, ports } = srv;
  const conds = query === undefined ? undefined : vlunQuery(srv, query);
  if (query !== undefined && !conds && sim.opts.unsupportedQuery === 'reject')
    throw sim.errors.err('INV_QUERY_STRING', 'query');
  if (!conds) return sim.array.vluns.flatMap((t: VlunRec) => renderVlun(sim, ports, t));
  return sim.array.vluns
    .filter((t: VlunRec) => mayMatch(sim, t, conds))
    .flatMap((t: VlunRec) => renderVlun(sim, ports, t))
    .filter((row) => conds.some(([k, v]) => row[k] === v));
}

export function vlunRoutes(srv: Server, req: Req): Answer {
  const [, id, extra] = req.segs;
  const { sim, ports } = srv;
  const m = req.method;
  if (extra !== undefined) throw sim.errors.err('URI_RES_NOT_FOUND');
  if (id === undefined) {
    if (m === 'GET') return { status: 200, members: listVluns(srv, req.query), stream: true };
    if (m === 'POST') return createVlun(sim, ports, req.body);
  } else {
    if (m === 'GET') {
      const rows = renderVlun(sim, ports, findVlun(sim, ports, id));
      return sim.opts.vlunGetShape === 'collection'
        ? { status: 200, members: rows.slice(0, 1), stream: false }
        : { status: 200, body: rows[0] };
    }
    if (m === 'DELETE') return deleteVlun(sim, findVlun(sim, ports, id));
  }
  throw sim.errors.err('UNSUP_OP');
}
