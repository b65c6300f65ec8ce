import { failedPrecondition, internal, resourceExhausted, unavailable, type DriverError } from '../errors.js';
import { PortLinkState, PortMode, PortProtocol, PortType } from '../wsapi/enums.js';
import type { Port, PortPos, Vlun, VlunId } from '../wsapi/types.js';
import type { Backend, KnownHost } from './backend.js';
import type { ArrayClient } from './client.js';
import { conditionOf } from './errors.js';
import { hostOwnerTag, parseHostMarker } from './marker.js';
import { hostNameFor } from './names.js';
import { cachedHostsOfNode, forgetNode, lookupHosts, resolveHost, type NodeRef } from './hosts.js';
import { domainMismatch, inOtherDomain, volumeDomain } from './domains.js';
import type { OpContext } from './ops.js';
import { formatPortPos } from '../util/port-pos.js';
import { wwnForHost } from '../util/wwn.js';

/** Default iSCSI port (1.3.x ports do not report one; later ones say `iSCSIPortInfo.tcpPort`; REFERENCE §10.3). */
export const ISCSI_PORT = 3260;

/** Where the node finds the LUN. */
export interface ExportTargets {
  iqns: string[];
  portals: string[];
  wwns: string[];
  /** The chosen ports' positions (for one VLUN per port when the host must not see all). */
  positions: PortPos[];
}

/** The export of a volume to a host. */
export interface Exported {
  lun: number;
  /** The volume's WWN as the VLUN list reports it (absent on arrays that omit it). */
  wwn?: string;
}

export interface PublishRequest {
  name: string;
  ref: NodeRef;
  protocol: string;
  /** A single-node volume: another host's VLUN means FAILED_PRECONDITION. */
  singleNode: boolean;
  /**
   * Checks the request's readonly flag against the volume's existing exports (`exported`: the
   * volume has a VLUN to any host) and records it for a first export; throws ALREADY_EXISTS.
   */
  readonlyGuard?: (exported: boolean) => Promise<void>;
  /**
   * The class's hostSeesVLUN: "false": one VLUN per target port (matched sets), so the host sees the
   * LUN only through these ports. Undefined or empty: one host-sees VLUN.
   */
  ports?: PortPos[];
  /**
   * The node's attach limit (`--max-volumes-per-node`; 0 or absent: none): a new export to a host
   * that already exports this many volumes → RESOURCE_EXHAUSTED.
   */
  maxVolumes?: number;
}

/**
 * Templates (the export rules) of `volume`, one per (host, LUN, port), or — on an array that
 * lists no templates — one per (host, LUN) of the live paths.
 */
export function exportsOf(vluns: readonly Vlun[], volume: string): Vlun[] {
  const all = vluns.filter((l) => l.volumeName === volume);
  const templates = all.filter((l) => l.active === false);
  const rules = templates.length > 0 ? templates : all;
  const seen = new Set<string>();
  return rules.filter((l) => {
    const port = templates.length > 0 && l.portPos ? formatPortPos(l.portPos) : '';
    const key = `${l.hostname ?? ''},${l.lun},${port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const samePort = (a: PortPos | undefined, b: PortPos): boolean =>
  a !== undefined && a.node === b.node && a.slot === b.slot && a.cardPort === b.cardPort;

function vlunId(l: Vlun): VlunId {
  return {
    volumeName: l.volumeName,
    lun: l.lun,
    ...(l.hostname !== undefined && { hostname: l.hostname }),
    ...(l.portPos !== undefined && l.active === false && { portPos: l.portPos }),
  };
}

/**
 * Exports the volume to the node's host (made in the volume's virtual domain; a host of another
 * domain → FAILED_PRECONDITION, domains.ts): reuses a VLUN for (volume, host) or creates one with
 * an automatic LUN, then re-reads the VLUNs (another process may have raced) and removes a
 * duplicate. Three requests for a new export to a known host (the volume's VLUNs — a query on
 * 3.2.1 MU2+, else the shared full list —, create, the same again); one to reuse.
 */
export async function exportVolume(
  backend: Backend,
  c: ArrayClient,
  req: PublishRequest,
  ctx: OpContext,
): Promise<Exported> {
  let domain = await volumeDomain(backend, c, req.name, ctx.signal);
  for (let attempt = 1; ; attempt++) {
    const host = await resolveHost(backend, c, req.ref, req.protocol, ctx, domain);
    try {
      return await backend.vlunLocks.run(host.name, () => exportToHost(backend, c, req, host, ctx, domain));
    } catch (err) {
      if (attempt >= 2) throw err instanceof OtherDomain ? err.refusal : err;
      // The host serves another domain: the volume's domain and the node's host are read again
      // (a cached CPG list, domain or host may be stale; our empty host was deleted).
      if (err instanceof OtherDomain) domain = await volumeDomain(backend, c, req.name, ctx.signal, true);
      // The host vanished (a racing unpublish deleted it with its last VLUN): look again.
      else if (conditionOf(err) === 'no-host') forgetNode(backend, req.ref.node.hostName);
      else throw err;
    }
  }
}

/**
 * The VLUNs a publish or unpublish reads: on firmware with VLUN queries (3.2.1 MU2+, the feature
 * table in wsapi/features.ts) the array's answer to `volumeName EQ` / `hostname EQ`, checked
 * member by member (VlunsResource.list), so its size does not grow with the array's; on 1.3.x
 * (no queries, REFERENCE §11.4) the shared full listing (Backend.vluns). Either way the answer
 * was started after the call, and callers filter it again (exportsOf, refuseOverLimit).
 */
function vlunsOf(
  backend: Backend,
  c: ArrayClient,
  filter: { volumeName: string } | { hostname: string },
  signal?: AbortSignal,
): Promise<readonly Vlun[]> {
  return byQuery(backend, c) ? c.queryVluns!(filter, signal) : backend.vluns(signal);
}

const byQuery = (backend: Backend, c: ArrayClient): boolean =>
  backend.features.vlunQueries && c.queryVluns !== undefined;

/** The node's host serves another domain (its refusal inside): look again once, then refuse. */
class OtherDomain extends Error {
  constructor(readonly refusal: DriverError) {
    super(refusal.message);
  }
}

/**
 * The node's host serves another domain than the volume's (known from the host, or the array's
 * 403/118). A host the driver made that exports nothing is deleted, so that the caller makes one
 * in the volume's domain; any other is forgotten, so that the caller looks it up again (it may
 * have been moved since it was cached). A second time → FAILED_PRECONDITION naming both domains.
 */
async function leaveOtherDomain(
  backend: Backend,
  c: ArrayClient,
  req: PublishRequest,
  host: KnownHost,
  ctx: OpContext,
  domain: string | undefined,
  cause?: unknown,
): Promise<never> {
  const refusal = domainMismatch(req.name, domain, host, cause);
  if (!host.owned || !(await deleteHostIfOwned(backend, c, host.name, ctx))) forgetNode(backend, req.ref.node.hostName);
  throw new OtherDomain(refusal);
}

async function exportToHost(
  backend: Backend,
  c: ArrayClient,
  req: PublishRequest,
  host: KnownHost,
  ctx: OpContext,
  domain: string | undefined,
): Promise<Exported> {
  const listing = await vlunsOf(backend, c, { volumeName: req.name }, ctx.signal);
  const before = exportsOf(listing, req.name);
  const existing = before.filter((l) => l.hostname === host.name).sort((a, b) => a.lun - b.lun)[0];
  // The attach limit counts the host's exports: in the full listing, or one more query.
  if (!existing && req.maxVolumes)
    refuseOverLimit(
      req,
      host,
      byQuery(backend, c) ? await vlunsOf(backend, c, { hostname: host.name }, ctx.signal) : listing,
    );
  // An existing VLUN proves the domains match, whatever the caches say.
  if (!existing && inOtherDomain(domain, host)) await leaveOtherDomain(backend, c, req, host, ctx, domain);
  try {
    refuseOthers(req, host, before);
  } catch (err) {
    if (host.owned) await deleteHostIfOwned(backend, c, host.name, ctx);
    throw err;
  }
  await req.readonlyGuard?.(before.length > 0);
  const ports = req.ports ?? [];
  const missing = (lun: number): PortPos[] =>
    ports.filter((p) => !before.some((l) => l.hostname === host.name && l.lun === lun && samePort(l.portPos, p)));
  // ControllerPublish is idempotent: an existing VLUN for (volume, host) is reused.
  if (existing && missing(existing.lun).length === 0) return { lun: existing.lun, wwn: existing.volumeWWN };
  const { created, refusal, otherDomain } = await createVluns(
    c,
    req,
    host,
    existing ? { lun: existing.lun, ports: missing(existing.lun) } : { ports },
  );
  if (otherDomain) await leaveOtherDomain(backend, c, req, host, ctx, domain, otherDomain);
  // Re-read after our own changes: vlunsOf only hands out an answer started after this call.
  const after = exportsOf(await vlunsOf(backend, c, { volumeName: req.name }, ctx.signal), req.name);
  const mine = after.filter((l) => l.hostname === host.name).sort((a, b) => a.lun - b.lun);
  try {
    refuseOthers(req, host, after);
  } catch (err) {
    for (const id of created) await deleteVlunQuietly(c, id);
    // A host this call created for nothing is not left behind.
    if (host.owned) await deleteHostIfOwned(backend, c, host.name, ctx);
    throw err;
  }
  const keep = mine[0];
  if (!keep) {
    if (refusal) throw refusal;
    throw internal(`the VLUN of ${req.name} to ${host.name} was created but is not listed by the array`);
  }
  // Another process exported it to this host at the same time: the lowest LUN wins everywhere.
  for (const id of created) if (id.lun !== keep.lun) await deleteVlunQuietly(c, id);
  // Every chosen port must present the LUN, or the node would log in to targets without it: fail,
  // and the retried publish creates only the ports still missing.
  const uncovered = ports.filter((p) => !mine.some((l) => l.lun === keep.lun && samePort(l.portPos, p)));
  if (uncovered.length > 0) {
    if (refusal) throw refusal;
    throw unavailable(
      `the VLUN of ${req.name} to ${host.name} is missing on ports ${uncovered.map(formatPortPos).join(', ')}; retry`,
    );
  }
  ctx.log.info(
    { volume: req.name, host: host.name, lun: keep.lun, ports: ports.length || undefined },
    'volume exported',
  );
  return { lun: keep.lun, wwn: keep.volumeWWN };
}

/**
 * Creates the VLUNs of an export: the missing ports' at the existing LUN, or a new one with an
 * automatic LUN and then the further ports' at it. A refusal the re-read may explain (the oneHost
 * policy, a LUN a racing process took, …) is returned; so is the array's domain refusal (a host in
 * no domain is left to it: domains.ts), as `otherDomain`, with what was made removed.
 */
async function createVluns(
  c: ArrayClient,
  req: PublishRequest,
  host: KnownHost,
  at: { lun?: number; ports: PortPos[] },
): Promise<{ created: VlunId[]; refusal?: unknown; otherDomain?: unknown }> {
  const created: VlunId[] = [];
  const vlun = (lun: number, portPos: PortPos): Promise<VlunId> =>
    c.createVlun({ volumeName: req.name, hostname: host.name, lun, autoLun: false, portPos });
  try {
    let lun = at.lun;
    let rest = at.ports;
    if (lun === undefined) {
      const first = await c.createVlun({
        volumeName: req.name,
        hostname: host.name,
        lun: 0,
        autoLun: true,
        maxAutoLun: 0,
        ...(at.ports[0] && { portPos: at.ports[0] }),
      });
      created.push(first);
      lun = first.lun;
      rest = at.ports.slice(1);
    }
    for (const portPos of rest) created.push(await vlun(lun, portPos));
    return { created };
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-host' || cond === 'no-volume' || cond === 'unavailable' || cond === 'aborted') throw err;
    if (cond === 'domain') {
      for (const id of created) await deleteVlunQuietly(c, id);
      return { created: [], otherDomain: err };
    }
    return { created, refusal: err };
  }
}

/**
 * The node's attach limit, counted from the VLUN listing the publish reads anyway: the volumes
 * the host already exports. The scheduler normally keeps within it (CSINode allocatable); this
 * is the check for calls that bypass it (a static PV, a manual VolumeAttachment).
 */
function refuseOverLimit(req: PublishRequest, host: KnownHost, listing: readonly Vlun[]): void {
  if (!req.maxVolumes || req.maxVolumes <= 0) return;
  const volumes = new Set(
    listing.filter((l) => l.hostname === host.name && l.volumeName !== req.name).map((l) => l.volumeName),
  );
  if (volumes.size >= req.maxVolumes)
    throw resourceExhausted(
      `node ${req.ref.node.hostName} already has ${volumes.size} volumes attached (array host ${host.name}); its limit is ${req.maxVolumes}`,
    );
}

/** A single-node volume exported to another host → FAILED_PRECONDITION. */
function refuseOthers(req: PublishRequest, host: KnownHost, rules: readonly Vlun[]): void {
  const other = rules.find((l) => l.hostname !== host.name);
  if (req.singleNode && other)
    throw failedPrecondition(
      `volume ${req.name} is single-node and already published to array host ${other.hostname ?? '?'}; unpublish it there first`,
    );
}

async function deleteVlunQuietly(c: ArrayClient, id: VlunId): Promise<void> {
  try {
    await c.deleteVlun(id);
  } catch (err) {
    if (conditionOf(err) !== 'no-vlun' && conditionOf(err) !== 'no-host') throw err;
  }
}

/**
 * Removes the volume's VLUNs of the node's host (or of every host when `ref` is undefined) and
 * deletes a host carrying this cluster's marker once its last VLUN is gone. An unknown volume
 * or node succeeds. Two requests on the common path (list, delete), three with the host.
 */
export async function unexportVolume(
  backend: Backend,
  c: ArrayClient,
  name: string,
  ref: NodeRef | undefined,
  ctx: OpContext,
): Promise<void> {
  const vluns = await vlunsOf(backend, c, { volumeName: name }, ctx.signal);
  const rules = exportsOf(vluns, name);
  // ControllerUnpublish of a volume exported nowhere (or unknown) succeeds; a host of this node
  // that an earlier attempt emptied but could not delete (a 500, a dropped connection, a kill
  // between the VLUN delete and the host delete) is removed now, or it stays forever.
  if (rules.length === 0) {
    if (ref) await removeIdleHost(backend, c, byQuery(backend, c) ? undefined : vluns, ref, ctx);
    return;
  }
  let hostNames: Set<string>;
  if (ref) {
    hostNames = new Set([
      hostNameFor(ctx.owner.driverName, ctx.owner.clusterId, ref.node.hostName),
      ...cachedHostsOfNode(backend, ref.node.hostName).map((h) => h.name),
    ]);
    // Hosts made one per protocol by another tool: each holds some of the node's initiators. A
    // volume is exported to a node through one host (its protocol's), so once a rule names a
    // known host of this node the others are other nodes' exports: no lookup.
    if (!rules.some((l) => hostNames.has(l.hostname ?? '')))
      for (const found of await lookupHosts(c, ref, ctx)) hostNames.add(found.name);
  } else {
    hostNames = new Set(rules.map((l) => l.hostname ?? ''));
  }
  const targets = rules.filter((l) => hostNames.has(l.hostname ?? ''));
  const byHost = new Map<string, Vlun[]>();
  for (const l of targets) byHost.set(l.hostname ?? '', [...(byHost.get(l.hostname ?? '') ?? []), l]);
  for (const [hostName, list] of byHost) {
    await backend.vlunLocks.run(hostName, async () => {
      for (const l of list) await deleteVlunQuietly(c, vlunId(l));
      ctx.log.info({ volume: name, host: hostName }, 'volume unexported');
      // The listing above may be stale (parallel unpublishes from this host): the array itself
      // refuses to delete a host that still exports something, so the delete is always tried.
      if (hostName !== '') await deleteHostIfOwned(backend, c, hostName, ctx);
    });
  }
}

/**
 * The node's own host (the driver names its hosts deterministically) when the listing shows it
 * exports nothing: deleted if it carries this cluster's marker. One request when no such host
 * exists (the GET that finds none), two when it is deleted. With VLUN queries (no full listing)
 * a host that still exports other volumes is read and its delete refused by the array.
 */
async function removeIdleHost(
  backend: Backend,
  c: ArrayClient,
  listing: readonly Vlun[] | undefined,
  ref: NodeRef,
  ctx: OpContext,
): Promise<void> {
  // The driver's own host of a node always has the deterministic name.
  const hostName = hostNameFor(ctx.owner.driverName, ctx.owner.clusterId, ref.node.hostName);
  // The full listing (1.3.x) shows whether the host still exports something. With queries there
  // is none: the host is read (or deleted when known) at once, and the array refuses to delete a
  // host that still exports something (deleteHostIfOwned leaves it then), so no host query.
  if (listing?.some((l) => l.hostname === hostName)) return;
  await backend.vlunLocks.run(hostName, () => deleteHostIfOwned(backend, c, hostName, ctx));
}

/** Deletes a host this cluster created, once it exports nothing (a racing export keeps it). True when it is gone. */
async function deleteHostIfOwned(backend: Backend, c: ArrayClient, hostName: string, ctx: OpContext): Promise<boolean> {
  const keys = [...backend.hosts.entries()].filter(([, h]) => h.name === hostName).map(([k]) => k);
  const known = keys.length > 0 ? backend.hosts.get(keys[0]!) : undefined;
  const forget = (): void => keys.forEach((k) => backend.hosts.delete(k));
  try {
    if (known && !known.owned) return false;
    if (!known) {
      const h = await c.getHost(hostName, ctx.signal);
      if (parseHostMarker(h.descriptors?.comment)?.o !== hostOwnerTag(ctx.owner.driverName, ctx.owner.clusterId))
        return false;
    }
    await c.deleteHost(hostName);
    forget();
    ctx.log.info({ host: hostName }, 'array host deleted with its last VLUN');
    return true;
  } catch (err) {
    const cond = conditionOf(err);
    if (cond === 'no-host') forget();
    // Gone, still exporting (a racing publish), or in a host set an admin made (77): left alone.
    if (cond !== 'no-host' && cond !== 'exported' && cond !== 'in-use' && cond !== 'host-in-set') throw err;
    return cond === 'no-host';
  }
}

function ready(p: Port): boolean {
  return p.mode === PortMode.TARGET && p.linkState === PortLinkState.READY;
}

/** Target ports for the node (REFERENCE §10.3), narrowed by the class's portal/port lists. */
export function selectTargets(
  ports: readonly Port[],
  protocol: string,
  iscsiPortalIps?: readonly string[],
  fcPorts?: readonly string[],
): ExportTargets {
  const out: ExportTargets = { iqns: [], portals: [], wwns: [], positions: [] };
  if (protocol === 'iscsi') {
    for (const p of ports) {
      if (!ready(p) || p.protocol !== PortProtocol.ISCSI || p.type === PortType.RCIP || !p.iSCSIName) continue;
      // The port's own address and, on a VLAN-tagged port, each VLAN interface's.
      const addresses = [
        { ip: p.IPAddr, tcp: p.iSCSIPortInfo?.tcpPort },
        ...(p.iSCSIVlans ?? []).map((v) => ({ ip: v.IPAddr, tcp: v.tcpPort ?? p.iSCSIPortInfo?.tcpPort })),
      ];
      let chosen = false;
      for (const a of addresses) {
        if (!a.ip || a.ip === '0.0.0.0' || (iscsiPortalIps && !iscsiPortalIps.includes(a.ip))) continue;
        out.iqns.push(p.iSCSIName);
        out.portals.push(`${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.tcp ?? ISCSI_PORT}`);
        chosen = true;
      }
      if (chosen) out.positions.push(p.portPos);
    }
  } else if (protocol === 'fc') {
    const excluded: number[] = [PortType.DISK, PortType.RCFC, PortType.PEER];
    for (const p of ports) {
      if (!ready(p) || p.protocol !== PortProtocol.FC || excluded.includes(p.type ?? 0) || !p.portWWN) continue;
      const nsp = formatPortPos(p.portPos);
      if (fcPorts && !fcPorts.includes(nsp)) continue;
      out.wwns.push(wwnForHost(p.portWWN));
      out.positions.push(p.portPos);
    }
  }
  return out;
}
