/**
 * Hosts (REFERENCE.md §9): create (with FC WWNs, iSCSI names, or no paths at all — the loop
 * protocol), modify (rename, paths, persona, descriptors, CHAP), delete with its guards, and the
 * 1.3 host query by initiator.
 */
import { createHash } from 'node:crypto';
import { F, read, validate, type Body, type Schema } from '../validate.js';
import type { Reply, Sim } from './context.js';
import type { HostRec } from './types.js';
import { requestedDomain } from './domains.js';

const PERSONAS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const DESCRIPTORS: Schema = {
  location: F.text(255),
  IPAddr: F.text(255),
  os: F.text(255),
  model: F.text(255),
  contact: F.text(255),
  comment: F.text(255),
};
const WWN_ITEM = { t: 'text', max: 64 } as const;
const IQN_ITEM = { t: 'iscsiName' } as const;

const CREATE_SCHEMA: Schema = {
  name: F.name31(true),
  domain: F.name31(),
  FCWWNs: F.strings(WWN_ITEM),
  iSCSINames: F.strings(IQN_ITEM),
  forceTearDown: F.bool(),
  descriptors: F.object(DESCRIPTORS),
  persona: F.enumOf(PERSONAS),
};

const MODIFY_SCHEMA: Schema = {
  newName: F.name31(),
  pathOperation: F.enumOf([1, 2]),
  FCWWNs: F.strings(WWN_ITEM),
  iSCSINames: F.strings(IQN_ITEM),
  forcePathRemoval: F.bool(),
  persona: F.enumOf(PERSONAS),
  descriptors: F.object(DESCRIPTORS),
  chapOperation: F.enumOf([1, 2]),
  chapOperationMode: F.enumOf([1, 2]),
  chapName: F.text(255),
  chapSecret: F.text(255),
  chapSecretHex: F.bool(),
  chapRemoveTargetOnly: F.bool(),
};

/** FC WWNs: 16 hex digits, colons allowed on input; stored upper-case. */
export function normalizeWwn(sim: Sim, w: string, ref: string): string {
  const n = w.replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{16}$/.test(n)) throw sim.errors.err('INV_INPUT_WRONG_TYPE', ref);
  return n;
}

/** Checks a request's initiators: normalised, no duplicates, ≤ 1024, FC xor iSCSI. */
function paths(sim: Sim, b: Body): { fc: string[]; iscsi: string[] } {
  const e = sim.errors;
  const fcIn = read.strs(b, 'FCWWNs');
  const iscsi = read.strs(b, 'iSCSINames') ?? [];
  if (fcIn !== undefined && fcIn.length > 0 && iscsi.length > 0)
    throw e.err('INV_INPUT_PARAM_CONFLICT', 'FCWWNs,iSCSINames');
  const fc = (fcIn ?? []).map((w, i) => normalizeWwn(sim, w, `FCWWNs[${i}]`));
  if (fc.length > 1024 || iscsi.length > 1024) throw e.err('INV_INPUT_TOO_MANY_WWN_OR_iSCSI');
  if (new Set(fc).size !== fc.length || new Set(iscsi).size !== iscsi.length) throw e.err('INV_INPUT_DUP_PATH');
  return { fc, iscsi };
}

export function createHost(sim: Sim, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, CREATE_SCHEMA);
  const name = read.str(b, 'name')!;
  const domain = requestedDomain(sim, b);
  const { fc, iscsi } = paths(sim, b);
  if (sim.array.host(name)) throw e.err('EXISTENT_HOST', 'name');
  for (const w of fc) if (sim.array.ownerOfFc(w)) throw e.err('EXISTENT_PATH', 'FCWWNs', w);
  for (const n of iscsi) if (sim.array.ownerOfIscsi(n)) throw e.err('EXISTENT_PATH', 'iSCSINames', n);
  const h: HostRec = {
    id: sim.array.state.nextHostId++,
    name,
    persona: read.num(b, 'persona') ?? 2,
    fcWWNs: fc,
    iSCSINames: iscsi,
    ...(domain !== undefined && { domain }),
  };
  const d = read.obj(b, 'descriptors');
  if (d) h.descriptors = d as Record<string, string>;
  sim.array.state.hosts.push(h);
  sim.array.reindexHosts();
  sim.array.touch();
  return { status: 201, location: `/api/v1/hosts/${name}` };
}

export function modifyHost(sim: Sim, h: HostRec, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, MODIFY_SCHEMA);
  const op = read.num(b, 'pathOperation');
  const hasPaths = b['FCWWNs'] !== undefined || b['iSCSINames'] !== undefined;
  if (hasPaths && op === undefined) throw e.err('INV_INPUT_ONE_REQUIRED', 'pathOperation');
  if (!hasPaths && op !== undefined) throw e.err('INV_INPUT_ONE_REQUIRED', 'FCWWNs,iSCSINames');
  if (b['forcePathRemoval'] !== undefined && op !== 2) throw e.err('INV_INPUT_PARAM_CONFLICT', 'forcePathRemoval');
  if (Object.keys(b).length === 0) throw e.err('INV_INPUT_ONE_REQUIRED');
  const { fc, iscsi } = paths(sim, b);
  const exported = sim.array.vlunsOfHost(h.id).length > 0;
  const newName = read.str(b, 'newName');
  if (newName !== undefined && newName !== h.name && sim.array.host(newName)) throw e.err('EXISTENT_HOST', 'newName');
  const persona = read.num(b, 'persona');
  if (persona !== undefined && persona !== h.persona && exported) throw e.err('EXPORTED_VLUN', 'persona');
  if (op === 1) {
    for (const w of fc) {
      const owner = sim.array.ownerOfFc(w);
      if (owner && owner !== h) throw e.err('EXISTENT_PATH', 'FCWWNs', w);
      if (owner === h) throw e.err('INV_INPUT_DUP_PATH', 'FCWWNs');
    }
    for (const n of iscsi) {
      const owner = sim.array.ownerOfIscsi(n);
      if (owner && owner !== h) throw e.err('EXISTENT_PATH', 'iSCSINames', n);
      if (owner === h) throw e.err('INV_INPUT_DUP_PATH', 'iSCSINames');
    }
  } else if (op === 2) {
    for (const w of fc) if (!h.fcWWNs.includes(w)) throw e.err('NON_EXISTENT_PATH', 'FCWWNs', w);
    for (const n of iscsi) if (!h.iSCSINames.includes(n)) throw e.err('NON_EXISTENT_PATH', 'iSCSINames', n);
    if (exported && b['forcePathRemoval'] !== true) throw e.err('EXPORTED_VLUN');
  }
  checkChap(sim, h, b);
  // All checks passed: apply.
  if (op === 1) {
    h.fcWWNs.push(...fc);
    h.iSCSINames.push(...iscsi);
  } else if (op === 2) {
    h.fcWWNs = h.fcWWNs.filter((w) => !fc.includes(w));
    h.iSCSINames = h.iSCSINames.filter((n) => !iscsi.includes(n));
  }
  if (newName !== undefined) h.name = newName;
  if (persona !== undefined) h.persona = persona;
  const d = read.obj(b, 'descriptors');
  if (d) h.descriptors = d as Record<string, string>;
  applyChap(h, b);
  sim.array.reindexHosts();
  sim.array.touch();
  return { status: 200, location: `/api/v1/hosts/${h.name}` };
}

function checkChap(sim: Sim, h: HostRec, b: Body): void {
  const e = sim.errors;
  const op = read.num(b, 'chapOperation');
  const details = ['chapName', 'chapSecret', 'chapSecretHex', 'chapOperationMode'].filter((k) => b[k] !== undefined);
  if (op === undefined) {
    if (details.length > 0 || b['chapRemoveTargetOnly'] !== undefined)
      throw e.err('INV_INPUT_ONE_REQUIRED', 'chapOperation');
    return;
  }
  if (op === 2) {
    if (b['chapName'] !== undefined || b['chapSecret'] !== undefined)
      throw e.err('INV_INPUT_PARAM_CONFLICT', 'chapName');
    if (!h.initiatorChap && !h.targetChap) throw e.err('NON_EXISTENT_CHAP');
    return;
  }
  if (b['chapRemoveTargetOnly'] !== undefined) throw e.err('INV_INPUT_PARAM_CONFLICT', 'chapRemoveTargetOnly');
  if (read.str(b, 'chapName') === undefined) throw e.err('INV_INPUT_MISSING_REQUIRED', 'chapName');
  const secret = read.str(b, 'chapSecret');
  if (secret === undefined) throw e.err('INV_INPUT_MISSING_REQUIRED', 'chapSecret');
  const ok =
    b['chapSecretHex'] === true ? /^[0-9a-fA-F]{32}$/.test(secret) : secret.length >= 12 && secret.length <= 16;
  if (!ok) throw e.err('INV_INPUT_BAD_LENGTH', 'chapSecret');
  if (read.num(b, 'chapOperationMode') === 2 && !h.initiatorChap) throw e.err('NO_INITIATOR_CHAP');
}

function applyChap(h: HostRec, b: Body): void {
  const op = read.num(b, 'chapOperation');
  if (op === 1) {
    const chap = { name: read.str(b, 'chapName')!, secret: read.str(b, 'chapSecret')! };
    if (read.num(b, 'chapOperationMode') === 2) h.targetChap = chap;
    else h.initiatorChap = chap;
  } else if (op === 2) {
    delete h.targetChap;
    if (b['chapRemoveTargetOnly'] !== true) delete h.initiatorChap;
  }
}

export function deleteHost(sim: Sim, h: HostRec): Reply {
  if (sim.array.vlunsOfHost(h.id).length > 0) throw sim.errors.err('EXPORTED_VLUN');
  if (sim.array.setsOfHost(h.id).length > 0) throw sim.errors.err('HOST_IN_SET');
  sim.array.state.hosts = sim.array.state.hosts.filter((x) => x !== h);
  sim.array.reindexHosts();
  sim.array.touch();
  return { status: 200 };
}

/**
 * The 1.3 host query: `"FCPaths[wwn==A OR wwn==B] OR iSCSIPaths[name==iqn]"` (quotes optional).
 * Returns the matching hosts, or undefined when the expression is malformed.
 */
export function queryHosts(sim: Sim, query: string): HostRec[] | undefined {
  const q = query
    .trim()
    .replace(/^"(.*)"$/s, '$1')
    .trim();
  const terms = q.match(/(FCPaths|iSCSIPaths)\[([^\]]*)\]/g);
  const rest = q
    .replace(/(FCPaths|iSCSIPaths)\[[^\]]*\]/g, '')
    .replace(/\s+OR\s+/g, '')
    .trim();
  if (!terms || rest !== '') return undefined;
  const fc = new Set<string>();
  const iscsi = new Set<string>();
  for (const term of terms) {
    const isFc = term.startsWith('FCPaths');
    const inner = term.slice(term.indexOf('[') + 1, -1);
    for (const cond of inner.split(/\s+OR\s+/)) {
      const m = /^\s*(wwn|name)\s*==\s*(\S+)\s*$/.exec(cond);
      if (!m || (isFc ? m[1] !== 'wwn' : m[1] !== 'name')) return undefined;
      if (isFc) fc.add(m[2]!.replace(/:/g, '').toUpperCase());
      else iscsi.add(m[2]!);
    }
  }
  return sim.array.hosts.filter((h) => h.fcWWNs.some((w) => fc.has(w)) || h.iSCSINames.some((n) => iscsi.has(n)));
}

/** CHAP secrets are reported encrypted; a stable hash stands in for the array's cipher. */
export function encryptedSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 32);
}
