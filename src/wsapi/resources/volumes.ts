import { WsapiProtocolError } from '../errors.js';
import { apiPath, parseNameLocation } from '../path.js';
import { Resource, compact, streamed, type CallOptions } from '../resource.js';
import { hasName, readCollection, readObject, type WsapiResult } from '../response.js';
import { isRecord } from '../../util/record.js';
import type { SpaceAllocLimits, Volume, VolumePolicies } from '../types.js';
import { VolumeAction } from '../enums.js';

/** How a new volume is provisioned: on create (§5.5) and for an online copy's destination (§6.2). */
export interface ProvisioningParams {
  /** Thin (TPVV); default full. */
  tpvv?: boolean;
  /** Thin dedup — later firmware only (FeatureGates.tdvv). */
  tdvv?: boolean;
  /** Compression — WSAPI >= 1.6 only (FeatureGates.compression). */
  compression?: boolean;
  /**
   * Data reduction — WSAPI >= 1.6 only (the driver asks for it as tdvv + compression: array/wsapi-adapter.ts
   * dataReduction).
   */
  reduce?: boolean;
  /** Snapshot CPG; needed before any snapshot can be taken. */
  snapCPG?: string;
}

/** `POST /volumes` (§5.5). Sizes in MiB; the array rounds up to 256 MiB. */
export interface CreateVolumeParams extends ProvisioningParams, SpaceAllocLimits {
  name: string;
  /** User-space CPG. */
  cpg: string;
  sizeMiB: number;
  comment?: string;
  policies?: Pick<VolumePolicies, 'staleSS' | 'oneHost' | 'zeroDetect'>;
  id?: number;
  expirationHours?: number;
  retentionHours?: number;
}

/** `PUT /volumes/<name>` without an action (§5.6): only the members given change. */
export interface ModifyVolumeParams extends SpaceAllocLimits {
  newName?: string;
  comment?: string;
  policies?: Pick<VolumePolicies, 'staleSS' | 'oneHost' | 'zeroDetect'>;
  snapCPG?: string;
  userCPG?: string;
  expirationHours?: number;
  retentionHours?: number;
  rmSsSpcAllocWarning?: boolean;
  rmUsrSpcAllocWarning?: boolean;
  rmExpTime?: boolean;
  rmSsSpcAllocLimit?: boolean;
  rmUsrSpcAllocLimit?: boolean;
}

/** `createSnapshot` parameters (§6.1). */
export interface CreateSnapshotParams {
  name: string;
  readOnly?: boolean;
  comment?: string;
  expirationHours?: number;
  retentionHours?: number;
  id?: number;
}

/**
 * `createPhysicalCopy` parameters (§6.2). Online-only and offline-only members are exclusive; the
 * provisioning members are online only.
 */
export interface CreatePhysicalCopyParams extends ProvisioningParams {
  destVolume: string;
  /** Online: the array creates the destination, usable at once. */
  online?: boolean;
  /** Online only (required there): CPG of the new destination. */
  destCPG?: string;
  /** Offline only. */
  saveSnapshot?: boolean;
  /** Offline only; see TaskPriority. */
  priority?: number;
}

/** Tune / convert (§5.7 action 6). */
export interface TuneVolumeParams {
  /** See TuneOperation. */
  tuneOperation: number;
  userCPG?: string;
  snapCPG?: string;
  /** See ConversionOperation. */
  conversionOperation?: number;
  keepVV?: string;
  /** WSAPI >= 1.6 (FeatureGates.compression): compression on or off while the space moves. */
  compression?: boolean;
}

/** A started copy: its task and the destination volume. */
export interface PhysicalCopyStarted {
  taskId: number;
  destVolume: string;
}

/**
 * A volume as the driver's listings read it (array/listing.ts, snapshots.ts, tombstones.ts,
 * through ArrayClient.listVolumes): `listSummaries` keeps only these members (and of `policies`
 * only `oneHost`), so that a 10,000-volume list holds 14 members per volume instead of the ~40
 * the array sends (§5.2). Functions that read listed volumes take this type, so the compiler
 * refuses a read of a member that is not kept.
 */
export type VolumeSummary = Pick<
  Volume,
  | 'name'
  | 'copyType'
  | 'copyOf'
  | 'comment'
  | 'readOnly'
  | 'state'
  | 'sizeMiB'
  | 'wwn'
  | 'creationTimeSec'
  | 'creationTime8601'
> & {
  // Read-only: an empty list is one shared array (summarize).
  failedStates?: readonly number[];
  degradedStates?: readonly number[];
  additionalStates?: readonly number[];
  policies?: Readonly<Pick<VolumePolicies, 'oneHost'>>;
};

/** Virtual volumes, snapshots and physical copies: `/api/v1/volumes`. */
export class VolumesResource extends Resource {
  /**
   * `GET /volumes` — every volume and snapshot (one request; streamed, a cut-off stream is an
   * error). The body is read member by member as it arrives (member-stream.ts).
   */
  async list(opts?: CallOptions): Promise<Volume[]> {
    const op = 'volumes.list';
    const res = await this.send(op, 'GET', apiPath`/volumes`, streamed(opts));
    return readCollection(res, this.ctx(op), isVolume);
  }

  /** `GET /volumes` as `list`, each volume reduced to a VolumeSummary as soon as it is read. */
  async listSummaries(opts?: CallOptions): Promise<VolumeSummary[]> {
    const op = 'volumes.list';
    const res = await this.send(op, 'GET', apiPath`/volumes`, streamed(opts, summarize));
    return readCollection(res, this.ctx(op), isVolume);
  }

  /** `GET /volumes/<name>` (404/23 when absent). */
  async get(name: string, opts?: CallOptions): Promise<Volume> {
    const op = 'volumes.get';
    return readObject(await this.send(op, 'GET', apiPath`/volumes/${name}`, opts), this.ctx(op), isVolume);
  }

  /** `POST /volumes` (201, or 200 from some firmware). A lost answer + 409/22 is the caller's to check. */
  async create(params: CreateVolumeParams, opts?: CallOptions): Promise<void> {
    await this.send('volumes.create', 'POST', apiPath`/volumes`, opts, compact(params));
  }

  /** `PUT /volumes/<name>`: comment, policies (e.g. oneHost), rename, CPGs, limits. */
  async modify(name: string, changes: ModifyVolumeParams, opts?: CallOptions): Promise<void> {
    await this.send('volumes.modify', 'PUT', apiPath`/volumes/${name}`, opts, compact(changes));
  }

  /** Grows by `deltaMiB` (a delta, not the new size; the array rounds it up to its chunk size). */
  async grow(name: string, deltaMiB: number, opts?: CallOptions): Promise<void> {
    await this.send('volumes.grow', 'PUT', apiPath`/volumes/${name}`, opts, {
      action: VolumeAction.GROW_VOLUME,
      sizeMiB: deltaMiB,
    });
  }

  /** `DELETE /volumes/<name>` (also deletes snapshots; 404/23 when already gone). */
  async delete(name: string, opts?: CallOptions): Promise<void> {
    await this.send('volumes.delete', 'DELETE', apiPath`/volumes/${name}`, opts);
  }

  /** Takes a virtual copy of `source`; resolves with the snapshot's name (from `Location`). */
  async createSnapshot(source: string, params: CreateSnapshotParams, opts?: CallOptions): Promise<string> {
    const op = 'volumes.createSnapshot';
    const res = await this.send(op, 'POST', apiPath`/volumes/${source}`, opts, {
      action: 'createSnapshot',
      parameters: compact(params),
    });
    return (res.location !== undefined ? parseNameLocation(res.location, 'volumes') : undefined) ?? params.name;
  }

  /** Starts a physical copy of `source`; resolves with the copy task and the destination. */
  async createPhysicalCopy(
    source: string,
    params: CreatePhysicalCopyParams,
    opts?: CallOptions,
  ): Promise<PhysicalCopyStarted> {
    const op = 'volumes.createPhysicalCopy';
    const res = await this.send(op, 'POST', apiPath`/volumes/${source}`, opts, {
      action: 'createPhysicalCopy',
      parameters: compact(params),
    });
    const taskId = this.taskIdOf(res);
    if (taskId === undefined)
      throw new WsapiProtocolError(
        'unexpected-shape',
        `WSAPI ${op} on backend ${this.client.backendId}: the answer carries no task id`,
        this.ctx(op),
        { status: res.status },
      );
    return {
      taskId,
      destVolume:
        (res.location !== undefined ? parseNameLocation(res.location, 'volumes') : undefined) ?? params.destVolume,
    };
  }

  /** Tunes / converts a volume (action 6, a 1.3.x action); resolves with the task id. */
  async tune(name: string, params: TuneVolumeParams, opts?: CallOptions): Promise<number> {
    const op = 'volumes.tune';
    const res = await this.send(op, 'PUT', apiPath`/volumes/${name}`, opts, {
      action: VolumeAction.TUNE_VOLUME,
      ...compact(params),
    });
    const id = this.taskIdOf(res);
    if (id === undefined)
      throw new WsapiProtocolError(
        'unexpected-shape',
        `WSAPI ${op} on backend ${this.client.backendId}: the answer carries no task id`,
        this.ctx(op),
        { status: res.status },
      );
    return id;
  }

  /** `taskid` from the body (a `/tasks/<id>` link as a fallback). */
  private taskIdOf(res: WsapiResult): number | undefined {
    const body = res.body;
    if (!isRecord(body)) return undefined;
    const id = body['taskid'] ?? body['taskId'];
    if (typeof id === 'number' && Number.isInteger(id)) return id;
    const links = body['links'];
    if (Array.isArray(links)) {
      for (const l of links) {
        const m = isRecord(l) && typeof l['href'] === 'string' ? /\/tasks\/(\d+)$/.exec(l['href']) : null;
        if (m) return Number(m[1]);
      }
    }
    return undefined;
  }
}

/** Shape check for a volume: a named object. */
export function isVolume(m: unknown): m is Volume {
  return hasName(m);
}

/**
 * A listed member reduced to a VolumeSummary; one that is no volume is returned unchanged, so
 * that readCollection reports it by its index. Member by member (not a loop over the names): a
 * 10,000-volume list goes through here, and named reads are several times faster than keyed ones.
 */
function summarize(m: unknown): unknown {
  if (!isVolume(m)) return m;
  // The empty state lists and the policies are shared, not one object each per volume (some
  // 130 of 600 bytes a volume: a 10,000-volume listing holds them through its requests).

  const out: VolumeSummary = { name: m.name };
  if (m.copyType !== undefined) out.copyType = m.copyType;
  if (m.copyOf !== undefined) out.copyOf = m.copyOf;
  if (m.comment !== undefined) out.comment = m.comment;
  if (m.readOnly !== undefined) out.readOnly = m.readOnly;
  if (m.state !== undefined) out.state = m.state;
  if (m.failedStates !== undefined) out.failedStates = shared(m.failedStates);
  if (m.degradedStates !== undefined) out.degradedStates = shared(m.degradedStates);
  if (m.additionalStates !== undefined) out.additionalStates = shared(m.additionalStates);
  if (m.sizeMiB !== undefined) out.sizeMiB = m.sizeMiB;
  if (m.wwn !== undefined) out.wwn = m.wwn;
  if (m.creationTimeSec !== undefined) out.creationTimeSec = m.creationTimeSec;
  if (m.creationTime8601 !== undefined) out.creationTime8601 = m.creationTime8601;
  const oneHost = m.policies?.oneHost;
  if (oneHost !== undefined) out.policies = oneHost ? ONE_HOST : NOT_ONE_HOST;
  return out;
}

const NO_STATES: readonly number[] = Object.freeze([]);
const ONE_HOST = Object.freeze({ oneHost: true });
const NOT_ONE_HOST = Object.freeze({ oneHost: false });

/** `states`, or the one shared empty list when it is empty. */
function shared(states: readonly number[]): readonly number[] {
  return states.length === 0 ? NO_STATES : states;
}
