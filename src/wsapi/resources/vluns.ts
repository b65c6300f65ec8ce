import { apiPath, parseVlunLocation, queryParam, vlunPath } from '../path.js';
import { Resource, compact, streamed, type CallOptions } from '../resource.js';
import { readCollection } from '../response.js';
import { isRecord } from '../../util/record.js';
import { WsapiProtocolError } from '../errors.js';
import type { PortPos, Vlun, VlunId } from '../types.js';

/** `POST /vluns` (§11.2). Without `lun`, the array picks the lowest free LUN (autoLun from 0). */
export interface CreateVlunParams {
  /** Volume, or `set:<vvset>`. */
  volumeName: string;
  /** Host, or `set:<hostset>`; absent for a port-presents VLUN. */
  hostname?: string;
  /** A fixed LUN; with `autoLun`, the first LUN to try. */
  lun?: number;
  autoLun?: boolean;
  /** Upper bound for automatic LUNs; 0 = none. */
  maxAutoLun?: number;
  portPos?: PortPos;
  noVcn?: boolean;
  overrideLowerPriority?: boolean;
}

/** Filters for `list`; applied on the array when it supports VLUN queries, and always here. */
export interface VlunFilter {
  volumeName?: string;
  hostname?: string;
}

/** Exports: `/api/v1/vluns`. */
export class VlunsResource extends Resource {
  /**
   * VLUNs (templates and active paths), optionally filtered. On 1.3.x arrays there are no VLUN
   * queries, so a filter costs the full list (one request) and is applied here; on later
   * firmware the array filters by `volumeName EQ` (or `hostname EQ`). The first filtered call
   * also reads `GET /api` once (cached) to learn which. The array streams this list (§1.6): it is
   * read as it arrives (member-stream.ts), never held whole as text.
   */
  async list(filter: VlunFilter = {}, opts?: CallOptions): Promise<Vlun[]> {
    const op = 'vluns.list';
    let path = apiPath`/vluns`;
    if (filter.volumeName !== undefined || filter.hostname !== undefined) {
      const features = await this.client.features(opts);
      if (features.vlunQueries) {
        path += `?${queryParam(filter.volumeName !== undefined ? `volumeName EQ ${filter.volumeName}` : `hostname EQ ${filter.hostname!}`)}`;
      }
    }
    const all = readCollection(await this.send(op, 'GET', path, streamed(opts)), this.ctx(op), isVlun);
    return all.filter(
      (v) =>
        (filter.volumeName === undefined || v.volumeName === filter.volumeName) &&
        (filter.hostname === undefined || v.hostname === filter.hostname),
    );
  }

  /**
   * Exports a volume; resolves with the VLUN's id — the LUN the array chose is reported only in
   * the `Location` header. A lost answer is the caller's to resolve (list and reuse).
   */
  async create(params: CreateVlunParams, opts?: CallOptions): Promise<VlunId> {
    const op = 'vluns.create';
    // The array wants `lun` even with autoLun (then it is the first LUN tried).
    const auto = params.lun === undefined ? { lun: 0, autoLun: true, maxAutoLun: params.maxAutoLun ?? 0 } : {};
    const res = await this.send(op, 'POST', apiPath`/vluns`, opts, compact({ ...params, ...auto }));
    const id = res.location !== undefined ? parseVlunLocation(res.location) : undefined;
    if (!id)
      throw new WsapiProtocolError(
        'missing-location',
        `WSAPI ${op} on backend ${this.client.backendId}: the answer has no VLUN Location, so the LUN is unknown`,
        this.ctx(op),
        { status: res.status },
      );
    return id;
  }

  /** Removes an export (404/19 when already gone). `noVcn` skips the SCSI change notification. */
  async delete(id: VlunId, params: { noVcn?: boolean } = {}, opts?: CallOptions): Promise<void> {
    await this.send('vluns.delete', 'DELETE', vlunPath(id) + (params.noVcn ? '?noVcn=true' : ''), opts);
  }
}

/** Shape check: a VLUN has a LUN and a volume name. */
export function isVlun(m: unknown): m is Vlun {
  return isRecord(m) && typeof m['lun'] === 'number' && typeof m['volumeName'] === 'string';
}
