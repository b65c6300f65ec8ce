/**
 * Wire forms of the objects (REFERENCE.md §3, §5.2, §7.4, §9.5, §10.2, §12). Unset members are
 * omitted, never null.
 */
import type { Sim } from './context.js';
import { encryptedSecret } from './hosts.js';
import { COPY, PROV, VSTATE, type CpgRec, type HostRec, type SetRec, type VolumeRec } from './types.js';
import type { PortDef } from './vluns.js';

const iso8601 = (sec: number): string => new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');

function space(reserved: number, used: number): Record<string, number> {
  return { reservedMiB: reserved, rawReservedMiB: reserved * 2, usedMiB: used, freeMiB: Math.max(0, reserved - used) };
}

export function renderVolume(sim: Sim, v: VolumeRec): Record<string, unknown> {
  const a = sim.array;
  const parent = v.parentId === undefined ? undefined : a.volumeById(v.parentId);
  const additional: number[] = [];
  for (const tid of v.busyTaskIds) {
    const t = a.task(tid);
    if (!t) continue;
    if (t.kind === 'tune') additional.push(t.tune?.conversion !== undefined ? VSTATE.CONVERTING : VSTATE.TUNING);
    else if (t.kind === 'promote') additional.push(VSTATE.PROMOTING);
    else additional.push(t.destId === v.id ? VSTATE.COPY_TARGET : VSTATE.COPY_SOURCE);
  }
  const snaps = a.childrenOf(v.id).filter((c) => c.copyType === COPY.VIRTUAL_COPY);
  const newestRo = snaps.filter((c) => c.readOnly).at(-1);
  const newestRw = snaps.filter((c) => !c.readOnly).at(-1);
  const used = a.usedMiB(v);
  const reserved = a.reservedMiB(v);
  const out: Record<string, unknown> = {
    id: v.id,
    uuid: v.uuid,
    name: v.name,
    provisioningType: v.provisioningType,
    copyType: v.copyType,
    ...(parent ? { copyOf: parent.name } : {}),
    baseId: v.baseId,
    ...(v.copyType === COPY.VIRTUAL_COPY && v.parentId !== undefined ? { parentId: v.parentId } : {}),
    ...(v.copyType === COPY.PHYSICAL_COPY && v.parentId !== undefined ? { physParentId: v.parentId } : {}),
    ...(newestRo ? { roChildId: newestRo.id } : {}),
    ...(newestRw ? { rwChildId: newestRw.id } : {}),
    readOnly: v.readOnly,
    state: v.failedStates.length > 0 ? 3 : 1,
    failedStates: v.failedStates,
    degradedStates: [],
    additionalStates: additional,
    adminSpace: space(v.provisioningType === PROV.SNP ? 0 : 256, v.provisioningType === PROV.SNP ? 0 : 32),
    snapshotSpace: space(0, 0),
    userSpace: space(reserved, used),
    sizeMiB: v.sizeMiB,
    wwn: v.wwn,
    creationTimeSec: v.creationTimeSec,
    creationTime8601: iso8601(v.creationTimeSec),
    ...(v.expirationTimeSec === undefined ? {} : { expirationTimeSec: v.expirationTimeSec, expirationTime8601: iso8601(v.expirationTimeSec) }),
    ...(v.retentionTimeSec === undefined ? {} : { retentionTimeSec: v.retentionTimeSec, retentionTime8601: iso8601(v.retentionTimeSec) }),
    ssSpcAllocWarningPct: v.ssSpcAllocWarningPct ?? 0,
    ssSpcAllocLimitPct: v.ssSpcAllocLimitPct ?? 0,
    usrSpcAllocWarningPct: v.usrSpcAllocWarningPct ?? 0,
    usrSpcAllocLimitPct: v.usrSpcAllocLimitPct ?? 0,
    policies: { ...v.policies, system: false, caching: true },
    ...(v.userCPG === undefined || v.copyType === COPY.VIRTUAL_COPY ? {} : { userCPG: v.userCPG }),
    ...(v.snapCPG === undefined ? {} : { snapCPG: v.snapCPG }),
    ...(v.comment === undefined ? {} : { comment: v.comment }),
  };
  if (sim.opts.profile.links) out['links'] = [{ href: `/api/v1/volumes/${v.name}`, rel: 'self' }];
  if (sim.opts.profile.reduce) out['compressionState'] = v.compression ? 1 : 2;
  return out;
}

export function renderHost(sim: Sim, h: HostRec, ports: PortDef[]): Record<string, unknown> {
  const fcPort = ports.find((p) => p.protocol === 1);
  const iscsiPort = ports.find((p) => p.protocol === 2);
  return {
    id: h.id,
    name: h.name,
    persona: h.persona,
    ...(h.descriptors ? { descriptors: h.descriptors } : {}),
    FCPaths: h.fcWWNs.map((wwn) => ({ wwn, ...(fcPort ? { portPos: fcPort.portPos } : {}), hostSpeed: 0 })),
    iSCSIPaths: h.iSCSINames.map((name) => ({ name, IPAddr: '127.0.0.1', ...(iscsiPort ? { portPos: iscsiPort.portPos } : {}), hostSpeed: 0 })),
    initiatorChapEnabled: h.initiatorChap !== undefined,
    ...(h.initiatorChap ? { initiatorChapName: h.initiatorChap.name, initiatorEncryptedChapSecret: encryptedSecret(h.initiatorChap.secret) } : {}),
    targetChapEnabled: h.targetChap !== undefined,
    ...(h.targetChap ? { targetChapName: h.targetChap.name, targetEncryptedChapSecret: encryptedSecret(h.targetChap.secret) } : {}),
    ...(sim.opts.profile.links ? { links: [{ href: `/api/v1/hosts/${h.name}`, rel: 'self' }] } : {}),
  };
}

export function renderSet(sim: Sim, s: SetRec, kind: 'volumesets' | 'hostsets'): Record<string, unknown> {
  const names = s.members.map((id) => (kind === 'volumesets' ? sim.array.volumeById(id)?.name : sim.array.hostById(id)?.name)).filter((n): n is string => n !== undefined);
  return { id: s.id, name: s.name, ...(s.comment ? { comment: s.comment } : {}), ...(names.length > 0 ? { setmembers: names } : {}) };
}

export function renderPort(sim: Sim, p: PortDef): Record<string, unknown> {
  const { label, ...rest } = p;
  // `device` lists the hosts with initiators on the port's protocol (they are all "logged in").
  const devices = p.type === 1 || p.type === 8 ? sim.array.hosts.filter((h) => (p.protocol === 1 ? h.fcWWNs.length > 0 : h.iSCSINames.length > 0)).map((h) => h.name) : [];
  return { ...rest, mode: p.type === 2 ? 3 : 2, linkState: 4, label, device: devices, failoverState: 1 };
}

export function renderCpg(sim: Sim, c: CpgRec): Record<string, unknown> {
  const st = sim.array.cpgStats(c.name);
  const usage = (total: number, used: number): Record<string, number> => ({ totalMiB: total, rawTotalMiB: total * 2, usedMiB: used, rawUsedMiB: used * 2 });
  const growth = { incrementMiB: 32768, LDLayout: { RAIDType: 4, HA: 2, diskPatterns: [{ diskType: c.name.startsWith('SSD') ? 3 : c.name.startsWith('NL') ? 2 : 1 }] } };
  return {
    id: c.id,
    uuid: c.uuid,
    name: c.name,
    numFPVVs: st.numFPVVs,
    numTPVVs: st.numTPVVs,
    UsrUsage: usage(st.fullMiB, st.fullMiB),
    SAUsage: usage(0, 0),
    SDUsage: usage(st.thinUsedMiB, st.thinUsedMiB),
    SAGrowth: growth,
    SDGrowth: { ...growth, limitMiB: c.sizeMiB },
    state: 1,
    failedStates: [],
    degradedStates: [],
    additionalStates: [],
  };
}

export function renderSystem(sim: Sim): Record<string, unknown> {
  const total = sim.array.cpgs.reduce((n, c) => n + c.sizeMiB, 0);
  const allocated = sim.array.cpgs.reduce((n, c) => n + sim.array.cpgUsedMiB(c.name), 0);
  return {
    id: sim.array.state.systemId,
    name: 'sim-3par',
    IPv4Addr: '127.0.0.1',
    model: 'HP_3PAR 7400',
    serialNumber: String(1600000 + sim.array.state.systemId),
    systemVersion: sim.opts.profile.systemVersion,
    totalNodes: 2,
    masterNode: 0,
    onlineNodes: [0, 1],
    clusterNodes: [0, 1],
    chunkletSizeMiB: 1024,
    totalCapacityMiB: total,
    allocatedCapacityMiB: allocated,
    freeCapacityMiB: total - allocated,
    failedCapacityMiB: 0,
    location: 'simulator',
    owner: '3par-csi',
    contact: '',
    comment: 'embedded WSAPI simulator',
    timeZone: 'UTC',
  };
}

export function renderCapacity(sim: Sim): Record<string, unknown> {
  const byClass = (pred: (c: CpgRec) => boolean): Record<string, unknown> => {
    const cpgs = sim.array.cpgs.filter(pred);
    const total = cpgs.reduce((n, c) => n + c.sizeMiB, 0);
    const used = cpgs.reduce((n, c) => n + sim.array.cpgUsedMiB(c.name), 0);
    return {
      totalMiB: total,
      allocated: { totalAllocatedMiB: used, volumes: { totalVolumesMiB: used, CPGsMiB: used, CPGUserMiB: used, unmappedMiB: 0 }, system: { totalSystemMiB: 0, internalMiB: 0, spareMiB: 0, spareUsedMiB: 0, spareUnusedMiB: 0 } },
      freeMiB: total - used,
      freeInitializedMiB: total - used,
      freeUninitializedMiB: 0,
      unavailableCapacityMiB: 0,
      failedCapacityMiB: 0,
    };
  };
  return {
    allCapacity: byClass(() => true),
    FCCapacity: byClass((c) => !c.name.startsWith('SSD') && !c.name.startsWith('NL')),
    NLCapacity: byClass((c) => c.name.startsWith('NL')),
    SSDCapacity: byClass((c) => c.name.startsWith('SSD')),
  };
}

