import protobuf from 'protobufjs';
import { CSI_PROTO_PATH } from './proto.js';

/**
 * Strict JSON → CSI request conversion for `3par-csi call`: what a person types is checked
 * against the message type, field by field, before anything is sent. grpc-js alone drops unknown
 * fields and enum values silently and turns "10Gi" into a wrong number, so a typo would create
 * a different volume than the one asked for.
 */

/** A problem with the typed request; names the field path. The CLI prints it and exits 2. */
export class RequestJsonError extends Error {
  override name = 'RequestJsonError';
}

let root: protobuf.Root | undefined;

/** The proto parsed with the field names as written (keepCase), like the run-time loader. */
function csiRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root().loadSync(CSI_PROTO_PATH, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/**
 * Kubernetes quantity suffixes (resource.Quantity): binary Ki..Ei and decimal k..E. Accepted for
 * the byte fields (`*_bytes`) so that `"10Gi"` means 10 GiB, as in a PVC.
 */
const QUANTITY_SUFFIX: Record<string, bigint> = {
  '': 1n,
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
  k: 10n ** 3n,
  M: 10n ** 6n,
  G: 10n ** 9n,
  T: 10n ** 12n,
  P: 10n ** 15n,
  E: 10n ** 18n,
};

/** `"10Gi"` → "10737418240"; undefined when it is not a whole number of bytes. */
export function parseQuantity(text: string): string | undefined {
  const m = /^(\d+)(?:\.(\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(text.trim());
  if (!m) return undefined;
  const mult = QUANTITY_SUFFIX[m[3] ?? '']!;
  const frac = m[2] ?? '';
  const scaled = BigInt(m[1]! + frac) * mult;
  const div = 10n ** BigInt(frac.length);
  if (scaled % div !== 0n) return undefined;
  return (scaled / div).toString();
}

const INT_TYPES = new Set([
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
]);

/** Checks `json` against the request type of `rpc` (e.g. "CreateVolume"); returns what to send. */
export function requestFromJson(service: string, rpc: string, json: unknown): Record<string, unknown> {
  const svc = csiRoot().lookupService(`csi.v1.${service}`);
  const method = svc.methods[rpc];
  if (!method) throw new RequestJsonError(`unknown RPC "${rpc}"`);
  const type = csiRoot().lookupType(method.requestType);
  return message(type, json, type.name) as Record<string, unknown>;
}

function message(type: protobuf.Type, v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new RequestJsonError(`${path} must be a JSON object (a ${type.name} message), not ${describe(v)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) {
    const field = type.fields[key];
    if (!field)
      throw new RequestJsonError(
        `unknown field "${key}" in ${path} (${type.name} has: ${Object.keys(type.fields).join(', ')})`,
      );
    out[key] = fieldValue(field, value, `${path}.${key}`);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => out[f.name] !== undefined && out[f.name] !== null);
    if (set.length > 1)
      throw new RequestJsonError(
        `${path}: set only one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} (got ${set.map((f) => f.name).join(' and ')})`,
      );
  }
  return out;
}

function fieldValue(field: protobuf.Field, v: unknown, path: string): unknown {
  if (field instanceof protobuf.MapField) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new RequestJsonError(`${path} must be an object of ${field.type} values, not ${describe(v)}`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scalar(field, x, `${path}.${k}`)]));
  }
  if (field.repeated) {
    if (!Array.isArray(v)) throw new RequestJsonError(`${path} must be a list, not ${describe(v)}`);
    return v.map((x, i) => single(field, x, `${path}[${i}]`));
  }
  return single(field, v, path);
}

function single(field: protobuf.Field, v: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return message(resolved, v, path);
  if (resolved instanceof protobuf.Enum) {
    if (typeof v === 'string' && v in resolved.values) return v;
    if (typeof v === 'number' && Object.values(resolved.values).includes(v)) return v;
    throw new RequestJsonError(
      `${path}: ${JSON.stringify(v)} is not a ${resolved.name} (one of: ${Object.keys(resolved.values).join(', ')})`,
    );
  }
  return scalar(field, v, path);
}

function scalar(field: protobuf.Field, v: unknown, path: string): unknown {
  const t = field.type;
  if (t === 'string') {
    if (typeof v !== 'string') throw new RequestJsonError(`${path} must be a string, not ${describe(v)}`);
    return v;
  }
  if (t === 'bool') {
    if (typeof v !== 'boolean') throw new RequestJsonError(`${path} must be true or false, not ${describe(v)}`);
    return v;
  }
  if (t === 'bytes') {
    if (typeof v !== 'string') throw new RequestJsonError(`${path} must be a base64 string, not ${describe(v)}`);
    return v;
  }
  if (INT_TYPES.has(t)) {
    const bytes = field.name.endsWith('_bytes');
    if (typeof v === 'number' && Number.isSafeInteger(v) && (v >= 0 || t.startsWith('int') || t.startsWith('s')))
      return String(v);
    if (typeof v === 'string') {
      if (/^-?\d+$/.test(v.trim())) return v.trim();
      const q = bytes ? parseQuantity(v) : undefined;
      if (q !== undefined) return q;
    }
    throw new RequestJsonError(
      `${path} must be a whole number${bytes ? ' of bytes, or a quantity like "10Gi" or "500M"' : ''}, not ${describe(v)}`,
    );
  }
  if (t === 'double' || t === 'float') {
    if (typeof v !== 'number') throw new RequestJsonError(`${path} must be a number, not ${describe(v)}`);
    return v;
  }
  return v;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
