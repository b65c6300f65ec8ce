/**
 * A plain HTTP client for simulator tests (deliberately not the project's WSAPI client): one
 * request per connection, JSON in and out, status and headers exposed as they are.
 */
import http from 'node:http';
import https from 'node:https';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { SAFETY_NET_MS, waitFor } from '../helpers/wait.js';

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions read arbitrary members
  body: any;
}

export interface CallOptions {
  key?: string;
  headers?: Record<string, string>;
  /** Send this exact text as the body. */
  rawBody?: string;
}

export function call(
  sim: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
  o: CallOptions = {},
): Promise<Res> {
  const url = new URL(path, sim.url);
  const text = o.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers: Record<string, string> = {
    ...(text !== undefined
      ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }
      : {}),
    ...(o.key ? { 'X-HP3PAR-WSAPI-SessionKey': o.key } : {}),
    ...o.headers,
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      { method, headers, agent: false, ...(sim.caCert ? { ca: sim.caCert } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = raw ? JSON.parse(raw) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (text !== undefined) req.write(text);
    req.end();
  });
}

export async function login(sim: RunningSimulator): Promise<string> {
  const r = await call(sim, 'POST', '/api/v1/credentials', { user: sim.username, password: sim.password });
  if (r.status !== 201) throw new Error(`login failed: ${r.status} ${r.raw}`);
  return (r.body as { key: string }).key;
}

/** A simulator plus a logged-in client bound to it. */
export async function session(options: SimulatorOptions = {}): Promise<{
  sim: RunningSimulator;
  key: string;
  api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;
}> {
  const sim = await startSimulator(options);
  const key = await login(sim);
  const api = (method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<Res> =>
    call(sim, method, path.startsWith('/api') ? path : `/api/v1${path}`, body, { key, ...o });
  return { sim, key, api };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns a truthy value; `safetyNetMs` only catches a hang (see helpers/wait.ts). */
export function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  safetyNetMs = SAFETY_NET_MS,
  intervalMs = 20,
): Promise<T> {
  return waitFor('a simulator state', fn, { safetyNetMs, intervalMs });
}
