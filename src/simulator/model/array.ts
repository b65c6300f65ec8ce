/**
 * The simulated array's object model: the state records plus indexes by name and id, and the
 * relations the rules need (children of a volume, VLUNs covering a volume, CPG space). Operations
 * live in the per-resource modules; they change records here and call `touch()` so that indexes,
 * persistence and the data plane's export links follow.
 */
import { randomUUID } from 'node:crypto';
import type { CpgRec, HostRec, SetRec, SimState, TaskRec, VlunRec, VolumeRec } from './types.js';
import { COPY, PROV, TASK_STATUS } from './types.js';

export interface CpgStats {
  numFPVVs: number;
  numTPVVs: number;
  /** Size of the fully provisioned volumes. */
  fullMiB: number;
  /** Used space of the thin volumes. */
  thinUsedMiB: number;
}

/** A fresh state: the configured CPGs and nothing else. */
export function emptyState(
  cpgs: { name: string; sizeMiB: number; growthLimitMiB?: number; domain?: string }[],
): SimState {
  return {
    version: 1,
    systemId: 46750,
    nextVolumeId: 1,
    nextWwnSerial: 1,
    nextHostId: 1,
    nextSetId: 1,
    nextTaskId: 1,
    nextVlunSeq: 1,
    cpgs: cpgs.map((c, i) => ({
      id: i,
      uuid: randomUUID(),
      name: c.name,
      sizeMiB: c.sizeMiB,
      ...(c.growthLimitMiB !== undefined && { growthLimitMiB: c.growthLimitMiB }),
      ...(c.domain !== undefined && { domain: c.domain }),
    })),
    volumes: [],
    hosts: [],
    volumeSets: [],
    hostSets: [],
    vluns: [],
    tasks: [],
    qos: [],
  };
}

export class SimArray {
  readonly state: SimState;
  private volByName = new Map<string, VolumeRec>();
  private volById = new Map<number, VolumeRec>();
  private hostByName = new Map<string, HostRec>();
  private hostIdIndex = new Map<number, HostRec>();
  private initiatorOwner = new Map<string, HostRec>();
  private children = new Map<number, VolumeRec[]>();
  private vlunsByVolume = new Map<number, VlunRec[]>();
  private vlunsByHost = new Map<number, VlunRec[]>();
  /** Per-CPG space figures; recomputed after changes that are not simple additions. */
  private spaceDirty = true;
  private cpgStatsByName = new Map<string, CpgStats>();
  /** Called after every change (persistence, data-plane export links). */
  onChange: () => void = () => undefined;

  constructor(
    state: SimState,
    private readonly thinUsedPct: number,
  ) {
    this.state = state;
    this.reindex();
  }

  /** Rebuilds every index; cheap enough to run after each mutation of hosts, sets or VLUNs. */
  reindex(): void {
    this.volByName.clear();
    this.volById.clear();
    this.children.clear();
    for (const v of this.state.volumes) {
      this.volByName.set(v.name, v);
      this.volById.set(v.id, v);
    }
    for (const v of this.state.volumes) {
      if (v.parentId !== undefined) {
        const list = this.children.get(v.parentId) ?? [];
        list.push(v);
        this.children.set(v.parentId, list);
      }
    }
    this.reindexHosts();
    this.reindexVluns();
    this.spaceDirty = true;
  }

  reindexHosts(): void {
    this.hostByName.clear();
    this.hostIdIndex.clear();
    this.initiatorOwner.clear();
    for (const h of this.state.hosts) {
      this.hostByName.set(h.name, h);
      this.hostIdIndex.set(h.id, h);
      for (const w of h.fcWWNs) this.initiatorOwner.set(`fc:${w}`, h);
      for (const n of h.iSCSINames) this.initiatorOwner.set(`iscsi:${n}`, h);
    }
  }

  reindexVluns(): void {
    this.vlunsByVolume.clear();
    this.vlunsByHost.clear();
    for (const t of this.state.vluns) this.indexVlun(t);
  }

  private indexVlun(t: VlunRec): void {
    for (const volId of this.vlunVolumeIds(t)) {
      const list = this.vlunsByVolume.get(volId) ?? [];
      list.push(t);
      this.vlunsByVolume.set(volId, list);
    }
    for (const hostId of this.vlunHostIds(t)) {
      const list = this.vlunsByHost.get(hostId) ?? [];
      list.push(t);
      this.vlunsByHost.set(hostId, list);
    }
  }

  /** Adds a template VLUN, updating the indexes incrementally (20,000 VLUNs stay cheap). */
  addVlun(t: VlunRec): void {
    this.state.vluns.push(t);
    this.indexVlun(t);
  }

  removeVlun(t: VlunRec): void {
    this.state.vluns = this.state.vluns.filter((x) => x !== t);
    for (const [index, key] of [
      ...this.vlunVolumeIds(t).map((id) => [this.vlunsByVolume, id] as const),
      ...this.vlunHostIds(t).map((id) => [this.vlunsByHost, id] as const),
    ]) {
      const list = (index.get(key) ?? []).filter((x) => x !== t);
      if (list.length > 0) index.set(key, list);
      else index.delete(key);
    }
  }

  /** Marks a change; listeners run. */
  touch(): void {
    this.onChange();
  }

  /** A volume's size, provisioning, CPG or used space changed: CPG figures are recomputed lazily. */
  spaceChanged(): void {
    this.spaceDirty = true;
  }

  // --- volumes -------------------------------------------------------------------------------
  volume(name: string): VolumeRec | undefined {
    return this.volByName.get(name);
  }
  volumeById(id: number): VolumeRec | undefined {
    return this.volById.get(id);
  }
  childrenOf(id: number): VolumeRec[] {
    return this.children.get(id) ?? [];
  }

  addVolume(v: VolumeRec): void {
    this.state.volumes.push(v);
    this.volByName.set(v.name, v);
    this.volById.set(v.id, v);
    if (v.parentId !== undefined) {
      const list = this.children.get(v.parentId) ?? [];
      list.push(v);
      this.children.set(v.parentId, list);
    }
    // Additions are accounted incrementally, so that creating 10,000 volumes stays linear.
    if (!this.spaceDirty) this.account(v);
  }

  removeVolume(v: VolumeRec): void {
    this.state.volumes = this.state.volumes.filter((x) => x !== v);
    for (const s of this.state.volumeSets) s.members = s.members.filter((m) => m !== v.id);
    this.reindex();
  }

  renameVolume(v: VolumeRec, newName: string): void {
    this.volByName.delete(v.name);
    v.name = newName;
    this.volByName.set(newName, v);
  }

  /** Changes the parent link of a volume (copy finished → independent base). */
  unlinkParent(v: VolumeRec): void {
    delete v.parentId;
    v.baseId = v.id;
    this.reindex();
  }

  /**
   * An id (the explicit one, or the next free) and a WWN: `60002AC` + a 17-hex-digit serial +
   * the system id in 8 hex digits, as real arrays form them. The serial is the VV id unless that
   * serial was already used (an explicit id reusing a deleted volume's id), so a WWN is never
   * handed out twice.
   */
  nextVolumeIdentity(explicitId?: number): { id: number; wwn: string } {
    let id = explicitId;
    if (id === undefined) {
      while (this.volById.has(this.state.nextVolumeId)) this.state.nextVolumeId++;
      id = this.state.nextVolumeId++;
    }
    const serial = Math.max(id, this.state.nextWwnSerial);
    this.state.nextWwnSerial = serial + 1;
    const wwn =
      `60002AC${serial.toString(16).padStart(17, '0')}${this.state.systemId.toString(16).padStart(8, '0')}`.toUpperCase();
    return { id, wwn };
  }

  // --- hosts and initiators ------------------------------------------------------------------
  host(name: string): HostRec | undefined {
    return this.hostByName.get(name);
  }
  hostById(id: number): HostRec | undefined {
    return this.hostIdIndex.get(id);
  }
  ownerOfFc(wwn: string): HostRec | undefined {
    return this.initiatorOwner.get(`fc:${wwn}`);
  }
  ownerOfIscsi(name: string): HostRec | undefined {
    return this.initiatorOwner.get(`iscsi:${name}`);
  }

  // --- sets ----------------------------------------------------------------------------------
  volumeSet(name: string): SetRec | undefined {
    return this.state.volumeSets.find((s) => s.name === name);
  }
  hostSet(name: string): SetRec | undefined {
    return this.state.hostSets.find((s) => s.name === name);
  }
  setsOfVolume(id: number): SetRec[] {
    return this.state.volumeSets.filter((s) => s.members.includes(id));
  }
  setsOfHost(id: number): SetRec[] {
    return this.state.hostSets.filter((s) => s.members.includes(id));
  }
  nextSetId(): number {
    return this.state.nextSetId++;
  }

  // --- VLUNs ---------------------------------------------------------------------------------
  /** Volume ids a template covers (its volume, or every member of its volume set). */
  vlunVolumeIds(t: VlunRec): number[] {
    if (t.volumeId !== undefined) return [t.volumeId];
    return this.state.volumeSets.find((s) => s.id === t.volumeSetId)?.members ?? [];
  }
  /** Host ids a template covers ([] for port-presents). */
  vlunHostIds(t: VlunRec): number[] {
    if (t.hostId !== undefined) return [t.hostId];
    if (t.hostSetId !== undefined) return this.state.hostSets.find((s) => s.id === t.hostSetId)?.members ?? [];
    return [];
  }
  vlunsOfVolume(id: number): VlunRec[] {
    return this.vlunsByVolume.get(id) ?? [];
  }
  isExported(id: number): boolean {
    return this.vlunsOfVolume(id).length > 0;
  }
  vlunsOfHost(id: number): VlunRec[] {
    return this.vlunsByHost.get(id) ?? [];
  }

  // --- CPGs and space ------------------------------------------------------------------------
  cpg(name: string): CpgRec | undefined {
    return this.state.cpgs.find((c) => c.name === name);
  }

  /** MiB a volume takes from its user CPG: its size if fully provisioned, its used space if thin. */
  reservedMiB(v: VolumeRec): number {
    if (v.provisioningType === PROV.FULL) return v.sizeMiB;
    if (v.provisioningType === PROV.SNP) return 0;
    return this.usedMiB(v);
  }
  usedMiB(v: VolumeRec): number {
    if (v.provisioningType === PROV.SNP) return 0;
    if (v.usedMiB !== undefined) return Math.min(v.usedMiB, v.sizeMiB);
    if (v.provisioningType === PROV.FULL) return v.sizeMiB;
    return Math.ceil((v.sizeMiB * this.thinUsedPct) / 100);
  }
  private account(v: VolumeRec): void {
    if (v.userCPG === undefined || v.copyType === COPY.VIRTUAL_COPY) return;
    let st = this.cpgStatsByName.get(v.userCPG);
    if (!st) {
      st = { numFPVVs: 0, numTPVVs: 0, fullMiB: 0, thinUsedMiB: 0 };
      this.cpgStatsByName.set(v.userCPG, st);
    }
    if (v.provisioningType === PROV.FULL) {
      st.numFPVVs++;
      st.fullMiB += v.sizeMiB;
    } else {
      st.numTPVVs++;
      st.thinUsedMiB += this.usedMiB(v);
    }
  }

  /** Volume counts and space of a CPG (user space of full volumes, used space of thin ones). */
  cpgStats(name: string): CpgStats {
    if (this.spaceDirty) {
      this.cpgStatsByName.clear();
      for (const v of this.state.volumes) this.account(v);
      this.spaceDirty = false;
    }
    return this.cpgStatsByName.get(name) ?? { numFPVVs: 0, numTPVVs: 0, fullMiB: 0, thinUsedMiB: 0 };
  }

  cpgUsedMiB(name: string): number {
    const st = this.cpgStats(name);
    return st.fullMiB + st.thinUsedMiB;
  }
  /** What an allocation in the CPG may still take: its physical space, bounded by its growth limit. */
  cpgFreeMiB(name: string): number {
    const c = this.cpg(name);
    return c ? Math.max(0, Math.min(c.sizeMiB, c.growthLimitMiB ?? Infinity) - this.cpgUsedMiB(name)) : 0;
  }
  /** The space reporter's answer: physical space left for the CPG's layout, growth limit ignored. */
  cpgPhysicalFreeMiB(name: string): number {
    const c = this.cpg(name);
    return c ? Math.max(0, c.sizeMiB - this.cpgUsedMiB(name)) : 0;
  }

  // --- tasks ---------------------------------------------------------------------------------
  task(id: number): TaskRec | undefined {
    return this.state.tasks.find((t) => t.id === id);
  }
  activeTaskOf(volId: number, kinds?: TaskRec['kind'][]): TaskRec | undefined {
    const v = this.volById.get(volId);
    if (!v) return undefined;
    for (const tid of v.busyTaskIds) {
      const t = this.task(tid);
      if (t && t.status === TASK_STATUS.ACTIVE && (!kinds || kinds.includes(t.kind))) return t;
    }
    return undefined;
  }

  // --- read-only views for audits in tests ---------------------------------------------------
  get volumes(): readonly VolumeRec[] {
    return this.state.volumes;
  }
  get hosts(): readonly HostRec[] {
    return this.state.hosts;
  }
  get vluns(): readonly VlunRec[] {
    return this.state.vluns;
  }
  get volumeSets(): readonly SetRec[] {
    return this.state.volumeSets;
  }
  get hostSets(): readonly SetRec[] {
    return this.state.hostSets;
  }
  get tasks(): readonly TaskRec[] {
    return this.state.tasks;
  }
  get cpgs(): readonly CpgRec[] {
    return this.state.cpgs;
  }
}
