import type { Logger } from '../log.js';
import { invalidArgument, notFound, outOfRange } from '../errors.js';
import { KeyedMutex } from '../util/inflight.js';
import type { Backend } from './backend.js';
import type { ArrayClient } from './client.js';
import { capacityMiB } from './capacity.js';
import { COPY_POLL_MS, ensureCopy } from './copies.js';
import {
  toArraySnapshot,
  toArrayVolume,
  type ArrayGroup,
  type ArraySnapshot,
  type ArrayVolume,
  type Export,
  type GroupSnapshotSpec,
  type PublishOptions,
  type SnapshotSpec,
  type VolumeSpec,
  type VolumeStatus,
} from './domain.js';
import { exportsOf, exportVolume, selectTargets, unexportVolume } from './exports.js';
import { checkMemberIds, deleteGroupSnapshot, ensureGroupSnapshot, groupOf, readGroup } from './groups.js';
import type { NodeRef } from './hosts.js';
import { collect, hostNodeIds, originalName, publishedNodeIds } from './listing.js';
import { formatVolumeMarker, labelOrigin, ownerMarker, requestIdentity } from './marker.js';
import { modifyVolume, type VolumeChange } from './modify.js';
import { arrayNameFor, formatId, isTombstoneName, parseId } from './names.js';
import { conditionOfVolume, isSnapshot, ownMarker, requireOwnedSource, type OpContext, type Owner } from './ops.js';
import { deleteSnapshot, ensureSnapshot } from './snapshots.js';
import {
  checkReadonlyExports,
  deleteVolume,
  ensureVolume,
  expandVolume,
  getVolume,
  knownVolume,
  provisioning,
} from './volumes.js';

export type * from './domain.js';
export type { NodeRef } from './hosts.js';
export type { VolumeChange } from './modify.js';
export type { ObjectLabels } from './marker.js';
export { parseId } from './names.js';

/**
 * What every call passes besides its arguments: its logger and its deadline (stops waits, never a change already sent).
 */
export interface Call {
  log: Logger;
  signal: AbortSignal;
}

/** How the controller configured every array (the same for all of them). */
export interface ArrayOptions {
  /** Who owns what the driver creates (every marker names it). */
  owner: Owner;
  /** Interval between copy- and tune-task polls (default COPY_POLL_MS, 1 s). */
  copyPollIntervalMs?: number;
  /** The node attach limit a publish enforces (0 = none). */
  maxVolumesPerNode: number;
  /**
   * Nodes known to share the loop data plane; a publish whose protocol the volume_context does
   * not name and resolves to loop reaches only these. Undefined: any node.
   */
  loopNodes?: readonly string[];
}

/**
 * One array, in the CSI layer's words (DESIGN "Layers"; the front door of src/array): every
 * operation the controller needs, each returning domain types (domain.ts), with the ownership
 * markers, the caches of owned volumes, hosts and ports, and the per-volume locks kept inside.
 * It delegates to the operation modules (volumes, copies, exports, snapshots, groups, modify),
 * inside `Backend.run`, which maps every error once. The CSI layer adds validation, in-flight
 * deduplication (ABORTED) and the gRPC messages.
 */
export class StorageArray {
  /** The backend id (`<id>/…` in every CSI id). */
  readonly id: string;
  private readonly pollMs: number;
  /**
   * Publish, unpublish and delete of one volume run one at a time (a single-node volume raced to two nodes ends on
   * one).
   */
  private readonly volumeLocks = new KeyedMutex();

  constructor(
    private readonly backend: Backend,
    private readonly options: ArrayOptions,
  ) {
    this.id = backend.id;
    this.pollMs = options.copyPollIntervalMs ?? COPY_POLL_MS;
  }

  /** The CSI id the object of that CSI name gets on this array (also the in-flight key of its operations). */
  idFor(kind: 'volume' | 'snapshot' | 'group', csiName: string): string {
    return formatId(this.id, arrayNameFor(kind, this.options.owner.clusterId, csiName));
  }

  /** Reads the array's identity (logs, metrics), and with `refreshMs` keeps its gauges current. Never throws. */
  async start(refreshMs?: number): Promise<void> {
    await this.backend.describe();
    if (refreshMs) this.backend.startRefresh(refreshMs);
  }

  /** Stops the refresh and logs out. */
  close(): Promise<void> {
    this.backend.stopRefresh();
    return this.backend.client.close();
  }

  /**
   * Creates the volume (empty, or an online copy of `spec.source`), or finds the one an earlier
   * attempt made: same name and request → it; another request → ALREADY_EXISTS.
   */
  async createVolume(spec: VolumeSpec, call: Call): Promise<ArrayVolume> {
    const protocol = spec.protocol ?? this.backend.config.defaultAccessProtocol ?? 'iscsi';
    const name = arrayNameFor('volume', this.options.owner.clusterId, spec.name);
    const identity = requestIdentity({
      p: { ...spec.requestKey, accessProtocol: protocol },
      b: this.id,
      s: spec.source?.id ?? '',
      one: spec.singleNode,
    });
    const origin = {
      n: spec.name,
      r: identity,
      p: protocol,
      ...(!spec.source && { e: 1 as const }),
      ...(spec.singleNode && { one: 1 as const }),
      ...(spec.qosName && { q: spec.qosName }),
      ...labelOrigin(spec.labels),
    };
    const comment = formatVolumeMarker(ownerMarker(this.options.owner, origin));
    const sizeMiB = await this.backend.run(`creating volume ${name}`, async (c) => {
      await this.backend.ensureDescribed();
      const cpg = spec.cpg ?? (await this.backend.defaultCpg(call.signal));
      const common = { snapCPG: spec.snapCpg ?? cpg, ...provisioning(spec, this.backend) };
      const op = this.op(call);
      if (spec.source)
        return this.copyInto(c, name, spec, { destCPG: cpg, ...common }, comment, identity, protocol, op);
      const policies = spec.singleNode ? { oneHost: true } : undefined;
      const v = await ensureVolume(
        c,
        {
          body: { name, cpg, sizeMiB: spec.sizeMiB, comment, ...common, ...(policies && { policies }) },
          identity,
          ...(spec.qosName && { qosName: spec.qosName }),
        },
        op,
      );
      this.backend.owned.set(name, { ...(v.wwn && { wwn: v.wwn }), protocol });
      return v.sizeMiB ?? spec.sizeMiB;
    });
    return { id: formatId(this.id, name), name, sizeMiB, singleNode: spec.singleNode, protocol };
  }

  /** The online copy of the spec's source into `name` (only this cluster's, or imported, sources). */
  private async copyInto(
    c: ArrayClient,
    name: string,
    spec: VolumeSpec,
    params: CopyParams,
    comment: string,
    identity: string,
    protocol: string,
    op: OpContext,
  ): Promise<number> {
    const kind = spec.source!.kind;
    const from = parseId(spec.source!.id);
    if (from?.backendId !== this.id)
      throw invalidArgument(
        `the content source ${spec.source!.id} is not on backend ${this.id}; copies stay on their array`,
      );
    const sv = await getVolume(c, from.arrayName, op.signal);
    if ((kind === 'snapshot') !== isSnapshot(sv)) throw notFound(`${kind} ${spec.source!.id} does not exist`);
    // Only this cluster's (or imported) sources, and never a failed one (issue 14 finding 6).
    requireOwnedSource(sv, op.owner);
    // A copy is at least as large as its source; a larger request grows it after the copy.
    const copyMiB = Math.max(spec.sizeMiB, sv.sizeMiB ?? 0);
    if (spec.maxMiB !== undefined && copyMiB > spec.maxMiB)
      throw outOfRange(`the source is ${sv.sizeMiB} MiB, above limit_bytes`);
    const size = await ensureCopy(
      this.backend,
      c,
      { name, source: sv.name, sizeMiB: copyMiB, params, comment, identity, oneHost: spec.singleNode },
      sv,
      op,
      this.pollMs,
    );
    this.backend.owned.set(name, { protocol, copying: true });
    return size;
  }

  /** Deletes a volume this cluster owns (unknown: success; with snapshots: soft delete). */
  async deleteVolume(name: string, call: Call): Promise<void> {
    await this.volumeLocks.run(name, () =>
      this.backend.run(`deleting volume ${name}`, (c) => deleteVolume(this.backend, c, name, this.op(call))),
    );
    this.backend.owned.delete(name);
  }

  /** Grows a volume this cluster owns to at least `wantMiB`; returns its size afterwards. */
  expand(name: string, wantMiB: number, call: Call): Promise<number> {
    return this.backend.run(`expanding volume ${name}`, (c) => expandVolume(c, name, wantMiB, this.op(call)));
  }

  /** Applies a VolumeAttributesClass change (CPG, provisioning, compression, QoS set, description). */
  modify(name: string, change: VolumeChange, call: Call): Promise<void> {
    return this.backend.run(`modifying volume ${name}`, async (c) => {
      await this.backend.ensureDescribed();
      await modifyVolume(this.backend, c, name, change, this.op(call), this.pollMs);
    });
  }

  /** A volume this cluster owns; NOT_FOUND for anything else (a snapshot, a foreign volume). */
  async getVolume(name: string, call: Call): Promise<ArrayVolume> {
    const v = await this.backend.run(`reading volume ${name}`, (c) => getVolume(c, name, call.signal));
    const marker = ownMarker(v, this.options.owner);
    if (isSnapshot(v) || !marker) throw notFound(`volume ${formatId(this.id, name)} does not exist`);
    return toArrayVolume(this.id, v, marker);
  }

  /**
   * Like getVolume, with the nodes it is published to (a VLUN listing; the hosts only when exported) and its condition.
   */
  volumeStatus(name: string, call: Call): Promise<VolumeStatus> {
    return this.backend.run(`reading volume ${name}`, async (c) => {
      const v = await getVolume(c, name, call.signal);
      const marker = ownMarker(v, this.options.owner);
      if (isSnapshot(v) || !marker) throw notFound(`volume ${formatId(this.id, name)} does not exist`);
      const vluns = await c.listVluns(call.signal);
      const nodes =
        exportsOf(vluns, v.name).length > 0
          ? publishedNodeIds(v.name, vluns, await hostNodeIds(this.backend, this.options.owner, call.signal))
          : [];
      return { ...toArrayVolume(this.id, v, marker), publishedNodeIds: nodes, condition: conditionOfVolume(v) };
    });
  }

  /**
   * Exports the volume to the node (DESIGN "Hosts and publish"): finds or creates the node's
   * host, reuses or creates the VLUN, and keeps the read-only rule (checkReadonlyExports).
   */
  publish(name: string, node: NodeRef, o: PublishOptions, call: Call): Promise<Export> {
    const op = this.op(call);
    const importSpec = o.import
      ? { oneHost: o.singleNode, ...(o.protocol !== undefined && { protocol: o.protocol }) }
      : undefined;
    return this.volumeLocks.run(name, () =>
      this.backend.run(`publishing ${name} to ${node.node.hostName}`, async (c) => {
        const known = await knownVolume(
          this.backend,
          c,
          name,
          { use: 'publish', ...(importSpec && { importSpec }) },
          op,
        );
        const protocol = o.protocol ?? known.protocol ?? this.backend.config.defaultAccessProtocol ?? 'iscsi';
        this.requireReachable(name, node, protocol, o.protocol !== undefined);
        const ports = protocol === 'loop' ? [] : await this.backend.ports(call.signal);
        const targets = selectTargets(ports, protocol, o.ports?.iscsiPortalIps, o.ports?.fcPorts);
        const perPort = o.ports?.oneVlunPerPort === true && targets.positions.length > 0;
        const readonlyGuard = (exported: boolean): Promise<void> =>
          checkReadonlyExports(c, name, known, o.readonly, exported, op, formatId(this.id, name));
        const out = await exportVolume(
          this.backend,
          c,
          {
            name,
            ref: node,
            protocol,
            singleNode: o.singleNode,
            readonlyGuard,
            maxVolumes: this.options.maxVolumesPerNode,
            ...(perPort && { ports: targets.positions }),
          },
          op,
        );
        const wwn = out.wwn ?? known.wwn ?? (await getVolume(c, name, call.signal)).wwn ?? '';
        this.backend.owned.set(name, { ...known, wwn });
        return { protocol, lun: out.lun, wwn, iqns: targets.iqns, portals: targets.portals, wwns: targets.wwns };
      }),
    );
  }

  /** NOT_FOUND when the node has no initiator of the protocol (or, for loop, shares no data plane). */
  private requireReachable(name: string, node: NodeRef, protocol: string, protocolGiven: boolean): void {
    // Without a volume_context, a loop node cannot be told from one that does not exist: only the
    // nodes known to share the simulator's data plane are reachable then.
    const loopReachable =
      protocolGiven || !this.options.loopNodes || this.options.loopNodes.includes(node.node.hostName);
    const hasInitiator =
      protocol === 'loop' ? loopReachable : protocol === 'fc' ? node.node.wwpns.length > 0 : node.node.iqns.length > 0;
    if (!hasInitiator)
      throw notFound(
        `node ${node.nodeId} has no ${protocol} initiator; it cannot reach volume ${formatId(this.id, name)}`,
      );
  }

  /**
   * Removes the volume's exports to the node (every node when undefined); a host the driver made goes with its last
   * VLUN.
   */
  async unpublish(name: string, node: NodeRef | undefined, call: Call): Promise<void> {
    await this.volumeLocks.run(name, () =>
      this.backend.run(`unpublishing ${name}`, (c) => unexportVolume(this.backend, c, name, node, this.op(call))),
    );
  }

  /** Takes a snapshot of `source` (this cluster's, or imported), or finds the one an earlier attempt made. */
  async snapshot(source: string, spec: SnapshotSpec, call: Call): Promise<ArraySnapshot> {
    const name = arrayNameFor('snapshot', this.options.owner.clusterId, spec.name);
    const marker = ownerMarker(this.options.owner, { n: spec.name, ...labelOrigin(spec.labels) });
    const snap = await this.backend.run(`creating snapshot ${name}`, async (c) => {
      const op = this.op(call);
      await knownVolume(this.backend, c, source, { use: 'snapshot-source' }, op);
      return ensureSnapshot(
        c,
        source,
        {
          name,
          readOnly: spec.readOnly,
          comment: formatVolumeMarker(marker),
          ...(spec.expirationHours !== undefined && { expirationHours: spec.expirationHours }),
        },
        op,
      );
    });
    return toArraySnapshot(this.id, snap, marker);
  }

  /** Deletes a snapshot this cluster owns (unknown: success; a group member: INVALID_ARGUMENT). */
  deleteSnapshot(name: string, call: Call): Promise<void> {
    return this.backend.run(`deleting snapshot ${name}`, (c) => deleteSnapshot(c, name, this.op(call)));
  }

  /** A snapshot this cluster owns; NOT_FOUND for anything else. */
  getSnapshot(name: string, call: Call): Promise<ArraySnapshot> {
    return this.backend.run(`reading snapshot ${name}`, async (c) => {
      const snap = await getVolume(c, name, call.signal);
      const marker = ownMarker(snap, this.options.owner);
      if (!isSnapshot(snap) || !marker) throw notFound(`snapshot ${formatId(this.id, name)} does not exist`);
      // A snapshot of a soft-deleted volume keeps naming the volume the CO deleted.
      const source =
        snap.copyOf && isTombstoneName(snap.copyOf)
          ? originalName(await getVolume(c, snap.copyOf, call.signal), this.options.owner)
          : undefined;
      return toArraySnapshot(this.id, snap, marker, source ?? snap.copyOf);
    });
  }

  /** Snapshots the sources at one point in time (DESIGN "Groups"), or finds the group an earlier attempt made. */
  groupSnapshot(spec: GroupSnapshotSpec, call: Call): Promise<ArrayGroup> {
    const name = arrayNameFor('group', this.options.owner.clusterId, spec.name);
    const identity = requestIdentity({
      s: spec.sources.map((s) => formatId(this.id, s)).sort(),
      ro: spec.readOnly,
      x: spec.expirationHours,
    });
    const marker = ownerMarker(this.options.owner, { n: spec.name, r: identity, ...labelOrigin(spec.labels) });
    const group = {
      name,
      sources: spec.sources,
      marker,
      readOnly: spec.readOnly,
      ...(spec.expirationHours !== undefined && { expirationHours: spec.expirationHours }),
    };
    return this.backend.run(`creating group snapshot ${name}`, async (c) =>
      groupOf(c, this.id, name, await ensureGroupSnapshot(c, group, this.op(call)), this.op(call)),
    );
  }

  /** Deletes a group snapshot with its members (unknown: success); `memberIds` must name them all. */
  deleteGroupSnapshot(name: string, memberIds: readonly string[], call: Call): Promise<void> {
    return this.backend.run(`deleting group snapshot ${name}`, async (c) => {
      const op = this.op(call);
      const group = await readGroup(c, name, op);
      // A group snapshot that no longer exists is deleted already.
      if (!group) return;
      checkMemberIds(this.id, group, memberIds);
      await deleteGroupSnapshot(c, group, op);
    });
  }

  /** A group snapshot of this cluster; NOT_FOUND when absent or being deleted. */
  getGroupSnapshot(name: string, memberIds: readonly string[], call: Call): Promise<ArrayGroup> {
    const id = formatId(this.id, name);
    return this.backend.run(`reading group snapshot ${name}`, async (c) => {
      const group = await readGroup(c, name, this.op(call));
      if (!group) throw notFound(`group snapshot ${id} does not exist`);
      checkMemberIds(this.id, group, memberIds);
      const members = group.members.filter((m) => m !== undefined);
      if (members.length !== group.members.length) throw notFound(`group snapshot ${id} is being deleted`);
      return groupOf(c, this.id, name, members, this.op(call));
    });
  }

  /**
   * Every volume of this cluster, by name (tombstones hidden), handed to `each` one at a time once
   * all are read (a caller keeps what it needs of each; nothing holds all of them at once). Three
   * requests: volumes, VLUNs, hosts.
   */
  async listVolumes(signal: AbortSignal, each: (volume: VolumeStatus) => void): Promise<void> {
    await collect(
      [this.backend],
      this.options.owner,
      'volume',
      (l) =>
        each({
          ...toArrayVolume(this.id, l.volume, l.marker),
          publishedNodeIds: l.publishedNodeIds,
          condition: conditionOfVolume(l.volume),
        }),
      signal,
    );
  }

  /** Every snapshot of this cluster, by name. One request. */
  async listSnapshots(signal: AbortSignal): Promise<ArraySnapshot[]> {
    const out: ArraySnapshot[] = [];
    await collect(
      [this.backend],
      this.options.owner,
      'snapshot',
      (l) => out.push(toArraySnapshot(this.id, l.volume, l.marker, l.sourceName ?? l.volume.copyOf)),
      signal,
    );
    return out;
  }

  /** Free space for new volumes of the CPG (or the backend's only/default CPG; else the whole array), MiB. */
  capacity(cpg: string | undefined, signal: AbortSignal): Promise<number> {
    return this.backend.run('reading CPG free space', (c) => capacityMiB(this.backend, c, cpg, signal));
  }

  private op(call: Call): OpContext {
    return { owner: this.options.owner, log: call.log, signal: call.signal };
  }
}

type CopyParams = Parameters<typeof ensureCopy>[2]['params'];
