/**
 * Volume sets and host sets (REFERENCE.md §7): create, modify (rename, comment, add/remove
 * members with globs on add), delete with its guards, and the VV-set actions: a snapshot of every
 * member with a name pattern, and an offline physical copy into a destination set.
 */
import { F, read, validate, type Schema } from '../validate.js';
import {
  SNAPSHOT_PARAMS,
  checkSnapshotSource,
  createPhysicalCopy,
  makeSnapshot,
  resyncPhysicalCopy,
  stopPhysicalCopy,
} from './copies.js';
import { checkPoliciesAndLimits } from './volumes.js';
import { promoteSnapshot, stopPromote } from './tune.js';
import type { Caller, Reply, Sim } from './context.js';
import type { SetRec } from './types.js';
import { checkMemberDomains, requestedDomain } from './domains.js';

export type SetKind = 'volumesets' | 'hostsets';

const CREATE_SCHEMA: Schema = {
  name: F.name27(true),
  domain: F.name31(),
  comment: F.text(255),
  setmembers: F.strings({ t: 'text', max: 64 }),
};
const MODIFY_SCHEMA: Schema = {
  action: F.enumOf([1, 2, 3, 4, 5, 6]),
  newName: F.name27(),
  comment: F.text(255),
  setmembers: F.strings({ t: 'text', max: 64 }),
  priority: F.enumOf([1, 2, 3]),
};

function setsOf(sim: Sim, kind: SetKind): SetRec[] {
  return kind === 'volumesets' ? sim.array.state.volumeSets : sim.array.state.hostSets;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

/** Resolves member names (globs allowed when adding) to ids, in order, without duplicates. */
function resolveMembers(sim: Sim, kind: SetKind, names: string[], allowGlob: boolean): number[] {
  const e = sim.errors;
  const ids: number[] = [];
  const missing = kind === 'volumesets' ? 'NON_EXISTENT_VOL' : 'NON_EXISTENT_HOST';
  for (const [i, n] of names.entries()) {
    const ref = `setmembers[${i}]`;
    if (/[*?]/.test(n)) {
      if (!allowGlob) throw e.err('INV_INPUT_ILLEGAL_CHAR', ref);
      const re = globToRegExp(n);
      const all = kind === 'volumesets' ? sim.array.volumes : sim.array.hosts;
      for (const o of all) if (re.test(o.name) && !ids.includes(o.id)) ids.push(o.id);
      continue;
    }
    if (!/^[A-Za-z0-9._-]{1,31}$/.test(n)) throw e.err('INV_INPUT_ILLEGAL_CHAR', ref);
    const o = kind === 'volumesets' ? sim.array.volume(n) : sim.array.host(n);
    if (!o) throw e.err(missing, ref, n);
    if (ids.includes(o.id)) throw e.err('INV_INPUT_DUP_NAME', ref);
    ids.push(o.id);
  }
  return ids;
}

export function createSet(sim: Sim, kind: SetKind, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, CREATE_SCHEMA);
  const name = read.str(b, 'name')!;
  const domain = requestedDomain(sim, b);
  if (setsOf(sim, kind).some((s) => s.name === name)) throw e.err('EXISTENT_SET', 'name');
  const members = resolveMembers(sim, kind, read.strs(b, 'setmembers') ?? [], true);
  checkMemberDomains(sim, kind, domain, members);
  const s: SetRec = { id: sim.array.nextSetId(), name, members, ...(domain !== undefined && { domain }) };
  const comment = read.str(b, 'comment');
  if (comment) s.comment = comment;
  setsOf(sim, kind).push(s);
  sim.array.reindexVluns();
  sim.array.touch();
  return { status: 201, location: `/api/v1/${kind}/${name}` };
}

export async function modifySet(sim: Sim, kind: SetKind, s: SetRec, body: unknown, caller: Caller): Promise<Reply> {
  const e = sim.errors;
  const b = validate(e, body, MODIFY_SCHEMA);
  const action = read.num(b, 'action');
  const newName = read.str(b, 'newName');
  if (action !== undefined && newName !== undefined) throw e.err('INV_INPUT_PARAM_CONFLICT', 'action,newName');
  if (action !== undefined && action > 2 && kind === 'hostsets') throw e.err('INV_INPUT_BAD_ENUM_VALUE', 'action');
  if (b['priority'] !== undefined && action !== 3) throw e.err('INV_INPUT_PARAM_CONFLICT', 'priority');
  if (action !== undefined && action > 2) return setAction(sim, s, action, caller);
  if (newName !== undefined && newName !== s.name && setsOf(sim, kind).some((x) => x.name === newName))
    throw e.err('EXISTENT_SET', 'newName');
  const names = read.strs(b, 'setmembers');
  if (names !== undefined && action === undefined) throw e.err('INV_INPUT_ONE_REQUIRED', 'action');
  if (action === 1) {
    const ids = resolveMembers(sim, kind, names ?? [], true);
    const dup = ids.find((id) => s.members.includes(id));
    if (dup !== undefined) throw e.err('MEMBER_IN_SET', 'setmembers');
    checkMemberDomains(sim, kind, s.domain, ids);
    s.members.push(...ids);
  } else if (action === 2) {
    const ids = resolveMembers(sim, kind, names ?? [], false);
    const absent = ids.findIndex((id) => !s.members.includes(id));
    if (absent !== -1) throw e.err('MEMBER_NOT_IN_SET', `setmembers[${absent}]`);
    s.members = s.members.filter((m) => !ids.includes(m));
  }
  if (newName !== undefined) s.name = newName;
  const comment = read.str(b, 'comment');
  if (comment !== undefined) {
    if (comment === '') delete s.comment;
    else s.comment = comment;
  }
  sim.array.reindexVluns();
  sim.array.touch();
  return { status: 200, location: `/api/v1/${kind}/${s.name}` };
}

/** VV-set actions 3–6 apply the volume action to every member. */
async function setAction(sim: Sim, s: SetRec, action: number, caller: Caller): Promise<Reply> {
  const vols = s.members.map((id) => sim.array.volumeById(id)!).filter((v) => v !== undefined);
  if (vols.length === 0) throw sim.errors.err('EMPTY_SET');
  const taskids: number[] = [];
  for (const v of vols) {
    if (action === 3) taskids.push(((await resyncPhysicalCopy(sim, v, caller)).body as { taskid: number }).taskid);
    else if (action === 4) stopPhysicalCopy(sim, v);
    else if (action === 5)
      taskids.push(((await promoteSnapshot(sim, v, { action: 4 }, caller)).body as { taskid: number }).taskid);
    else stopPromote(sim, v);
  }
  if (action === 3) return { status: 200, body: { taskids } };
  if (action === 5)
    return {
      status: 200,
      body: {
        tasks: taskids.map((taskid) => ({ taskid })),
        links: [{ href: `/api/v1/volumesets/${s.name}`, rel: 'self' }],
      },
    };
  return { status: 200, location: `/api/v1/volumesets/${s.name}` };
}

export function deleteSet(sim: Sim, kind: SetKind, s: SetRec): Reply {
  const e = sim.errors;
  const exported = sim.array.vluns.some((t) => (kind === 'volumesets' ? t.volumeSetId : t.hostSetId) === s.id);
  if (exported) throw e.err('EXPORTED_VLUN');
  if (kind === 'volumesets' && sim.array.state.qos.some((q) => q.type === 1 && q.name === s.name))
    throw e.err('VVSET_QOS_TARGET');
  const list = setsOf(sim, kind);
  list.splice(list.indexOf(s), 1);
  sim.array.reindexVluns();
  sim.array.touch();
  return { status: 200 };
}

/** Expands a snapshot name pattern for member `i` (@count@, @vvname@, @vvid@, date fields). */
export function expandPattern(pattern: string, i: number, vol: { name: string; id: number }, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return pattern
    .replace(/@count@/g, String(i))
    .replace(/@vvname@/g, vol.name)
    .replace(/@vvid@/g, String(vol.id))
    .replace(/@y@/g, p(now.getUTCFullYear() % 100))
    .replace(/@m@/g, p(now.getUTCMonth() + 1))
    .replace(/@d@/g, p(now.getUTCDate()))
    .replace(/@H@/g, p(now.getUTCHours()))
    .replace(/@M@/g, p(now.getUTCMinutes()))
    .replace(/@S@/g, p(now.getUTCSeconds()));
}

/** POST /volumesets/<set> createSnapshot: one snapshot per member, all or none. */
export async function snapshotSet(sim: Sim, s: SetRec, params: unknown): Promise<Reply> {
  const e = sim.errors;
  const schema: Schema = { ...SNAPSHOT_PARAMS, name: { type: { t: 'text', max: 255 }, required: true } };
  const p = validate(e, params, schema, 'parameters.');
  checkPoliciesAndLimits(sim, p, true);
  const pattern = read.str(p, 'name')!;
  const vols = s.members.map((id) => sim.array.volumeById(id)!);
  if (vols.length === 0) throw e.err('EMPTY_SET');
  const now = new Date();
  const names = vols.map((v, i) => expandPattern(pattern, i, v, now));
  if (new Set(names).size !== names.length) throw e.err('INVALID_INPUT_VV_PATTERN', 'parameters.name');
  for (const n of names) {
    if (n.length > 31) throw e.err('INV_INPUT_EXCEEDS_LENGTH', 'parameters.name');
    if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(n)) throw e.err('INVALID_INPUT_VV_PATTERN', 'parameters.name');
    if (sim.array.volume(n)) throw e.err('EXISTENT_VOL', 'parameters.name', n);
  }
  const readOnly = read.bool(p, 'readOnly') === true;
  for (const v of vols) checkSnapshotSource(sim, v, readOnly);
  const { id: _id, ...rest } = p;
  for (const [i, v] of vols.entries()) await makeSnapshot(sim, v, names[i]!, rest);
  sim.array.touch();
  return { status: 201, location: `/api/v1/volumesets/${s.name}` };
}

/** POST /volumesets/<set> createPhysicalCopy: offline copies into the members of a destination set. */
export async function copySet(sim: Sim, s: SetRec, params: unknown, caller: Caller): Promise<Reply> {
  const e = sim.errors;
  const p = validate(
    e,
    params,
    { destVolume: F.name27(true), online: F.bool(), saveSnapshot: F.bool(), priority: F.enumOf([1, 2, 3]) },
    'parameters.',
  );
  if (p['online'] === true) throw e.err('INV_INPUT_PARAM_CONFLICT', 'parameters.online');
  const dest = sim.array.volumeSet(read.str(p, 'destVolume')!);
  if (!dest) throw e.err('NON_EXISTENT_SET', 'parameters.destVolume');
  if (s.members.length === 0) throw e.err('EMPTY_SET');
  if (dest.members.length !== s.members.length)
    throw e.err('INV_INPUT', 'parameters.destVolume', 'the sets have different member counts');
  const { destVolume: _d, online: _o, ...rest } = p;
  for (const [i, id] of s.members.entries()) {
    const src = sim.array.volumeById(id)!;
    const d = sim.array.volumeById(dest.members[i]!)!;
    await createPhysicalCopy(sim, src, { ...rest, destVolume: d.name }, caller);
  }
  return { status: 201, location: `/api/v1/volumesets/${s.name}` };
}
