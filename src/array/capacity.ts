import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';

/**
 * Free space of a CPG for GetCapacity, MiB. The space reporter answers with the physical space
 * the CPG's layout can still use and ignores the CPG's growth limit; cinder therefore takes the
 * limit as the total when one is set (total = SDGrowth.limitMiB, provisioned = UsrUsage +
 * SAUsage + SDUsage totals) [S CIN hpe_3par_common.py get_volume_stats, REFERENCE §15]. One
 * request without a limit (the cached CPG list says so), two with one (the CPG's fresh usage).
 */
export async function cpgFreeMiB(backend: Backend, c: ArrayClient, cpg: string, signal?: AbortSignal): Promise<number> {
  const physical = (await c.getCpgFreeSpace(cpg, signal)).usableFreeMiB;
  if (!(await backend.hasGrowthLimit(cpg, signal))) return physical;
  const fresh = await c.getCpg(cpg, signal);
  const limit = fresh.SDGrowth?.limitMiB;
  if (limit === undefined) return physical;
  const provisioned = (fresh.UsrUsage?.totalMiB ?? 0) + (fresh.SAUsage?.totalMiB ?? 0) + (fresh.SDUsage?.totalMiB ?? 0);
  return Math.max(0, Math.min(physical, limit - provisioned));
}

/**
 * Free space for GetCapacity, MiB: of `cpg`, else of the backend's defaultCpg or only CPG; with
 * neither (several CPGs, none named), the array's free space as a whole.
 */
export async function capacityMiB(
  backend: Backend,
  c: ArrayClient,
  cpg: string | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const name = cpg ?? (await backend.onlyCpg(signal));
  if (name === undefined) return (await c.getSystem()).freeCapacityMiB ?? 0;
  return cpgFreeMiB(backend, c, name, signal);
}
