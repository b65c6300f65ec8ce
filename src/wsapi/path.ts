import type { PortPos, VlunId } from './types.js';
import { formatPortPos } from '../util/port-pos.js';

/**
 * Builds a path under `/api/v1` with every interpolated value percent-encoded, so an object name
 * can never change the path's shape (openai-node's `path` helper). The array rejects bad
 * %-escapes (400/56), and encodeURIComponent only produces valid ones.
 *
 *   apiPath`/volumes/${name}` → "/api/v1/volumes/osv-a%2Fb"
 */
export function apiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = '/api/v1';
  strings.forEach((s, i) => {
    out += s;
    if (i < values.length) out += segment(String(values[i]));
  });
  return out;
}

/**
 * One encoded path segment. "", "." and ".." (also as %2E, which URL parsers treat alike) would
 * turn `/volumes/<name>` into the collection or its parent, so they are refused outright.
 */
function segment(value: string): string {
  if (value === '' || /^\.{1,2}$/.test(value))
    throw new RangeError(`"${value}" cannot name a WSAPI object (it would change the request path)`);
  return encodeURIComponent(value);
}

export { formatPortPos } from '../util/port-pos.js';

/** Parses `n:s:p`; undefined when it is not three non-negative integers. */
export function parsePortPos(text: string): PortPos | undefined {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (!m) return undefined;
  return { node: Number(m[1]), slot: Number(m[2]), cardPort: Number(m[3]) };
}

/**
 * The VLUN path segment `<vol>,<lun>,<host>[,<n:s:p>]`. Names are encoded one by one; the commas
 * and the colons of the port position stay literal because they are the id's own syntax.
 */
export function vlunPath(id: VlunId): string {
  let seg = `${encodeURIComponent(id.volumeName)},${id.lun},${encodeURIComponent(id.hostname ?? '')}`;
  if (id.portPos) seg += `,${formatPortPos(id.portPos)}`;
  return `/api/v1/vluns/${seg}`;
}

/**
 * Parses a VLUN `Location` (`/api/v1/vluns/<vol>,<lun>,<host>[,<n:s:p>]`, possibly without the
 * leading slash or with the `/api/v1` prefix missing); undefined when it is not one.
 */
export function parseVlunLocation(location: string): VlunId | undefined {
  const rest = stripApiPrefix(location, 'vluns');
  if (rest === undefined) return undefined;
  const parts = rest.split(',').map((p) => safeDecode(p));
  if (parts.length < 3 || parts.length > 4 || parts.some((p) => p === undefined)) return undefined;
  const [volumeName, lunText, hostname, port] = parts as string[];
  if (!volumeName || !/^\d+$/.test(lunText ?? '')) return undefined;
  const id: VlunId = { volumeName, lun: Number(lunText) };
  if (hostname) id.hostname = hostname;
  if (port !== undefined && port !== '') {
    const portPos = parsePortPos(port);
    if (!portPos) return undefined;
    id.portPos = portPos;
  }
  return id;
}

/**
 * The object name at the end of a `Location` such as `/api/v1/volumes/<name>` (the guide prints
 * set Locations without the leading slash, so both forms are accepted).
 */
export function parseNameLocation(location: string, collection: string): string | undefined {
  const rest = stripApiPrefix(location, collection);
  if (rest === undefined || rest === '' || rest.includes('/')) return undefined;
  return safeDecode(rest);
}

function stripApiPrefix(location: string, collection: string): string | undefined {
  let path = location.trim();
  // A full URL would be unusual but harmless: keep only its path.
  if (/^https?:\/\//i.test(path)) {
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  path = path.replace(/^\/+/, '');
  if (path.startsWith('api/v1/')) path = path.slice('api/v1/'.length);
  if (!path.startsWith(`${collection}/`)) return undefined;
  return path.slice(collection.length + 1).split('?')[0];
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * A WSAPI `query=` parameter: the expression wrapped in double quotes and percent-encoded, as
 * HPE's own client sends it (§1.6).
 */
export function queryParam(expression: string): string {
  return `query=${encodeURIComponent(`"${expression}"`)}`;
}
