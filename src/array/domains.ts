import { failedPrecondition, type DriverError } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { Backend, KnownHost } from './backend.js';
import type { ArrayClient } from './client.js';

/**
 * Virtual domains (issue 16 item 3; evidence in src/simulator/README.md "Meeting the real
 * array"). A 3PAR CPG, host or set is in at most one domain, a volume in its CPG's, and a volume
 * is exported only to hosts of its domain [G concepts guide, "Object and Domain Association
 * Rules"]. Like cinder, which creates hosts and VV sets in the CPG's domain [S CIN
 * hpe_3par_common.py get_domain; hpe_3par_iscsi.py/hpe_3par_fc.py _create_3par_*_host], the
 * driver makes the node's host in the volume's domain and a group's temporary set in its sources'.
 */

const label = (domain: string | undefined): string => (domain === undefined ? 'no domain' : `domain ${domain}`);

/**
 * The volume's domain (undefined: none). No request on an array whose CPGs are in no domain
 * (the cached CPG list says so); else the volume's own `domain`, read once and remembered with
 * the owned volume. `fresh`: read the volume whatever the caches say (the array refused an export
 * across domains, so the cached CPG list or the remembered domain may be stale: `movetodomain`).
 */
export async function volumeDomain(
  backend: Backend,
  c: ArrayClient,
  name: string,
  signal?: AbortSignal,
  fresh = false,
): Promise<string | undefined> {
  const known = backend.owned.get(name);
  if (!fresh && known?.domain !== undefined) return known.domain ?? undefined;
  if (!fresh && !(await backend.usesDomains(signal))) return undefined;
  const domain = (await c.getVolume(name, signal)).domain;
  if (known) known.domain = domain ?? null;
  return domain;
}

/** FAILED_PRECONDITION: the volume and the node's host are in different domains. */
export function domainMismatch(
  volume: string,
  domain: string | undefined,
  host: KnownHost,
  cause?: unknown,
): DriverError {
  const whose = host.owned ? '' : ' (not created by the driver)';
  return failedPrecondition(
    `volume ${volume} is in ${label(domain)} but the node's array host ${host.name}${whose} is in ${label(host.domain)}; a 3PAR host sees only volumes of its own domain, so one node can use volumes of one domain only`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * True when the host is in another domain than the volume's, known before any VLUN is tried. A
 * host in no domain is left to the array ([U] whether it may see a domain's volume; the
 * simulator's `domainExport` switch): its refusal (403/118) is handled alike in exports.ts.
 */
export function inOtherDomain(domain: string | undefined, host: KnownHost): boolean {
  return host.domain !== undefined && host.domain !== domain;
}

/** The one domain of a group's sources (a VV set holds volumes of one domain); several → FAILED_PRECONDITION. */
export function sourcesDomain(group: string, sources: readonly Volume[]): string | undefined {
  const domains = [...new Set(sources.map((v) => v.domain))];
  if (domains.length > 1)
    throw failedPrecondition(
      `the sources of group snapshot ${group} are in ${domains.map(label).join(' and ')}; a VV set, which makes one point in time for all, holds volumes of one domain only`,
    );
  return domains[0];
}
