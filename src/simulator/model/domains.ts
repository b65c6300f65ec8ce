/**
 * Virtual domains (evidence: src/simulator/README.md "Meeting the real array"). CPGs, hosts and
 * sets carry a domain; a volume is in its CPG's domain (the concepts guide: objects derived from
 * a CPG inherit its domain), a snapshot in its base volume's. The rules modelled:
 * - a VLUN joins a volume (or VV set) and a host (or host set) of the same domain, else 403/118
 *   `VV_NOT_IN_SAME_DOMAIN` ("VVs can only be exported to hosts belonging to the VVs' domain");
 *   whether a host in no domain may see a volume in one is [U]: `domainExport`;
 * - a set holds members of its own domain only (409 `MEMBER_NOT_IN_SAME_DOMAIN`, number [U]);
 * - a volume's user and snapshot CPGs share a domain (403 `CPG_NOT_IN_SAME_DOMAIN`, number [U]);
 * - a domain named in a request must exist (404/38 `NON_EXISTENT_DOMAIN`).
 */
import { read, type Body } from '../validate.js';
import type { Sim } from './context.js';
import type { SetRec, VolumeRec } from './types.js';

/** The domains the array knows: those of the options and those of its CPGs. */
function domainExists(sim: Sim, name: string): boolean {
  return sim.opts.domains.includes(name) || sim.array.cpgs.some((c) => c.domain === name);
}

/** The request's `domain` member: undefined when absent; 404/38 when no such domain exists. */
export function requestedDomain(sim: Sim, b: Body): string | undefined {
  const d = read.str(b, 'domain');
  if (d !== undefined && !domainExists(sim, d)) throw sim.errors.err('NON_EXISTENT_DOMAIN', 'domain');
  return d;
}

/** The domain of a CPG by name (undefined: none, or no such CPG). */
export function cpgDomain(sim: Sim, cpg: string | undefined): string | undefined {
  return cpg === undefined ? undefined : sim.array.cpg(cpg)?.domain;
}

/** A volume's domain: its base volume's user CPG's (snapshots have no user CPG of their own). */
export function volumeDomain(sim: Sim, v: VolumeRec): string | undefined {
  const base = v.baseId === v.id ? v : (sim.array.volumeById(v.baseId) ?? v);
  return cpgDomain(sim, base.userCPG);
}

/** A new volume's CPGs: the snapshot CPG must be in the user CPG's domain. */
export function checkCpgDomains(sim: Sim, userCPG: string, snapCPG: string | undefined): void {
  if (snapCPG !== undefined && cpgDomain(sim, snapCPG) !== cpgDomain(sim, userCPG))
    throw sim.errors.err('CPG_NOT_IN_SAME_DOMAIN', 'snapCPG');
}

/** Set members (ids of `kind`) must all be in the set's domain. */
export function checkMemberDomains(
  sim: Sim,
  kind: 'volumesets' | 'hostsets',
  domain: string | undefined,
  ids: readonly number[],
): void {
  for (const id of ids) {
    const d = kind === 'volumesets' ? volumeDomain(sim, sim.array.volumeById(id)!) : sim.array.hostById(id)?.domain;
    if (d !== domain)
      throw sim.errors.err(
        'MEMBER_NOT_IN_SAME_DOMAIN',
        'setmembers',
        `${d ?? 'no domain'}, the set: ${domain ?? 'no domain'}`,
      );
  }
}

/**
 * A VLUN's two sides: the volume side's domain (a volume's, or a VV set's) and the host side's
 * (a host's or a host set's; port-presents VLUNs have no host side and are not checked).
 */
export function checkExportDomains(
  sim: Sim,
  volume: { vol?: VolumeRec; set?: SetRec },
  host: { domain?: string } | undefined,
): void {
  if (!host) return;
  const volDomain = volume.set ? volume.set.domain : volumeDomain(sim, volume.vol!);
  if (volDomain === host.domain) return;
  if (host.domain === undefined && sim.opts.domainExport === 'hostWithoutDomain') return;
  throw sim.errors.err(
    'VV_NOT_IN_SAME_DOMAIN',
    'hostname',
    `volume: ${volDomain ?? 'no domain'}, host: ${host.domain ?? 'no domain'}`,
  );
}
