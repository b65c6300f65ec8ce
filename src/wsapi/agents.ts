import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import tls from 'node:tls';

/**
 * The connection agents of one backend (made once, with its got instance, see configure in
 * http.ts). The array closes the connection after every answer (REFERENCE §1.2), so each WSAPI
 * request over HTTPS is a new TCP connection and TLS handshake; what a handshake costs the client
 * is set here, once per backend:
 *
 * - One TLS secure context, built from the backend's CA (or the default roots) when the agents are
 *   made. Given the CA as a request option instead (got's `https.certificateAuthority`), Node builds
 *   a new context for every connection: an OpenSSL SSL_CTX, the PEM parsed, the store filled. The
 *   context holds only trust material; verification (`rejectUnauthorized`, the host name check)
 *   stays a per-request option and is unchanged.
 * - TLS session resumption: Node's https.Agent keeps the sessions (tickets or IDs) a server issues
 *   and offers them on the next connection to the same host, port and TLS options; a server that
 *   accepts one skips the certificate exchange. A server that does not (another server on that
 *   address, a restarted one, one that refuses resumption) gets a full handshake, verified as always.
 * - A short-lived cache of dns.lookup answers (LookupCache).
 */
export interface AgentOptions {
  /** PEM bundle that signed the array's certificate (else the default roots). */
  caCert?: string;
  /** The lookup cache of this backend (a test injects one with its own clock and resolver). */
  lookup?: LookupCache;
}

export interface Agents {
  http: http.Agent;
  https: https.Agent;
  /** False when the CA could not be loaded: the caller passes it per request, as before, so the error shows there. */
  sharedContext: boolean;
}

/** Idle time after which a kept-alive socket is closed by the client (see createHttp). */
export const FREE_SOCKET_MS = 2_000;

export function createAgents(options: AgentOptions): Agents {
  const cache = options.lookup ?? new LookupCache();
  const base = {
    keepAlive: true,
    keepAliveMsecs: 1_000,
    timeout: FREE_SOCKET_MS,
    scheduling: 'lifo' as const,
    lookup: cache.lookup,
  };
  const secureContext = loadContext(options.caCert);
  return {
    http: dropOnFailure(new http.Agent(base), cache),
    https: dropOnFailure(new https.Agent({ ...base, ...(secureContext && { secureContext }) }), cache),
    sharedContext: secureContext !== undefined,
  };
}

/** The backend's secure context, or undefined when its CA does not load (reported per request then). */
function loadContext(caCert: string | undefined): tls.SecureContext | undefined {
  try {
    return tls.createSecureContext(caCert === undefined ? {} : { ca: caCert });
  } catch {
    return undefined;
  }
}

/**
 * Makes `agent` drop its host's cached address when a connection to it closes before it was
 * established (refused, unreachable, timed out): the next request looks the name up afresh.
 */
function dropOnFailure<A extends http.Agent>(agent: A, cache: LookupCache): A {
  const create = agent.createConnection.bind(agent) as (...args: unknown[]) => Socket | undefined;
  const wrapped = (...args: unknown[]): Socket | undefined => {
    const socket = create(...args);
    const host = (args[0] as { host?: unknown } | undefined)?.host;
    if (socket !== undefined && typeof host === 'string') {
      let connected = false;
      const failed = (): void => {
        if (!connected) cache.drop(host);
      };
      socket.once('connect', () => (connected = true));
      // 'error' comes before the request's own error listener runs; 'close' covers a destroy.
      socket.once('error', failed);
      socket.once('close', failed);
    }
    return socket;
  };
  Object.assign(agent, { createConnection: wrapped });
  return agent;
}

/** dns.lookup's signature as net.connect calls it (options always given). */
type Lookup = (
  hostname: string,
  options: dns.LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
) => void;

/** How long a looked-up address is reused (the staleness bound, docs/configuration.md). */
export const LOOKUP_TTL_MS = 5_000;

interface Entry {
  at: number;
  address: string | dns.LookupAddress[];
  family: number | undefined;
}

/**
 * A cache of dns.lookup answers, one per backend. It calls dns.lookup itself (getaddrinfo: the
 * same answer the connection would get without it, /etc/hosts, search domains and nsswitch
 * included), keeps a successful answer for LOOKUP_TTL_MS at most, never keeps a failure, and
 * forgets a host when a connection to it fails before it is established. Keyed by host name and
 * the lookup options net passes (family, hints, all). An IP address is never looked up (net skips
 * the lookup for one).
 *
 * The answer is delivered on setImmediate, never synchronously: got arms its connect and lookup
 * timers on the socket's `lookup` event, after the request's `socket` event (a next tick); an
 * answer before that would leave the connect timer unarmed.
 */
export class LookupCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #resolve: Lookup;
  readonly #ttlMs: number;

  constructor(opts: { now?: () => number; resolve?: Lookup; ttlMs?: number } = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#resolve = opts.resolve ?? (dns.lookup as unknown as Lookup);
    this.#ttlMs = opts.ttlMs ?? LOOKUP_TTL_MS;
  }

  /** Entries held (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  readonly lookup = ((hostname: string, options: dns.LookupOptions, callback: Parameters<Lookup>[2]): void => {
    const key = `${hostname}\0${options.family ?? ''}\0${options.hints ?? ''}\0${options.all === true ? 1 : 0}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined && this.#now() - hit.at < this.#ttlMs) {
      setImmediate(callback, null, hit.address, hit.family);
      return;
    }
    if (hit !== undefined) this.#entries.delete(key);
    const at = this.#now();
    this.#resolve(hostname, options, (err, address, family) => {
      if (!err) this.#entries.set(key, { at, address, family });
      callback(err, address, family);
    });
  }) as unknown as LookupFunction;

  /** Forgets every answer for `hostname` (a connection to it failed). */
  drop(hostname: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(`${hostname}\0`)) this.#entries.delete(key);
  }
}
