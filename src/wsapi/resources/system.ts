import { apiPath } from '../path.js';
import { Resource, TtlCache } from '../resource.js';
import { isRecord, readObject } from '../response.js';
import { raceAbort } from '../limiter.js';
import { WsapiAbortedError } from '../errors.js';
import type { SystemInfo, WsapiConfiguration } from '../types.js';
import type { CachedCallOptions } from './ports.js';

/** The array's identity and capacity: `GET /api/v1/system`. */
export class SystemResource extends Resource {
  private readonly cache = new TtlCache<SystemInfo>();

  /** System information. With `maxAgeMs`, an answer that young is reused without a request. */
  async get(opts: CachedCallOptions = {}): Promise<SystemInfo> {
    const op = 'system.get';
    const load = async (signal?: AbortSignal): Promise<SystemInfo> => readObject(await this.send(op, 'GET', apiPath`/system`, signal ? { signal } : undefined), this.ctx(op), isRecord);
    if (opts.maxAgeMs === undefined) return load(opts.signal);
    const info = await raceAbort(this.cache.get(opts.maxAgeMs, () => load()), opts.signal, () => new WsapiAbortedError(`WSAPI ${op} on backend ${this.client.backendId} was cancelled`, this.ctx(op)));
    return { ...info };
  }
}

/** The WSAPI service's own settings and session usage: `GET /api/v1/wsapiconfiguration`. */
export class WsapiConfigurationResource extends Resource {
  /** Current configuration, including `sessionsInUse` by all clients (never cached). */
  async get(opts?: CachedCallOptions): Promise<WsapiConfiguration> {
    const op = 'wsapiConfiguration.get';
    return readObject(await this.send(op, 'GET', apiPath`/wsapiconfiguration`, opts), this.ctx(op), isRecord);
  }
}
