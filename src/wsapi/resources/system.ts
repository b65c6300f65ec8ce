import { apiPath } from '../path.js';
import { Resource, type CallOptions } from '../resource.js';
import { readObject } from '../response.js';
import { isRecord } from '../../util/record.js';
import type { SystemInfo, WsapiConfiguration } from '../types.js';

/** The array's identity and capacity: `GET /api/v1/system`. */
export class SystemResource extends Resource {
  /** System information (read once at start by the array layer). */
  async get(opts?: CallOptions): Promise<SystemInfo> {
    const op = 'system.get';
    return readObject(await this.send(op, 'GET', apiPath`/system`, opts), this.ctx(op), isRecord);
  }
}

/** The WSAPI service's own settings and session usage: `GET /api/v1/wsapiconfiguration`. */
export class WsapiConfigurationResource extends Resource {
  /** Current configuration, including `sessionsInUse` by all clients (never cached). */
  async get(opts?: CallOptions): Promise<WsapiConfiguration> {
    const op = 'wsapiConfiguration.get';
    return readObject(await this.send(op, 'GET', apiPath`/wsapiconfiguration`, opts), this.ctx(op), isRecord);
  }
}
