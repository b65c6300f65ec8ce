import { apiPath, queryParam } from '../path.js';
import { wwnForArray } from '../../util/wwn.js';
import { Resource, compact, type CallOptions } from '../resource.js';
import { hasName, readCollection, readObject } from '../response.js';
import type { Host, HostDescriptors } from '../types.js';
import { ChapOperationMode, HostEditOperation } from '../enums.js';
import { WsapiError } from '../errors.js';

/** `POST /hosts` (§9.2): iSCSI names or FC WWNs (never both), or no paths at all. */
export interface CreateHostParams {
  name: string;
  iSCSINames?: string[];
  FCWWNs?: string[];
  /** See HostPersona; GENERIC_ALUA for Linux with dm-multipath. */
  persona?: number;
  descriptors?: HostDescriptors;
  domain?: string;
  forceTearDown?: boolean;
}

/** `PUT /hosts/<name>` (§9.3). Paths need `pathOperation`; CHAP members go with `chapOperation`. */
export interface ModifyHostParams {
  newName?: string;
  /** See HostEditOperation. */
  pathOperation?: number;
  FCWWNs?: string[];
  iSCSINames?: string[];
  forcePathRemoval?: boolean;
  persona?: number;
  descriptors?: HostDescriptors;
  /** See HostEditOperation. */
  chapOperation?: number;
  /** See ChapOperationMode. */
  chapOperationMode?: number;
  chapName?: string;
  chapSecret?: string;
  chapSecretHex?: boolean;
  chapRemoveTargetOnly?: boolean;
}

/** Initiators to look a host up by. */
export interface InitiatorQuery {
  iqns?: readonly string[];
  wwns?: readonly string[];
}

/** Hosts: `/api/v1/hosts`. */
export class HostsResource extends Resource {
  /** Every host (one request). */
  async list(opts?: CallOptions): Promise<Host[]> {
    const op = 'hosts.list';
    return readCollection(await this.send(op, 'GET', apiPath`/hosts`, opts), this.ctx(op), hasName);
  }

  /** One host (404/17 when absent). */
  async get(name: string, opts?: CallOptions): Promise<Host> {
    const op = 'hosts.get';
    return readObject(await this.send(op, 'GET', apiPath`/hosts/${name}`, opts), this.ctx(op), hasName);
  }

  /** Creates a host (409/16 name taken, 409/73 an initiator belongs to another host). */
  async create(params: CreateHostParams, opts?: CallOptions): Promise<void> {
    const body = compact({ ...params, ...(params.FCWWNs && { FCWWNs: params.FCWWNs.map(wwnForArray) }) });
    await this.send('hosts.create', 'POST', apiPath`/hosts`, opts, body);
  }

  /** Modifies a host: paths, persona, descriptors, CHAP, name. The body (CHAP secret) is never logged. */
  async modify(name: string, changes: ModifyHostParams, opts?: CallOptions): Promise<void> {
    const body = compact({ ...changes, ...(changes.FCWWNs && { FCWWNs: changes.FCWWNs.map(wwnForArray) }) });
    await this.send('hosts.modify', 'PUT', apiPath`/hosts/${name}`, opts, body);
  }

  /** Sets initiator CHAP (the array checks the host's name/secret at iSCSI login). */
  async setInitiatorChap(
    name: string,
    chap: { chapName: string; chapSecret: string; chapSecretHex?: boolean },
    opts?: CallOptions,
  ): Promise<void> {
    await this.modify(
      name,
      { chapOperation: HostEditOperation.ADD, chapOperationMode: ChapOperationMode.INITIATOR, ...chap },
      opts,
    );
  }

  /** Removes CHAP from the host. */
  async removeChap(name: string, opts?: CallOptions): Promise<void> {
    await this.modify(name, { chapOperation: HostEditOperation.REMOVE }, opts);
  }

  /** Deletes a host (404/17 absent, 409/26 still exported, 409/77 in a host set). */
  async delete(name: string, opts?: CallOptions): Promise<void> {
    await this.send('hosts.delete', 'DELETE', apiPath`/hosts/${name}`, opts);
  }

  /**
   * The hosts owning any of these initiators: one `GET /hosts?query="iSCSIPaths[name==…] OR
   * FCPaths[wwn==…]"`. Whether an array answers a miss with an empty list or 404 is unknown, so
   * both mean "none"; the answer is filtered again here in case the array ignored the query.
   */
  async queryByInitiators(q: InitiatorQuery, opts?: CallOptions): Promise<Host[]> {
    const op = 'hosts.queryByInitiators';
    const iqns = [...(q.iqns ?? [])];
    const wwns = (q.wwns ?? []).map(wwnForArray);
    if (iqns.length === 0 && wwns.length === 0) return [];
    const terms: string[] = [];
    if (iqns.length > 0) terms.push(`iSCSIPaths[${iqns.map((n) => `name==${n}`).join(' OR ')}]`);
    if (wwns.length > 0) terms.push(`FCPaths[${wwns.map((w) => `wwn==${w}`).join(' OR ')}]`);
    let hosts: Host[];
    try {
      hosts = readCollection(
        await this.send(op, 'GET', `${apiPath`/hosts`}?${queryParam(terms.join(' OR '))}`, opts),
        this.ctx(op),
        hasName,
      );
    } catch (err) {
      if (err instanceof WsapiError && err.status === 404) return [];
      throw err;
    }
    return hosts.filter((h) => ownsAny(h, iqns, wwns));
  }
}

/** True when the host has one of the IQNs or WWNs (WWNs compared normalised; `WWN` or `wwn`). */
export function ownsAny(host: Host, iqns: readonly string[], wwns: readonly string[]): boolean {
  // IQNs are case-insensitive (RFC 3720 normalises them to lower case).
  const lower = iqns.map((n) => n.toLowerCase());
  if (host.iSCSIPaths?.some((p) => lower.includes(p.name.toLowerCase()))) return true;
  return (
    host.FCPaths?.some((p) => {
      const w = p.wwn ?? p.WWN;
      return w !== undefined && wwns.includes(wwnForArray(w));
    }) ?? false
  );
}
