import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { defaultBackend, type BackendConfig } from '../config/backends.js';
import { invalidArgument } from '../errors.js';
import type { ArrayClient } from './client.js';
import { Backend } from './backend.js';
import { parseId } from './names.js';
import { StorageArray, type ArrayOptions } from './storage-array.js';
import { wsapiClientFactory } from './wsapi-adapter.js';

/** Builds the client of one backend (the WSAPI client normally; tests may wrap it). */
export type ClientFactory = (config: BackendConfig, log: Logger, metrics?: Metrics) => ArrayClient;

export interface RegistryOptions extends ArrayOptions {
  log: Logger;
  metrics?: Metrics;
  /** How each backend's client is built; default: the WSAPI client. */
  clientFactory?: ClientFactory;
}

/** Every configured array, by backend id (DESIGN "Backends and IDs"). */
export class BackendRegistry {
  private readonly byId = new Map<string, StorageArray>();
  private readonly fallback: StorageArray | undefined;

  constructor(configs: readonly BackendConfig[], options: RegistryOptions) {
    const factory = options.clientFactory ?? wsapiClientFactory;
    for (const config of configs) {
      const backend = new Backend(config, factory(config, options.log, options.metrics), options.log, options.metrics);
      this.byId.set(config.id, new StorageArray(backend, options));
    }
    const def = defaultBackend(configs);
    this.fallback = def ? this.byId.get(def.id) : undefined;
  }

  /** The array a backend id names, or undefined (the caller decides: NOT_FOUND or success). */
  get(id: string): StorageArray | undefined {
    return this.byId.get(id);
  }

  /** The array and array name a CSI id (`<backendId>/<arrayName>`) names; undefined when it names nothing known. */
  lookup(id: string): { array: StorageArray; name: string } | undefined {
    const parsed = parseId(id);
    const array = parsed ? this.byId.get(parsed.backendId) : undefined;
    return parsed && array ? { array, name: parsed.arrayName } : undefined;
  }

  /** The array a StorageClass names, or the default one; INVALID_ARGUMENT otherwise. */
  forClass(id: string | undefined): StorageArray {
    if (id !== undefined) {
      const b = this.byId.get(id);
      if (!b)
        throw invalidArgument(
          `parameter "backend" names "${id}", which is not in the backends file (known: ${[...this.byId.keys()].join(', ')})`,
        );
      return b;
    }
    if (!this.fallback)
      throw invalidArgument(
        `parameter "backend" is required: ${this.byId.size} backends are configured and none is marked default`,
      );
    return this.fallback;
  }

  /** All arrays in configuration order (lists walk them in this order). */
  all(): StorageArray[] {
    return [...this.byId.values()];
  }

  /**
   * Reads every array's identity (logs and metrics) and, with `refreshMs`, keeps the sessions
   * gauge and backend_up current in the background. Never throws.
   */
  async start(refreshMs?: number): Promise<void> {
    await Promise.all(this.all().map((a) => a.start(refreshMs)));
  }

  /** Stops the refreshes and logs out of every array. */
  async close(): Promise<void> {
    await Promise.allSettled(this.all().map((a) => a.close()));
  }
}
