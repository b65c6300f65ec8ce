import { apiPath, formatPortPos } from '../path.js';
import { Resource, TtlCache, type CallOptions } from '../resource.js';
import { isRecord, readCollection, readObject } from '../response.js';
import { raceAbort } from '../limiter.js';
import { WsapiAbortedError } from '../errors.js';
import type { IscsiVlan, Port, PortPos } from '../types.js';

/** List options: `maxAgeMs` accepts a cached answer that young (ports rarely change). */
export interface CachedCallOptions extends CallOptions {
  maxAgeMs?: number;
}

/** Array ports: `/api/v1/ports`. */
export class PortsResource extends Resource {
  private readonly cache = new TtlCache<Port[]>();

  /**
   * Every port. With `maxAgeMs`, a list fetched within that time is returned without a request;
   * concurrent callers share one request. The caller's signal stops its own wait only.
   */
  async list(opts: CachedCallOptions = {}): Promise<Port[]> {
    const op = 'ports.list';
    const load = async (): Promise<Port[]> => readCollection(await this.send(op, 'GET', apiPath`/ports`, undefined), this.ctx(op), isPort);
    if (opts.maxAgeMs === undefined) return readCollection(await this.send(op, 'GET', apiPath`/ports`, opts), this.ctx(op), isPort);
    const ports = await raceAbort(this.cache.get(opts.maxAgeMs, load), opts.signal, () => new WsapiAbortedError(`WSAPI ${op} on backend ${this.client.backendId} was cancelled`, this.ctx(op)));
    return ports.map((p) => ({ ...p }));
  }

  /** One port by position (404/20 when absent). */
  async get(pos: PortPos, opts?: CallOptions): Promise<Port> {
    const op = 'ports.get';
    // n:s:p stays literal: it is the id's own syntax, and its parts are numbers.
    return readObject(await this.send(op, 'GET', `${apiPath`/ports`}/${formatPortPos(pos)}`, opts), this.ctx(op), isPort);
  }

  /** The VLAN interfaces of a tagged iSCSI port (later firmware; 404 on 1.3.x). */
  async iscsiVlans(pos: PortPos, opts?: CallOptions): Promise<IscsiVlan[]> {
    const op = 'ports.iscsiVlans';
    const body = readObject(await this.send(op, 'GET', `${apiPath`/ports`}/${formatPortPos(pos)}/iSCSIVlans`, opts), this.ctx(op), (b): b is { iSCSIVlans?: unknown } => isRecord(b));
    const list = Array.isArray(body.iSCSIVlans) ? body.iSCSIVlans : [];
    return list.filter((v): v is IscsiVlan => isRecord(v) && typeof v['IPAddr'] === 'string');
  }

  /** Forgets the cached list. */
  invalidateCache(): void {
    this.cache.clear();
  }
}

/** Shape check: a port has a position. */
export function isPort(m: unknown): m is Port {
  return isRecord(m) && isRecord(m['portPos']) && typeof m['portPos']['node'] === 'number';
}
