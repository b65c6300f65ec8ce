import { apiPath, formatPortPos } from '../path.js';
import { Resource, type CallOptions } from '../resource.js';
import { readCollection, readObject } from '../response.js';
import { isRecord } from '../../util/record.js';
import type { IscsiVlan, Port, PortPos } from '../types.js';

/** Array ports: `/api/v1/ports`. The array layer caches the list (src/array/backend.ts). */
export class PortsResource extends Resource {
  /** Every port. */
  async list(opts?: CallOptions): Promise<Port[]> {
    const op = 'ports.list';
    return readCollection(await this.send(op, 'GET', apiPath`/ports`, opts), this.ctx(op), isPort);
  }

  /** The VLAN interfaces of a tagged iSCSI port (later firmware; 404 on 1.3.x). */
  async iscsiVlans(pos: PortPos, opts?: CallOptions): Promise<IscsiVlan[]> {
    const op = 'ports.iscsiVlans';
    // n:s:p stays literal: it is the id's own syntax, and its parts are numbers.
    const body = readObject(
      await this.send(op, 'GET', `${apiPath`/ports`}/${formatPortPos(pos)}/iSCSIVlans`, opts),
      this.ctx(op),
      (b): b is { iSCSIVlans?: unknown } => isRecord(b),
    );
    const list = Array.isArray(body.iSCSIVlans) ? body.iSCSIVlans : [];
    return list.filter((v): v is IscsiVlan => isRecord(v) && typeof v['IPAddr'] === 'string');
  }
}

/** Shape check: a port has a position. */
export function isPort(m: unknown): m is Port {
  return isRecord(m) && isRecord(m['portPos']) && typeof m['portPos']['node'] === 'number';
}
