/**
 * CPG create/modify/delete (REFERENCE.md §12.2). A CSI driver never needs them; they exist so
 * that tools and tests can shape the array. A CPG's capacity is its growth limit (default 16 TiB).
 */
import { randomUUID } from 'node:crypto';
import { F, read, validate, type Schema } from '../validate.js';
import type { Reply, Sim } from './context.js';
import type { CpgRec } from './types.js';
import { requestedDomain } from './domains.js';

const LAYOUT: Schema = {
  RAIDType: F.enumOf([1, 2, 3, 4]),
  setSize: F.uint32(),
  HA: F.enumOf([1, 2, 3]),
  chunkletPosPref: F.enumOf([1, 2]),
  diskPatterns: F.strings({ t: 'object', schema: { diskType: F.enumOf([1, 2, 3]) } }),
};
const CREATE: Schema = {
  name: F.name31(true),
  domain: F.name31(),
  growthIncrementMiB: F.uint32(),
  growthLimitMiB: F.uint32(),
  usedLDWarningAlertMiB: F.uint32(),
  LDLayout: F.object(LAYOUT),
};
const MODIFY: Schema = {
  newName: F.name31(),
  growthIncrementMiB: F.uint32(),
  growthLimitMiB: F.uint32(),
  usedLDWarningAlertMiB: F.uint32(),
  disableAutoGrow: F.bool(),
  rmGrowthLimit: F.bool(),
  rmWarningAlert: F.bool(),
  LDLayout: F.object(LAYOUT),
};
const DEFAULT_LIMIT_MiB = 16 * 1024 * 1024;

export function createCpg(sim: Sim, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, CREATE);
  const name = read.str(b, 'name')!;
  const domain = requestedDomain(sim, b);
  if (sim.array.cpg(name)) throw e.err('EXISTENT_CPG', 'name');
  const limit = read.num(b, 'growthLimitMiB');
  const c: CpgRec = {
    id: sim.array.cpgs.reduce((n, x) => Math.max(n, x.id + 1), 0),
    uuid: randomUUID(),
    name,
    sizeMiB: DEFAULT_LIMIT_MiB,
    ...(limit !== undefined && { growthLimitMiB: limit }),
    ...(domain !== undefined && { domain }),
  };
  sim.array.state.cpgs.push(c);
  sim.array.spaceChanged();
  sim.array.touch();
  return { status: 201, location: `/api/v1/cpgs/${name}` };
}

export function modifyCpg(sim: Sim, c: CpgRec, body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, MODIFY);
  const newName = read.str(b, 'newName');
  if (newName !== undefined && newName !== c.name && sim.array.cpg(newName)) throw e.err('EXISTENT_CPG', 'newName');
  if (b['rmGrowthLimit'] === true && b['growthLimitMiB'] !== undefined)
    throw e.err('INV_INPUT_PARAM_CONFLICT', 'rmGrowthLimit');
  const limit = read.num(b, 'growthLimitMiB');
  if (limit !== undefined) c.growthLimitMiB = limit;
  if (b['rmGrowthLimit'] === true) delete c.growthLimitMiB;
  if (newName !== undefined && newName !== c.name) {
    // Volumes name their CPGs: a rename follows through.
    for (const v of sim.array.volumes) {
      if (v.userCPG === c.name) v.userCPG = newName;
      if (v.snapCPG === c.name) v.snapCPG = newName;
    }
    c.name = newName;
  }
  sim.array.spaceChanged();
  sim.array.touch();
  return { status: 200, location: `/api/v1/cpgs/${c.name}` };
}

export function deleteCpg(sim: Sim, c: CpgRec): Reply {
  if (sim.array.volumes.some((v) => v.userCPG === c.name || v.snapCPG === c.name)) throw sim.errors.err('IN_USE');
  sim.array.state.cpgs = sim.array.state.cpgs.filter((x) => x !== c);
  sim.array.spaceChanged();
  sim.array.touch();
  return { status: 200 };
}
