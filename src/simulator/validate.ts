/**
 * Strict request-body validation with the array's error codes (REFERENCE.md §1.5, §14, §15):
 * unknown member → 400/12 INV_INPUT, wrong JSON type → 400/39, missing required → 400/40, over-long
 * string → 400/57, illegal character → 400/69, empty name → 400/45, enum out of range → 400/46.
 * `ref` always names the offending member (dotted for nested objects). A member sent as null is
 * treated as absent, as the guide says.
 */
import type { ErrorCatalog } from './errors.js';

export type FieldType =
  | { t: 'name'; max: 31 | 27 }
  | { t: 'text'; max: number }
  | { t: 'iscsiName' }
  | { t: 'uint32' }
  /** int32 whose negative values are ignored (treated as absent). */
  | { t: 'igint32'; ignoreZero?: boolean }
  | { t: 'bool' }
  | { t: 'enum'; values: readonly number[] }
  | { t: 'strings'; item: FieldType }
  | { t: 'object'; schema: Schema }
  | { t: 'action' };

export interface Field {
  type: FieldType;
  required?: boolean;
}

export type Schema = Record<string, Field>;

/** The validated body: members of known types; absent members are missing keys. */
export type Body = Record<string, unknown>;

const NAME_CHARS = /^[A-Za-z0-9._-]*$/;
const PRINTABLE = /^[\x20-\x7E\t]*$/;

/** Checks one name31/Name27 string; shared with URL path names. */
export function checkName(errors: ErrorCatalog, value: string, max: number, ref: string): void {
  if (value.length === 0) throw errors.err('INV_INPUT_EMPTY_STR', ref);
  if (value.length > max) throw errors.err('INV_INPUT_EXCEEDS_LENGTH', ref);
  if (!NAME_CHARS.test(value) || value.startsWith('-')) throw errors.err('INV_INPUT_ILLEGAL_CHAR', ref);
}

/** Validates `body` against `schema`; returns it with nulls removed. */
export function validate(errors: ErrorCatalog, body: unknown, schema: Schema, prefix = ''): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw errors.err(
      prefix ? 'INV_INPUT_WRONG_TYPE' : 'INV_INPUT_NOT_JSON_OBJ',
      prefix ? prefix.slice(0, -1) : undefined,
    );
  }
  const out: Body = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const field = schema[k];
    if (!field) throw errors.err('INV_INPUT', prefix + k, `unknown member ${prefix}${k}`);
    if (v === null) continue;
    out[k] = checkValue(errors, v, field.type, prefix + k);
  }
  for (const [k, f] of Object.entries(schema)) {
    if (f.required && out[k] === undefined) throw errors.err('INV_INPUT_MISSING_REQUIRED', prefix + k);
  }
  return out;
}

function checkValue(errors: ErrorCatalog, v: unknown, type: FieldType, ref: string): unknown {
  const wrong = (): never => {
    throw errors.err('INV_INPUT_WRONG_TYPE', ref);
  };
  switch (type.t) {
    case 'name':
      if (typeof v !== 'string') return wrong();
      checkName(errors, v, type.max, ref);
      return v;
    case 'text':
      if (typeof v !== 'string') return wrong();
      if (v.length > type.max) throw errors.err('INV_INPUT_EXCEEDS_LENGTH', ref);
      if (!PRINTABLE.test(v)) throw errors.err('INV_INPUT_ILLEGAL_CHAR', ref);
      return v;
    case 'iscsiName':
      if (typeof v !== 'string') return wrong();
      if (v.length === 0) throw errors.err('INV_INPUT_EMPTY_STR', ref);
      if (v.length > 223) throw errors.err('INV_INPUT_EXCEEDS_LENGTH', ref);
      if (!/^[A-Za-z0-9.:_-]+$/.test(v)) throw errors.err('INV_INPUT_ILLEGAL_CHAR', ref);
      return v;
    case 'uint32':
      if (typeof v !== 'number' || !Number.isInteger(v)) return wrong();
      if (v < 0) throw errors.err('INV_INPUT_BELOW_RANGE', ref);
      if (v > 0xffffffff) throw errors.err('INV_INPUT_EXCEEDS_RANGE', ref);
      return v;
    case 'igint32':
      if (typeof v !== 'number' || !Number.isInteger(v)) return wrong();
      if (v > 0x7fffffff) throw errors.err('INV_INPUT_EXCEEDS_RANGE', ref);
      // Negative (and for some members zero) values mean "not set" on the array.
      if (v < 0 || (type.ignoreZero && v === 0)) return undefined;
      return v;
    case 'bool':
      if (typeof v !== 'boolean') return wrong();
      return v;
    case 'enum':
      if (typeof v !== 'number' || !Number.isInteger(v)) return wrong();
      if (!type.values.includes(v)) throw errors.err('INV_INPUT_BAD_ENUM_VALUE', ref);
      return v;
    case 'strings':
      if (!Array.isArray(v)) return wrong();
      return v.map((item, i) => checkValue(errors, item, type.item, `${ref}[${i}]`));
    case 'object':
      return validate(errors, v, type.schema, `${ref}.`);
    case 'action':
      if (typeof v !== 'string' && typeof v !== 'number') return wrong();
      return v;
  }
}

/** Field shorthands for schemas. */
export const F = {
  name31: (required = false): Field => ({ type: { t: 'name', max: 31 }, required }),
  name27: (required = false): Field => ({ type: { t: 'name', max: 27 }, required }),
  text: (max: number, required = false): Field => ({ type: { t: 'text', max }, required }),
  uint32: (required = false): Field => ({ type: { t: 'uint32' }, required }),
  igint32: (required = false, ignoreZero = false): Field => ({ type: { t: 'igint32', ignoreZero }, required }),
  bool: (required = false): Field => ({ type: { t: 'bool' }, required }),
  enumOf: (values: readonly number[], required = false): Field => ({ type: { t: 'enum', values }, required }),
  strings: (item: FieldType, required = false): Field => ({ type: { t: 'strings', item }, required }),
  object: (schema: Schema, required = false): Field => ({ type: { t: 'object', schema }, required }),
};

/** `{node, slot, cardPort}` as in ports and VLUNs. */
export const PORT_POS_SCHEMA: Schema = { node: F.uint32(true), slot: F.uint32(true), cardPort: F.uint32(true) };

/** Typed reads from a validated body. */
export const read = {
  str: (b: Body, k: string): string | undefined => b[k] as string | undefined,
  num: (b: Body, k: string): number | undefined => b[k] as number | undefined,
  bool: (b: Body, k: string): boolean | undefined => b[k] as boolean | undefined,
  strs: (b: Body, k: string): string[] | undefined => b[k] as string[] | undefined,
  obj: (b: Body, k: string): Body | undefined => b[k] as Body | undefined,
};
