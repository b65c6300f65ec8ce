import { apiPath, parseNameLocation } from '../path.js';
import { Resource, compact, type CallOptions, type ResourceContext } from '../resource.js';
import { hasName, readCollection, readObject } from '../response.js';
import type { WsapiSet } from '../types.js';
import { SetAction } from '../enums.js';
import type { CreateSnapshotParams } from './volumes.js';

/** `POST /{volumesets|hostsets}` (§7.1). Names are at most 27 characters. */
export interface CreateSetParams {
  domain?: string;
  comment?: string;
  /** Initial members (volume or host names). */
  setmembers?: string[];
}

/**
 * VV sets and host sets share one API (§7); only the collection and the member kind differ.
 * Member changes use the set actions MEM_ADD / MEM_REMOVE (never combined with a rename).
 */
export class SetsResource extends Resource {
  constructor(client: ResourceContext, private readonly collection: 'volumesets' | 'hostsets') {
    super(client);
  }

  private get kind(): string {
    return this.collection === 'volumesets' ? 'volumeSets' : 'hostSets';
  }

  private path(name?: string): string {
    const base = this.collection === 'volumesets' ? apiPath`/volumesets` : apiPath`/hostsets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Every set (one request). */
  async list(opts?: CallOptions): Promise<WsapiSet[]> {
    const op = `${this.kind}.list`;
    return readCollection(await this.send(op, 'GET', this.path(), opts), this.ctx(op), hasName);
  }

  /** One set (404/102 when absent). */
  async get(name: string, opts?: CallOptions): Promise<WsapiSet> {
    const op = `${this.kind}.get`;
    return readObject(await this.send(op, 'GET', this.path(name), opts), this.ctx(op), hasName);
  }

  /** Creates a set (EXISTENT_SET 101 — status 400 per the guide, 409 in mocks — when the name is taken). */
  async create(name: string, params: CreateSetParams = {}, opts?: CallOptions): Promise<void> {
    await this.send(`${this.kind}.create`, 'POST', this.path(), opts, { name, ...compact(params) });
  }

  /** Renames and/or changes the comment (`""` clears it). */
  async modify(name: string, changes: { newName?: string; comment?: string }, opts?: CallOptions): Promise<void> {
    await this.send(`${this.kind}.modify`, 'PUT', this.path(name), opts, compact(changes));
  }

  /** Adds members (MEM_ADD). */
  async addMembers(name: string, members: readonly string[], opts?: CallOptions): Promise<void> {
    await this.send(`${this.kind}.addMembers`, 'PUT', this.path(name), opts, { action: SetAction.MEM_ADD, setmembers: [...members] });
  }

  /** Removes members (MEM_REMOVE; globs are refused by the array). */
  async removeMembers(name: string, members: readonly string[], opts?: CallOptions): Promise<void> {
    await this.send(`${this.kind}.removeMembers`, 'PUT', this.path(name), opts, { action: SetAction.MEM_REMOVE, setmembers: [...members] });
  }

  /** Deletes a set (404/102 when absent, 409/26 while exported). */
  async delete(name: string, opts?: CallOptions): Promise<void> {
    await this.send(`${this.kind}.delete`, 'DELETE', this.path(name), opts);
  }
}

/** VV sets: the shared set API plus the set snapshot used for group snapshots. */
export class VolumeSetsResource extends SetsResource {
  constructor(client: ResourceContext) {
    super(client, 'volumesets');
  }

  /**
   * Snapshots every member at once (§7.5). `name` is a pattern: `@count@` becomes 0, 1, 2… in
   * member order, so `grp-@count@` yields `grp-0`, `grp-1`, … whose `copyOf` names the member.
   * Resolves with the set named by `Location` (the set itself), or the set name.
   */
  async createSnapshot(set: string, params: CreateSnapshotParams, opts?: CallOptions): Promise<string> {
    const res = await this.send('volumeSets.createSnapshot', 'POST', apiPath`/volumesets/${set}`, opts, { action: 'createSnapshot', parameters: compact(params) });
    return (res.location !== undefined ? parseNameLocation(res.location, 'volumesets') : undefined) ?? set;
  }
}

/** Host sets: the shared set API. */
export class HostSetsResource extends SetsResource {
  constructor(client: ResourceContext) {
    super(client, 'hostsets');
  }
}
