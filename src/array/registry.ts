import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { defaultBackend, type BackendConfig } from '../config/backends.js';
import { invalidArgument } from '../errors.js';
import type { ArrayClient } from './client.js';
import { Backend } from './backend.js';

/** Builds the client of one backend (the WSAPI client normally; tests may wrap it). */
export type ClientFactory = (config: BackendConfig, log: Logger, metrics?: Metrics) => ArrayClient;

/** Every configured backend, by id (DESIGN "Backends and IDs"). */
export class BackendRegistry {
  private readonly byId = new Map<string, Backend>();
  private readonly fallback: Backend | undefined;

  constructor(configs: readonly BackendConfig[], factory: ClientFactory, log: Logger, metrics?: Metrics) {
    for (const config of configs) {
      this.byId.set(config.id, new Backend(config, factory(config, log, metrics), log, metrics));
    }
    const def = defaultBackend(configs);
    this.fallback = def ? this.byId.get(def.id) : undefined;
  }

  /** The backend an id names, or undefined (the caller decides: NOT_FOUND or success). */
  get(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  /** The backend a StorageClass names, or the default one; INVALID_ARGUMENT otherwise. */
  forClass(id: string | undefined): Backend {
    if (id !== undefined) {
      const b = this.byId.get(id);
      if (!b) throw invalidArgument(`parameter "backend" names "${id}", which is not in the backends file (known: ${[...this.byId.keys()].join(', ')})`);
      return b;
    }
    if (!this.fallback) throw invalidArgument(`parameter "backend" is required: ${this.byId.size} backends are configured and none is marked default`);
    return this.fallback;
  }

  /** All backends in configuration order (lists walk them in this order). */
  all(): Backend[] {
    return [...this.byId.values()];
  }

  /**
   * Reads every array's identity (logs and metrics) and, with `refreshMs`, keeps the sessions
   * gauge and backend_up current in the background. Never throws.
   */
  async start(refreshMs?: number): Promise<void> {
    await Promise.all(this.all().map((b) => b.describe()));
    if (refreshMs) for (const b of this.all()) b.startRefresh(refreshMs);
  }

  /** Stops the refresh and logs out of every array. */
  async close(): Promise<void> {
    for (const b of this.all()) b.stopRefresh();
    await Promise.allSettled(this.all().map((b) => b.client.close()));
  }
}
