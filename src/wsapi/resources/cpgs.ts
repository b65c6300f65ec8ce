import { apiPath } from '../path.js';
import { Resource, type CallOptions } from '../resource.js';
import { hasName, readCollection, readObject } from '../response.js';
import { isRecord } from '../../util/record.js';
import { WsapiProtocolError } from '../errors.js';
import type { Cpg, CpgFreeSpace } from '../types.js';

/** Common provisioning groups: `/api/v1/cpgs`, and their free space from `/spacereporter`. */
export class CpgsResource extends Resource {
  /** Every CPG (one request). */
  async list(opts?: CallOptions): Promise<Cpg[]> {
    const op = 'cpgs.list';
    return readCollection(await this.send(op, 'GET', apiPath`/cpgs`, opts), this.ctx(op), hasName);
  }

  /** One CPG (404/15 when absent). */
  async get(name: string, opts?: CallOptions): Promise<Cpg> {
    const op = 'cpgs.get';
    return readObject(await this.send(op, 'GET', apiPath`/cpgs/${name}`, opts), this.ctx(op), hasName);
  }

  /**
   * How much more the CPG can grow: `POST /spacereporter {cpg}`. A read despite the POST, so it
   * is retried like a GET. Real arrays answer flat; the guide nests the figures under
   * `LDLayoutCapacity`: both are accepted.
   */
  async freeSpace(name: string, opts?: CallOptions): Promise<CpgFreeSpace> {
    const op = 'cpgs.freeSpace';
    const res = await this.send(op, 'POST', apiPath`/spacereporter`, opts, { cpg: name }, true);
    const body = res.body;
    const flat = isRecord(body) && isRecord(body['LDLayoutCapacity']) ? body['LDLayoutCapacity'] : body;
    if (isRecord(flat) && typeof flat['usableFreeMiB'] === 'number' && typeof flat['rawFreeMiB'] === 'number') {
      return { usableFreeMiB: flat['usableFreeMiB'], rawFreeMiB: flat['rawFreeMiB'] };
    }
    throw new WsapiProtocolError(
      'unexpected-shape',
      `WSAPI ${op} on backend ${this.client.backendId}: no usableFreeMiB/rawFreeMiB in the answer`,
      this.ctx(op),
      { status: res.status },
    );
  }
}
