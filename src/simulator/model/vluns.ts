/**
 * Ports (§10) and VLUNs (§11). A VLUN create stores a template (the export rule); listing shows
 * each template (`active: false`) plus one active VLUN per covered host initiator × target port
 * of its protocol (hosts without paths — the loop protocol — have only the template). The
 * assigned LUN is reported only in the Location header.
 */
import { F, PORT_POS_SCHEMA, checkName, read, validate, type Body, type Schema } from '../validate.js';
import { formatPortPos } from '../../util/port-pos.js';
import type { Reply, Sim } from './context.js';
import type { PortPos, SetRec, VlunRec } from './types.js';
import { checkExportDomains } from './domains.js';

/** §11.1 VLUN types. */
export const VLUN_TYPE = { PORT: 2, HOST: 3, MATCHED_SET: 4, HOST_SET: 5 } as const;
const MAX_LUN = 16383;

export interface PortDef {
  portPos: PortPos;
  protocol: number;
  type: number;
  label: string;
  IPAddr?: string;
  iSCSIName?: string;
  portWWN?: string;
  nodeWWN?: string;
  HWAddr?: string;
  partnerPos?: PortPos;
  /** VLAN interfaces of a tagged iSCSI port (`/ports/<n:s:p>/iSCSIVlans`). */
  vlans?: { IPAddr: string; vlanTag: number }[];
}

/** The array's target ports: four FC, two iSCSI (portals on 127.0.0.x only), one remote-copy, one disk port. */
export function makePorts(systemId: number, vlanTagged = false): PortDef[] {
  const serial = systemId.toString(16).toUpperCase().padStart(6, '0');
  const fc = (node: number, slot: number, cardPort: number): PortDef => ({
    portPos: { node, slot, cardPort },
    protocol: 1,
    type: 1,
    label: `FC${node}${slot}${cardPort}`,
    portWWN: `2${node}${slot}${cardPort}0002AC${serial}`,
    nodeWWN: `2FF70002AC${serial}`,
    partnerPos: { node: 1 - node, slot, cardPort },
  });
  const iscsi = (node: number, ip: string): PortDef => ({
    portPos: { node, slot: 2, cardPort: 1 },
    protocol: 2,
    type: 8,
    label: `iSCSI${node}21`,
    IPAddr: ip,
    iSCSIName: `iqn.2000-05.com.3pardata:2${node}210002ac${serial.toLowerCase()}`,
    HWAddr: `2C27D7${serial}${node}`.slice(0, 12),
    partnerPos: { node: 1 - node, slot: 2, cardPort: 1 },
  });
  return [
    fc(0, 1, 1),
    fc(1, 1, 1),
    fc(0, 1, 2),
    fc(1, 1, 2),
    iscsi(0, '127.0.0.2'),
    // A VLAN-tagged port has no untagged address [U]: its portal lives on the VLAN interface.
    vlanTagged ? { ...iscsi(1, '0.0.0.0'), vlans: [{ IPAddr: '127.0.0.5', vlanTag: 100 }] } : iscsi(1, '127.0.0.3'),
    {
      portPos: { node: 0, slot: 3, cardPort: 1 },
      protocol: 4,
      type: 7,
      label: 'RCIP0',
      IPAddr: '127.0.0.4',
      HWAddr: `2C27D7${serial}9`.slice(0, 12),
    },
    { portPos: { node: 0, slot: 0, cardPort: 1 }, protocol: 5, type: 2, label: 'DISK0' },
  ];
}

/** `n:s:p` (the one formatter, src/util/port-pos.ts). */
export const nsp = formatPortPos;

/** Parses `n:s:p`; undefined when malformed. */
export function parseNsp(s: string): PortPos | undefined {
  const m = /^(\d):(\d):(\d)$/.exec(s);
  return m ? { node: Number(m[1]), slot: Number(m[2]), cardPort: Number(m[3]) } : undefined;
}

const samePos = (a?: PortPos, b?: PortPos): boolean =>
  (a === undefined && b === undefined) || (a !== undefined && b !== undefined && nsp(a) === nsp(b));

const CREATE_SCHEMA: Schema = {
  volumeName: { type: { t: 'text', max: 35 }, required: true },
  lun: F.igint32(true),
  hostname: { type: { t: 'text', max: 35 } },
  portPos: F.object(PORT_POS_SCHEMA),
  noVcn: F.bool(),
  overrideLowerPriority: F.bool(),
  autoLun: F.bool(),
  maxAutoLun: F.igint32(),
};

function portOf(sim: Sim, ports: PortDef[], pos: PortPos): PortDef {
  if (pos.node > 7 || pos.slot > 9 || pos.cardPort > 9) throw sim.errors.err('INV_INPUT_PORT_SPECIFICATION', 'portPos');
  const p = ports.find((x) => nsp(x.portPos) === nsp(pos));
  if (!p) throw sim.errors.err('NON_EXISTENT_PORT', 'portPos');
  return p;
}

/**
 * LUNs a new template would collide with. A host sees LUNs per target port: a host-sees template
 * (no port) collides with every template of its hosts, a matched-set template only with the
 * hosts' templates on all ports or on the same port — so one volume may be exported to a host
 * at the same LUN through several ports. Port-presents templates collide on their port.
 */
function usedLuns(sim: Sim, hostIds: number[], pos?: PortPos): Set<number> {
  const used = new Set<number>();
  if (hostIds.length > 0) {
    for (const h of hostIds)
      for (const t of sim.array.vlunsOfHost(h))
        if (pos === undefined || t.portPos === undefined || samePos(t.portPos, pos)) used.add(t.lun);
    return used;
  }
  for (const t of sim.array.vluns)
    if (sim.array.vlunHostIds(t).length === 0 && samePos(t.portPos, pos)) used.add(t.lun);
  return used;
}

export function createVlun(sim: Sim, ports: PortDef[], body: unknown): Reply {
  const e = sim.errors;
  const b = validate(e, body, CREATE_SCHEMA);
  const volumeName = read.str(b, 'volumeName')!;
  const hostname = read.str(b, 'hostname');
  // Names are name31, or `set:` and a Name27.
  for (const [ref, n] of [
    ['volumeName', volumeName],
    ['hostname', hostname],
  ] as const) {
    if (n === undefined) continue;
    if (n.startsWith('set:')) checkName(e, n.slice(4), 27, ref);
    else checkName(e, n, 31, ref);
  }
  const posBody = read.obj(b, 'portPos');
  if (hostname === undefined && posBody === undefined)
    throw e.err('INV_INPUT', 'hostname', 'one of hostname and portPos is required');
  if (b['overrideLowerPriority'] === true && hostname === undefined)
    throw e.err('INV_INPUT_PARAM_CONFLICT', 'overrideLowerPriority');
  const lunIn = read.num(b, 'lun');
  if (lunIn === undefined) throw e.err('INV_INPUT_EXCEEDS_RANGE', 'lun');
  if (lunIn > MAX_LUN) throw e.err('TOO_LARGE', 'lun');
  const tpl: VlunRec = { lun: lunIn, type: VLUN_TYPE.HOST, creationSeq: sim.array.state.nextVlunSeq++ };
  let volIds: number[];
  const volSide: Parameters<typeof checkExportDomains>[1] = {};
  if (volumeName.startsWith('set:')) {
    const set = sim.array.volumeSet(volumeName.slice(4));
    if (!set) throw e.err('NON_EXISTENT_SET', 'volumeName');
    if (set.members.length === 0) throw e.err('INV_INPUT_EMPTY_VVSET', 'volumeName');
    tpl.volumeSetId = set.id;
    volSide.set = set;
    volIds = set.members;
  } else {
    const v = sim.array.volume(volumeName);
    if (!v) throw e.err('NON_EXISTENT_VOL', 'volumeName');
    tpl.volumeId = v.id;
    volSide.vol = v;
    volIds = [v.id];
  }
  let hostIds: number[] = [];
  let hostSide: { domain?: string } | undefined;
  if (hostname?.startsWith('set:')) {
    const hs: SetRec | undefined = sim.array.hostSet(hostname.slice(4));
    if (!hs) throw e.err('NON_EXISTENT_SET', 'hostname');
    tpl.hostSetId = hs.id;
    hostSide = hs;
    tpl.type = VLUN_TYPE.HOST_SET;
    hostIds = hs.members;
  } else if (hostname !== undefined) {
    const h = sim.array.host(hostname);
    if (!h) throw e.err('NON_EXISTENT_HOST', 'hostname');
    tpl.hostId = h.id;
    hostSide = h;
    hostIds = [h.id];
  }
  if (posBody) {
    const port = portOf(sim, ports, posBody as unknown as PortPos);
    if (port.type !== 1 && port.type !== 8) throw e.err('BAD_PORT_TYPE', 'portPos');
    tpl.portPos = port.portPos;
    tpl.type = hostname === undefined ? VLUN_TYPE.PORT : VLUN_TYPE.MATCHED_SET;
  }
  checkExportDomains(sim, volSide, hostSide);
  for (const id of volIds) {
    const v = sim.array.volumeById(id)!;
    const task = sim.array.activeTaskOf(id, ['offline-copy', 'resync']);
    if (task && task.destId === id) throw e.err('INV_OPERATION_VLUN_PCOPY_TARGET_VV', 'volumeName');
    if (v.policies.oneHost) checkOneHost(sim, id, hostIds);
  }
  tpl.lun = chooseLun(sim, b, lunIn, usedLuns(sim, hostIds, tpl.portPos));
  sim.array.addVlun(tpl);
  sim.array.touch();
  const port = tpl.portPos ? `,${nsp(tpl.portPos)}` : '';
  return { status: 201, location: `/api/v1/vluns/${volumeName},${tpl.lun},${hostname ?? ''}${port}` };
}

/** The volume policy oneHost: no VLUN of this volume may reach a host other than `hostIds`. */
function checkOneHost(sim: Sim, volId: number, hostIds: number[]): void {
  const others = new Set<number>(hostIds);
  for (const t of sim.array.vlunsOfVolume(volId)) for (const h of sim.array.vlunHostIds(t)) others.add(h);
  if (others.size > 1) throw sim.errors.err('VV_ONE_HOST_POLICY', 'hostname');
}

function chooseLun(sim: Sim, b: Body, lun: number, used: Set<number>): number {
  if (b['autoLun'] !== true) {
    if (used.has(lun)) throw sim.errors.err('EXISTENT_LUN', 'lun');
    return lun;
  }
  const max = Math.min(MAX_LUN, read.num(b, 'maxAutoLun') || MAX_LUN);
  for (let l = lun; l <= max; l++) if (!used.has(l)) return l;
  throw sim.errors.err('AUTO_LUN_ID_UNAVAILABLE');
}

/** Parses `<vol>,<lun>,<host>[,<n:s:p>]` and finds the template; throws the array's errors. */
export function findVlun(sim: Sim, ports: PortDef[], id: string): VlunRec {
  const e = sim.errors;
  const parts = id.split(',');
  if (parts.length < 3 || parts.length > 4)
    throw e.err('INV_INPUT', undefined, 'VLUN id is <volume>,<lun>,<host>[,<n:s:p>]');
  const [volName, lunStr, hostName, portStr] = parts as [string, string, string, string | undefined];
  if (!/^\d+$/.test(lunStr)) throw e.err('INV_INPUT', 'lun');
  const lun = Number(lunStr);
  if (lun > MAX_LUN) throw e.err('INV_INPUT_EXCEEDS_RANGE', 'lun');
  let pos: PortPos | undefined;
  if (portStr !== undefined && portStr !== '') {
    pos = parseNsp(portStr);
    if (!pos) throw e.err('INV_INPUT_PORT_SPECIFICATION', 'portPos');
    portOf(sim, ports, pos);
  }
  let hostMatch: (t: VlunRec) => boolean = (t) => t.hostId === undefined && t.hostSetId === undefined;
  if (hostName.startsWith('set:')) {
    const hs = sim.array.hostSet(hostName.slice(4));
    if (!hs) throw e.err('NON_EXISTENT_SET', 'hostname');
    hostMatch = (t) => t.hostSetId === hs.id;
  } else if (hostName !== '') {
    const h = sim.array.host(hostName);
    if (!h) throw e.err('NON_EXISTENT_HOST', 'hostname');
    hostMatch = (t) => t.hostId === h.id;
  }
  const volMatch = (t: VlunRec): boolean =>
    volName.startsWith('set:')
      ? sim.array.volumeSet(volName.slice(4))?.id === t.volumeSetId && t.volumeSetId !== undefined
      : t.volumeId !== undefined && sim.array.volumeById(t.volumeId)?.name === volName;
  const t = sim.array.vluns.find((x) => x.lun === lun && hostMatch(x) && samePos(x.portPos, pos) && volMatch(x));
  if (!t) throw e.err('NON_EXISTENT_VLUN');
  return t;
}

export function deleteVlun(sim: Sim, t: VlunRec): Reply {
  sim.array.removeVlun(t);
  sim.array.touch();
  return { status: 200 };
}

/** Wire rows of one template: the template itself, then its active paths. */
export function renderVlun(sim: Sim, ports: PortDef[], t: VlunRec): Record<string, unknown>[] {
  const vol = t.volumeId === undefined ? undefined : sim.array.volumeById(t.volumeId);
  const volName = vol ? vol.name : `set:${sim.array.state.volumeSets.find((s) => s.id === t.volumeSetId)?.name ?? ''}`;
  const host = t.hostId === undefined ? undefined : sim.array.hostById(t.hostId);
  const hostName = host
    ? host.name
    : t.hostSetId !== undefined
      ? `set:${sim.array.state.hostSets.find((s) => s.id === t.hostSetId)?.name ?? ''}`
      : undefined;
  const common = { multipathing: 1, failedPathPol: 1, failedPathInterval: 0 };
  const tpl: Record<string, unknown> = {
    lun: t.lun,
    volumeName: volName,
    ...(hostName === undefined ? {} : { hostname: hostName }),
    ...(t.portPos ? { portPos: t.portPos } : {}),
    type: t.type,
    ...(vol ? { volumeWWN: vol.wwn } : {}),
    ...common,
    active: false,
  };
  const rows = [tpl];
  for (const volId of sim.array.vlunVolumeIds(t)) {
    const v = sim.array.volumeById(volId);
    if (!v) continue;
    for (const hid of sim.array.vlunHostIds(t)) {
      const h = sim.array.hostById(hid);
      if (!h) continue;
      const inits: [string, number][] = [
        ...h.fcWWNs.map((w): [string, number] => [w, 1]),
        ...h.iSCSINames.map((n): [string, number] => [n, 2]),
      ];
      for (const [remote, proto] of inits) {
        for (const p of ports) {
          if (p.protocol !== proto || (t.portPos && nsp(t.portPos) !== nsp(p.portPos))) continue;
          rows.push({
            lun: t.lun,
            volumeName: v.name,
            hostname: h.name,
            remoteName: remote,
            portPos: p.portPos,
            type: t.type,
            volumeWWN: v.wwn,
            ...common,
            active: true,
          });
        }
      }
    }
  }
  return rows;
}
