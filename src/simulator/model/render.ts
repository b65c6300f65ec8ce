/**
 * Wire forms of the objects (REFERENCE.md §3, §5.2, §7.4, §9.5, §10.2, §12). Unset members are
 * omitted, never null.
 */
import type { Sim } from './context.js';
import { encryptedSecret } from './hosts.js';
import { volumeDomain } from './domains.js';
import { COPY, PROV, VSTATE, type CpgRec, type HostRec, type SetRec, type VolumeRec } from './types.js';
import type { PortDef } from './vluns.js';

const iso8601 = (sec: number): string => `${new Date(sec * 1000).toISOString().slice(0, 19)}+00:00`;

function space(reserved: number, used: number): Record<string, number> {
  return { reservedMiB: reserved, rawReservedMiB: reserved * 2, usedMiB: used, freeMiB: Math.max(0, reserved - used) };
}

/** Detailed states a volume shows while tasks hold it (copy target/source, tune, promote). */
function taskStates(sim: Sim, v: VolumeRec): number[] {
  const states: number[] = [];
  for (const tid of v.busyTaskIds) {
    const t = sim.array.task(tid);
    if (!t) continue;
    if (t.kind === 'tune') states.push(t.tune?.conversion !== undefined ? VSTATE.CONVERTING : VSTATE.TUNING);
    else if (t.kind === 'promote') states.push(VSTATE.PROMOTING);
    else states.push(t.destId === v.id ? VSTATE.COPY_TARGET : VSTATE.COPY_SOURCE);
  }
  return states;
}

/** The volume object (§5.2). Built member by member: a list of 10,000 renders it 10,000 times. */
export function renderVolume(sim: Sim, v: VolumeRec): Record<string, unknown> {
  const a = sim.array;
  const isSnap = v.copyType === COPY.VIRTUAL_COPY;
  const out: Record<string, unknown> = {
    id: v.id,
    uuid: v.uuid,
    name: v.name,
    provisioningType: v.provisioningType,
    copyType: v.copyType,
  };
  // `domain` is omitted when the volume is in none (REFERENCE §5.2).
  const domain = volumeDomain(sim, v);
  if (domain !== undefined) out['domain'] = domain;
  if (v.parentId !== undefined) {
    const parent = a.volumeById(v.parentId);
    if (parent) out['copyOf'] = parent.name;
  }
  out['baseId'] = v.baseId;
  if (v.parentId !== undefined) out[isSnap ? 'parentId' : 'physParentId'] = v.parentId;
  let newestRo: VolumeRec | undefined;
  let newestRw: VolumeRec | undefined;
  for (const c of a.childrenOf(v.id)) {
    if (c.copyType !== COPY.VIRTUAL_COPY) continue;
    if (c.readOnly) newestRo = c;
    else newestRw = c;
  }
  if (newestRo) out['roChildId'] = newestRo.id;
  if (newestRw) out['rwChildId'] = newestRw.id;
  out['readOnly'] = v.readOnly;
  out['state'] = v.failedStates.length > 0 ? 3 : 1;
  out['failedStates'] = v.failedStates;
  out['degradedStates'] = [];
  out['additionalStates'] = v.busyTaskIds.length > 0 ? taskStates(sim, v) : [];
  const snp = v.provisioningType === PROV.SNP;
  out['adminSpace'] = space(snp ? 0 : 256, snp ? 0 : 32);
  out['snapshotSpace'] = space(0, 0);
  out['userSpace'] = space(a.reservedMiB(v), a.usedMiB(v));
  out['sizeMiB'] = v.sizeMiB;
  out['wwn'] = v.wwn;
  out['creationTimeSec'] = v.creationTimeSec;
  out['creationTime8601'] = iso8601(v.creationTimeSec);
  if (v.expirationTimeSec !== undefined) {
    out['expirationTimeSec'] = v.expirationTimeSec;
    out['expirationTime8601'] = iso8601(v.expirationTimeSec);
  }
  if (v.retentionTimeSec !== undefined) {
    out['retentionTimeSec'] = v.retentionTimeSec;
    out['retentionTime8601'] = iso8601(v.retentionTimeSec);
  }
  out['ssSpcAllocWarningPct'] = v.ssSpcAllocWarningPct ?? 0;
  out['ssSpcAllocLimitPct'] = v.ssSpcAllocLimitPct ?? 0;
  out['usrSpcAllocWarningPct'] = v.usrSpcAllocWarningPct ?? 0;
  out['usrSpcAllocLimitPct'] = v.usrSpcAllocLimitPct ?? 0;
  out['policies'] = {
    staleSS: v.policies.staleSS,
    oneHost: v.policies.oneHost,
    zeroDetect: v.policies.zeroDetect,
    system: false,
    caching: true,
  };
  if (v.userCPG !== undefined && !isSnap) out['userCPG'] = v.userCPG;
  if (v.snapCPG !== undefined) out['snapCPG'] = v.snapCPG;
  if (v.comment !== undefined) out['comment'] = v.comment;
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
    ...(h.domain !== undefined && { domain: h.domain }),
    ...(h.descriptors ? { descriptors: h.descriptors } : {}),
    FCPaths: h.fcWWNs.map((wwn) => ({ wwn, ...(fcPort ? { portPos: fcPort.portPos } : {}), hostSpeed: 0 })),
    iSCSIPaths: h.iSCSINames.map((name) => ({
      name,
      IPAddr: '127.0.0.1',
      ...(iscsiPort ? { portPos: iscsiPort.portPos } : {}),
      hostSpeed: 0,
    })),
    initiatorChapEnabled: h.initiatorChap !== undefined,
    ...(h.initiatorChap
      ? {
          initiatorChapName: h.initiatorChap.name,
          initiatorEncryptedChapSecret: encryptedSecret(h.initiatorChap.secret),
        }
      : {}),
    targetChapEnabled: h.targetChap !== undefined,
    ...(h.targetChap
      ? { targetChapName: h.targetChap.name, targetEncryptedChapSecret: encryptedSecret(h.targetChap.secret) }
      : {}),
    ...(sim.opts.profile.links ? { links: [{ href: `/api/v1/hosts/${h.name}`, rel: 'self' }] } : {}),
  };
}

export function renderSet(sim: Sim, s: SetRec, kind: 'volumesets' | 'hostsets'): Record<string, unknown> {
  const names = s.members
    .map((id) => (kind === 'volumesets' ? sim.array.volumeById(id)?.name : sim.array.hostById(id)?.name))
    .filter((n): n is string => n !== undefined);
  return {
    id: s.id,
    name: s.name,
    ...(s.domain !== undefined && { domain: s.domain }),
    ...(s.comment ? { comment: s.comment } : {}),
    ...(names.length > 0 ? { setmembers: names } : {}),
  };
}

export function renderPort(sim: Sim, p: PortDef): Record<string, unknown> {
  const { label, vlans, ...rest } = p;
  // Later firmware: iSCSIPortInfo with vlan (1 = tagged, 2 = not [U]) and the TCP port.
  const info =
    p.protocol === 2 && sim.opts.profile.iscsiPortInfo
      ? {
          iSCSIPortInfo: {
            ipAddr: p.IPAddr ?? '0.0.0.0',
            netmask: '255.255.255.0',
            gateway: '0.0.0.0',
            mtu: 1500,
            vlan: vlans ? 1 : 2,
            tcpPort: ISCSI_TCP_PORT,
            iSCSIName: p.iSCSIName,
            iSNSAddr: '0.0.0.0',
            iSNSPort: 3205,
          },
        }
      : {};
  // `device` lists the hosts with initiators on the port's protocol (they are all "logged in").
  const devices =
    p.type === 1 || p.type === 8
      ? sim.array.hosts
          .filter((h) => (p.protocol === 1 ? h.fcWWNs.length > 0 : h.iSCSINames.length > 0))
          .map((h) => h.name)
      : [];
  return { ...rest, mode: p.type === 2 ? 3 : 2, linkState: 4, label, device: devices, failoverState: 1, ...info };
}

/** The iSCSI TCP port the simulated portals listen on (reported, not served). */
export const ISCSI_TCP_PORT = 3260;

/** `/ports/<n:s:p>/iSCSIVlans` of an iSCSI port (later firmware). */
export function renderIscsiVlans(p: PortDef): Record<string, unknown> {
  return {
    iSCSIVlans: (p.vlans ?? []).map((v) => ({
      IPAddr: v.IPAddr,
      vlanTag: v.vlanTag,
      netmask: '255.255.255.0',
      gateway: '0.0.0.0',
      mtu: 1500,
      tcpPort: ISCSI_TCP_PORT,
      iSNSAddr: '0.0.0.0',
      iSNSPort: 3205,
    })),
  };
}

export function renderCpg(sim: Sim, c: CpgRec): Record<string, unknown> {
  const st = sim.array.cpgStats(c.name);
  const usage = (total: number, used: number): Record<string, number> => ({
    totalMiB: total,
    rawTotalMiB: total * 2,
    usedMiB: used,
    rawUsedMiB: used * 2,
  });
  const growth = {
    incrementMiB: 32768,
    LDLayout: {
      RAIDType: 4,
      HA: 2,
      diskPatterns: [{ diskType: c.name.startsWith('SSD') ? 3 : c.name.startsWith('NL') ? 2 : 1 }],
    },
  };
  return {
    id: c.id,
    uuid: c.uuid,
    name: c.name,
    ...(c.domain !== undefined && { domain: c.domain }),
    numFPVVs: st.numFPVVs,
    numTPVVs: st.numTPVVs,
    UsrUsage: usage(st.fullMiB, st.fullMiB),
    SAUsage: usage(0, 0),
    SDUsage: usage(st.thinUsedMiB, st.thinUsedMiB),
    SAGrowth: growth,
    // limitMiB is present only when a growth limit is set (REFERENCE §15).
    SDGrowth: { ...growth, ...(c.growthLimitMiB !== undefined && { limitMiB: c.growthLimitMiB }) },
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
      allocated: {
        totalAllocatedMiB: used,
        volumes: { totalVolumesMiB: used, CPGsMiB: used, CPGUserMiB: used, unmappedMiB: 0 },
        system: { totalSystemMiB: 0, internalMiB: 0, spareMiB: 0, spareUsedMiB: 0, spareUnusedMiB: 0 },
      },
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
