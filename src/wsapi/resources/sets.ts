import { apiPath, parseNameLocation } from '../path.js';
import { Resource, compact, type CallOptions } from '../resource.js';
import { hasName, readCollection } from '../response.js';
import type { WsapiSet } from '../types.js';
import { SetAction } from '../enums.js';
import type { CreateSnapshotParams } from './volumes.js';

/** `POST /volumesets` (§7.1). Names are at most 27 characters. */
export interface CreateSetParams {
  domain?: string;
  comment?: string;
  /** Initial members (volume names). */
  setmembers?: string[];
}

/**
 * VV sets (§7), the temporary sets of group snapshots. Member changes use the set actions
 * MEM_ADD / MEM_REMOVE (never combined with a rename). Host sets share the API on the array;
 * the driver makes none.
 */
export class VolumeSetsResource extends Resource {
  /** Every set (one request). */
  async list(opts?: CallOptions): Promise<WsapiSet[]> {
    const op = 'volumeSets.list';
    return readCollection(await this.send(op, 'GET', apiPath`/volumesets`, opts), this.ctx(op), hasName);
  }

  /** Creates a set (EXISTENT_SET 101 — status 400 per the guide, 409 in mocks — when the name is taken). */
  async create(name: string, params: CreateSetParams = {}, opts?: CallOptions): Promise<void> {
    await this.send('volumeSets.create', 'POST', apiPath`/volumesets`, opts, { name, ...compact(params) });
  }

  /** Adds members (MEM_ADD). */
  async addMembers(name: string, members: readonly string[], opts?: CallOptions): Promise<void> {
    await this.send('volumeSets.addMembers', 'PUT', apiPath`/volumesets/${name}`, opts, {
      action: SetAction.MEM_ADD,
      setmembers: [...members],
    });
  }

  /** Removes members (MEM_REMOVE; globs are refused by the array). */
  async removeMembers(name: string, members: readonly string[], opts?: CallOptions): Promise<void> {
    await this.send('volumeSets.removeMembers', 'PUT', apiPath`/volumesets/${name}`, opts, {
      action: SetAction.MEM_REMOVE,
      setmembers: [...members],
    });
  }

  /** Deletes a set (404/102 when absent, 409/26 while exported). */
  async delete(name: string, opts?: CallOptions): Promise<void> {
    await this.send('volumeSets.delete', 'DELETE', apiPath`/volumesets/${name}`, opts);
  }

  /**
   * Snapshots every member at once (§7.5). `name` is a pattern: `@count@` becomes 0, 1, 2… in
   * member order, so `grp-@count@` yields `grp-0`, `grp-1`, … whose `copyOf` names the member.
   * Resolves with the set named by `Location` (the set itself), or the set name.
   */
  async createSnapshot(set: string, params: CreateSnapshotParams, opts?: CallOptions): Promise<string> {
    const res = await this.send('volumeSets.createSnapshot', 'POST', apiPath`/volumesets/${set}`, opts, {
      action: 'createSnapshot',
      parameters: compact(params),
    });
    return (res.location !== undefined ? parseNameLocation(res.location, 'volumesets') : undefined) ?? set;
  }
}
