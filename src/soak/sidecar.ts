/**
 * Calls CSI the way the sidecars and kubelet do: the same request again after any failure (same
 * name, same ids), exponential back-off, a deadline per call, and no giving up while the object
 * exists — external-provisioner retries a PVC's CreateVolume/DeleteVolume until it succeeds,
 * from --retry-interval-start (default 1 s) doubling up to --retry-interval-max (default 5 min)
 * (cmd/csi-provisioner/csi-provisioner.go). Only a final code (the request itself is wrong)
 * ends an operation, or `stuckAfterMs` without success, which the soak reports as a failure of
 * the driver — never as a leak. Counts what it saw, so the soak can report unexpected codes.
 */
import { CsiCallError, CsiClient } from '../csi/client.js';
import type { Prng } from './prng.js';

/** gRPC codes that mean the request itself is wrong: retrying cannot help, so the soak stops. */
const FINAL_CODES = new Set([
  3 /* INVALID_ARGUMENT */, 6 /* ALREADY_EXISTS */, 11 /* OUT_OF_RANGE */, 12 /* UNIMPLEMENTED */,
]);

/** external-provisioner's --retry-interval-start default. */
export const RETRY_INTERVAL_START_MS = 1000;
/** external-provisioner's --retry-interval-max default. */
export const RETRY_INTERVAL_MAX_MS = 5 * 60_000;

export interface CallOptions {
  /** Per-attempt deadline (the sidecars' --timeout; kubelet uses 2 min for node calls). */
  timeoutMs?: number;
  /** Send each attempt to every controller at once (split leaders); all answers must agree. */
  race?: boolean;
}

/** An operation that failed with a final code, or did not succeed within `stuckAfterMs`. */
export class OperationFailed extends Error {
  override name = 'OperationFailed';
  constructor(
    readonly rpc: string,
    message: string,
    readonly last?: CsiCallError,
  ) {
    super(message);
  }
}

export interface SidecarStats {
  /** Logical operations (one per call(), however many attempts). */
  ops: number;
  attempts: number;
  /** Failed attempts by RPC and code name. */
  failures: Map<string, number>;
  /** Answers of raced calls that disagreed (two controllers returned different objects). */
  disagreements: string[];
  /** The longest back-off waited. */
  maxBackoffMs: number;
}

export class Sidecar {
  private readonly clients = new Map<string, CsiClient>();
  readonly stats: SidecarStats = { ops: 0, attempts: 0, failures: new Map(), disagreements: [], maxBackoffMs: 0 };

  constructor(
    private controllers: string[],
    private readonly node: string,
    private readonly rng: Prng,
    private readonly defaults: { timeoutMs: number; stuckAfterMs: number; retryStartMs?: number; retryMaxMs?: number },
  ) {}

  /** Switches the controller endpoints (a phase with one or two controller processes). */
  setControllers(endpoints: string[]): void {
    this.controllers = endpoints;
  }

  /** A controller-side call (CreateVolume, ControllerPublishVolume, …). */
  controller<T>(rpc: string, req: unknown, opts: CallOptions = {}): Promise<T> {
    return this.run<T>(rpc, req, opts, () =>
      opts.race && this.controllers.length > 1 ? this.controllers : [this.rng.pick(this.controllers)],
    );
  }

  /** A node-side call (kubelet to the node plugin). */
  nodeCall<T>(rpc: string, req: unknown, opts: CallOptions = {}): Promise<T> {
    return this.run<T>(rpc, req, { timeoutMs: 120_000, ...opts }, () => [this.node]);
  }

  private async run<T>(rpc: string, req: unknown, opts: CallOptions, targets: () => string[]): Promise<T> {
    this.stats.ops++;
    const timeoutMs = opts.timeoutMs ?? this.defaults.timeoutMs;
    const stuckAt = Date.now() + this.defaults.stuckAfterMs;
    const maxBackoff = this.defaults.retryMaxMs ?? RETRY_INTERVAL_MAX_MS;
    let backoff = this.defaults.retryStartMs ?? RETRY_INTERVAL_START_MS;
    const seen = new Map<string, number>();
    for (let attempt = 1; ; attempt++) {
      this.stats.attempts++;
      const eps = targets();
      const settled = await Promise.allSettled(eps.map((ep) => this.once<T>(ep, rpc, req, timeoutMs)));
      const ok = settled
        .filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled')
        .map((s) => s.value);
      const errors = settled
        .filter((s): s is PromiseRejectedResult => s.status === 'rejected')
        .map((s) => s.reason as unknown);
      for (const e of errors) {
        const key = `${rpc} ${e instanceof CsiCallError ? e.codeName : 'client error'}`;
        this.stats.failures.set(key, (this.stats.failures.get(key) ?? 0) + 1);
        if (e instanceof CsiCallError) {
          const what = `${e.codeName}: ${e.details.slice(0, 200)}`;
          seen.set(what, (seen.get(what) ?? 0) + 1);
        }
      }
      if (ok.length > 1) this.compare(rpc, ok);
      if (ok.length > 0) return ok[0]!;
      const last = errors.at(-1);
      if (last instanceof CsiCallError && FINAL_CODES.has(last.code))
        throw new OperationFailed(rpc, `${rpc} failed with ${last.codeName}: ${last.details}`, last);
      if (!(last instanceof CsiCallError)) throw last;
      if (Date.now() + backoff > stuckAt) {
        const [common, n] = [...seen].sort((x, y) => y[1] - x[1])[0] ?? ['', 0];
        throw new OperationFailed(
          rpc,
          `${rpc} STUCK: no success in ${Math.round(this.defaults.stuckAfterMs / 1000)} s of retrying (${attempt} attempts); most often (×${n}) ${common}; last: ${last.codeName}: ${last.details.slice(0, 200)}`,
          last,
        );
      }
      this.stats.maxBackoffMs = Math.max(this.stats.maxBackoffMs, backoff);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  private async once<T>(endpoint: string, rpc: string, req: unknown, timeoutMs: number): Promise<T> {
    let client = this.clients.get(endpoint);
    if (!client) {
      client = new CsiClient(endpoint);
      this.clients.set(endpoint, client);
    }
    try {
      return await client.call<T>(rpc, req, { timeoutMs });
    } catch (err) {
      // A fresh channel after the process went away: grpc-js would otherwise back off reconnecting.
      if (err instanceof CsiCallError && (err.code === 14 || err.code === 4)) {
        client.close();
        if (this.clients.get(endpoint) === client) this.clients.delete(endpoint);
      }
      throw err;
    }
  }

  /** Two controllers answered the same request: the objects they name must be the same. */
  private compare(rpc: string, answers: unknown[]): void {
    const ids = answers.map((a) => {
      const o = a as {
        volume?: { volume_id?: string };
        snapshot?: { snapshot_id?: string };
        publish_context?: Record<string, string>;
      };
      return (
        o.volume?.volume_id ??
        o.snapshot?.snapshot_id ??
        (o.publish_context ? `lun ${o.publish_context['lun'] ?? '?'} wwn ${o.publish_context['wwn'] ?? '?'}` : '')
      );
    });
    if (new Set(ids).size > 1) this.stats.disagreements.push(`${rpc}: ${ids.join(' vs ')}`);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
