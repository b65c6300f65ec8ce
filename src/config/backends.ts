import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isRecord } from '../util/record.js';

/**
 * One array the controller may use, as the admin writes it in the backends file (mounted from
 * one Secret, controller only). See DESIGN.md "Backends and IDs".
 */
export interface BackendConfig {
  /** Short stable id, part of every volume/snapshot id: 1–16 of [a-z0-9-], alphanumeric ends. */
  id: string;
  /** WSAPI base URL, e.g. https://array.example:8080 (no path). */
  url: string;
  username: string;
  password: string;
  /** PEM CA bundle that signed the array's certificate; TLS is verified against it. */
  caCert?: string;
  /** Skip TLS verification (logged as a warning once). Never the default. */
  insecureSkipVerify?: boolean;
  /** CHAP credentials set on driver-owned hosts; the node gets them via the node-stage secret. */
  chap?: { user: string; secret: string };
  /** The backend used when a StorageClass names none (at most one may say so). */
  default?: boolean;
  /**
   * Access protocol for StorageClasses of this backend that do not set `accessProtocol`
   * (default iscsi). `serve --simulator` sets "loop", so a class with no parameters — as
   * conformance tools use — exercises the node side on the simulator's data plane.
   */
  defaultAccessProtocol?: 'iscsi' | 'fc' | 'loop';
  /** CPG for StorageClasses of this backend that do not set `cpg` (needed when the array has several). */
  defaultCpg?: string;
  /** Session keys this driver may hold on the array (default 4; arrays allow 24–36 in total). */
  sessionPoolSize?: number;
  /** WSAPI requests in flight at once on this array (default 8); the rest queue. */
  maxInFlight?: number;
  /** Seconds to connect (TCP + TLS) to the array (default 10). */
  connectTimeoutSeconds?: number;
  /** Seconds from a request sent to the first byte of the answer; a hung array shows here (default 30). */
  responseTimeoutSeconds?: number;
  /** Seconds for a whole request, body included (default 120). */
  requestTimeoutSeconds?: number;
}

/** A configuration problem found at start; the driver refuses to run with it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const BACKEND_ID_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const BACKEND_ID_MAX = 16;

const TIMEOUT_KEYS = ['connectTimeoutSeconds', 'responseTimeoutSeconds', 'requestTimeoutSeconds'] as const;
/** Upper bound of any timeout key (an hour: beyond it a "timeout" no longer protects anything). */
const TIMEOUT_MAX_SECONDS = 3600;

/** Every key a backend entry may have (values.schema.json's backend schema lists the same; a test checks). */
export const BACKEND_KEYS: readonly string[] = [
  'id',
  'url',
  'username',
  'password',
  'caCert',
  'insecureSkipVerify',
  'chap',
  'default',
  'sessionPoolSize',
  'maxInFlight',
  'defaultAccessProtocol',
  'defaultCpg',
  ...TIMEOUT_KEYS,
];
const KNOWN_KEYS = new Set(BACKEND_KEYS);

/** Checks one backend id; returns a reason when it is invalid. */
export function backendIdProblem(id: string): string | undefined {
  if (id.length < 1 || id.length > BACKEND_ID_MAX) return `must be 1-${BACKEND_ID_MAX} characters`;
  if (!BACKEND_ID_PATTERN.test(id)) return 'must match [a-z0-9]([a-z0-9-]*[a-z0-9])?';
  return undefined;
}

/** Reads and validates the backends file (YAML or JSON: a list of backends). */
export function loadBackendsFile(path: string): BackendConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the backends file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    // yaml is loaded on first use (the node plugin never reads a backends file).
    doc = (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
  } catch (err) {
    // The parser's message quotes the offending line, which may hold a password: only the
    // position and the parser's error code are shown.
    const e = err as { code?: unknown; linePos?: { line: number; col: number }[] };
    const pos = e.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const code = typeof e.code === 'string' ? ` (${e.code})` : '';
    throw new ConfigError(
      `the backends file ${path} is not valid YAML/JSON${where}${code}; the file's content is not shown, since it holds passwords`,
    );
  }
  return parseBackends(doc, path);
}

/** Validates a parsed backends document; every problem names the entry and the key. */
export function parseBackends(doc: unknown, source = 'backends'): BackendConfig[] {
  const list = Array.isArray(doc) ? doc : isRecord(doc) && Array.isArray(doc['backends']) ? doc['backends'] : undefined;
  if (!list) throw new ConfigError(`${source}: expected a list of backends (or {backends: [...]})`);
  if (list.length === 0) throw new ConfigError(`${source}: the list of backends is empty`);
  const ids = new Set<string>();
  const out = list.map((entry: unknown, i: number) => parseBackend(entry, `${source}: backend #${i + 1}`, source, ids));
  if (out.filter((b) => b.default).length > 1)
    throw new ConfigError(`${source}: more than one backend says default: true`);
  return out;
}

/** One entry of the list; `ids` holds the ids seen before it (each id is used once). */
function parseBackend(entry: unknown, where: string, source: string, ids: Set<string>): BackendConfig {
  if (!isRecord(entry)) throw new ConfigError(`${where} is not an object`);
  for (const k of Object.keys(entry))
    if (!KNOWN_KEYS.has(k)) throw new ConfigError(`${where} has an unknown key "${k}"`);
  const id = str(entry, 'id', where);
  const problem = backendIdProblem(id);
  if (problem) throw new ConfigError(`${where}: id "${id}" ${problem}`);
  if (ids.has(id)) throw new ConfigError(`${where}: id "${id}" is used twice`);
  ids.add(id);
  const at = `${source}: backend "${id}"`;
  const backend: BackendConfig = {
    id,
    url: backendUrl(entry, at),
    username: str(entry, 'username', at),
    password: str(entry, 'password', at),
  };
  if (entry['caCert'] !== undefined) {
    backend.caCert = str(entry, 'caCert', at);
    if (!backend.caCert.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(`${at}: caCert must be a PEM certificate bundle`);
  }
  if (entry['insecureSkipVerify'] !== undefined) backend.insecureSkipVerify = bool(entry, 'insecureSkipVerify', at);
  if (entry['default'] !== undefined) backend.default = bool(entry, 'default', at);
  if (entry['chap'] !== undefined) backend.chap = backendChap(entry['chap'], at);
  if (entry['defaultAccessProtocol'] !== undefined) {
    const p = entry['defaultAccessProtocol'];
    if (p !== 'iscsi' && p !== 'fc' && p !== 'loop')
      throw new ConfigError(`${at}: defaultAccessProtocol must be iscsi, fc or loop`);
    backend.defaultAccessProtocol = p;
  }
  if (entry['defaultCpg'] !== undefined) backend.defaultCpg = str(entry, 'defaultCpg', at);
  backendLimits(entry, backend, at);
  return backend;
}

/** The array's base URL: http(s), no path (the driver adds /api/v1), without a trailing slash. */
function backendUrl(entry: Record<string, unknown>, at: string): string {
  const url = str(entry, 'url', at);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${at}: url "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new ConfigError(`${at}: url must be http:// or https://`);
  if (parsed.pathname !== '/' && parsed.pathname !== '')
    throw new ConfigError(`${at}: url must have no path (the driver adds /api/v1)`);
  return url.replace(/\/+$/, '');
}

function backendChap(chap: unknown, at: string): { user: string; secret: string } {
  if (!isRecord(chap)) throw new ConfigError(`${at}: chap must be {user, secret}`);
  for (const k of Object.keys(chap))
    if (k !== 'user' && k !== 'secret') throw new ConfigError(`${at}: chap has an unknown key "${k}"`);
  const user = str(chap, 'user', `${at} chap`);
  const secret = str(chap, 'secret', `${at} chap`);
  // 3PAR CHAP secrets are 12-16 characters (iSCSI initiator CHAP on the host object).
  if (secret.length < 12 || secret.length > 16) throw new ConfigError(`${at}: chap.secret must be 12-16 characters`);
  return { user, secret };
}

/** The session and concurrency limits and the timeouts, each checked against its range. */
function backendLimits(entry: Record<string, unknown>, backend: BackendConfig, at: string): void {
  for (const k of ['sessionPoolSize', 'maxInFlight'] as const) {
    if (entry[k] === undefined) continue;
    const v = entry[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 64)
      throw new ConfigError(`${at}: ${k} must be an integer 1-64`);
    backend[k] = v;
  }
  for (const k of TIMEOUT_KEYS) {
    if (entry[k] === undefined) continue;
    const v = entry[k];
    if (typeof v !== 'number' || !(v > 0) || v > TIMEOUT_MAX_SECONDS)
      throw new ConfigError(`${at}: ${k} must be a number of seconds, more than 0 and at most ${TIMEOUT_MAX_SECONDS}`);
    backend[k] = v;
  }
  if ((backend.responseTimeoutSeconds ?? 0) > (backend.requestTimeoutSeconds ?? Infinity))
    throw new ConfigError(`${at}: responseTimeoutSeconds must not exceed requestTimeoutSeconds`);
}

/** The backend a StorageClass without `backend` uses: the only one, or the one marked default. */
export function defaultBackend(backends: readonly BackendConfig[]): BackendConfig | undefined {
  if (backends.length === 1) return backends[0];
  return backends.find((b) => b.default);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') throw new ConfigError(`${where}: "${key}" is missing`);
  if (typeof v !== 'string') throw new ConfigError(`${where}: "${key}" must be a string`);
  return v;
}
function bool(o: Record<string, unknown>, key: string, where: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ConfigError(`${where}: "${key}" must be true or false`);
  return v;
}
