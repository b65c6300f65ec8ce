/**
 * JSON Schemas of the class parameters, generated from the descriptors and value rules of
 * params.ts, for the chart's values.schema.json (`npm run gen:deploy` writes them; a packaging
 * test fails when the file is stale or when a schema refuses a value the parser accepts). A bad
 * value such as `provisioningType: tdvv` then fails `helm install` instead of the first PVC.
 *
 * Keys match in any letter case, as in the parsers (JSON Schema patterns have no case flag, so
 * each key becomes a pattern of character pairs). Values may be YAML strings, booleans or
 * numbers: the chart renders each with `toString`. Rules the schema language cannot say exactly
 * (the IP and port lists, mkfs options, compression with full) stay loose here and are checked
 * by the driver.
 */
import {
  ACCESS_PROTOCOLS,
  BACKEND_ID,
  DESCRIPTION_MAX,
  EXPIRATION_HOURS_MAX,
  FS_CREATE_OPTIONS_MAX,
  GROUP_SNAPSHOT_CLASS_PARAMETERS,
  MUTABLE_PARAMETERS,
  NAME27,
  NAME31,
  PROVISIONING_TYPES,
  SNAPSHOT_CLASS_PARAMETERS,
  STORAGE_CLASS_PARAMETERS,
  type ParameterDescriptor,
} from './params.js';

export type JsonSchema = Record<string, unknown>;

/** A regular-expression source matching `text` in any letter case. */
export function anyCase(text: string): string {
  return [...text]
    .map((c) =>
      c.toLowerCase() !== c.toUpperCase()
        ? `[${c.toLowerCase()}${c.toUpperCase()}]`
        : c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'),
    )
    .join('');
}

/** One of `words`, any case, surrounding blanks allowed (the parsers trim and lower-case). */
function words(list: readonly string[]): JsonSchema {
  return { type: 'string', pattern: `^\\s*(${list.map(anyCase).join('|')})\\s*$` };
}
const BOOLEAN: JsonSchema = { anyOf: [{ type: 'boolean' }, words(['true', 'false'])] };
const pattern = (re: RegExp, description: string): JsonSchema => ({ type: 'string', pattern: re.source, description });
const TEXT: JsonSchema = {
  type: 'string',
  maxLength: DESCRIPTION_MAX,
  pattern: '^[\\x20-\\x7e]*$',
  description: `printable ASCII, at most ${DESCRIPTION_MAX} characters`,
};
/** Set by the sidecars, not by class authors; any string. */
const METADATA: JsonSchema = { type: 'string' };

/** The value rule of each canonical key; every descriptor must have one (a test checks). */
const STORAGE_CLASS_VALUES: Record<string, JsonSchema> = {
  backend: pattern(BACKEND_ID, 'a backend id'),
  cpg: pattern(NAME31, 'a CPG name'),
  snapCpg: pattern(NAME31, 'a CPG name'),
  provisioningType: words(PROVISIONING_TYPES),
  compression: BOOLEAN,
  accessProtocol: words(ACCESS_PROTOCOLS),
  hostSeesVLUN: BOOLEAN,
  qosName: pattern(NAME27, 'a VV set name'),
  iscsiPortalIps: { type: 'string', minLength: 1, description: 'comma-separated IP addresses (checked by the driver)' },
  fcPortsList: {
    type: 'string',
    minLength: 1,
    description: 'comma-separated n:s:p port positions (checked by the driver)',
  },
  description: TEXT,
  fsOwner: { type: 'string', pattern: '^\\d{1,10}:\\d{1,10}$' },
  fsMode: { type: 'string', pattern: '^0?[0-7]{3,4}$' },
  fsCreateOptions: {
    type: 'string',
    maxLength: FS_CREATE_OPTIONS_MAX,
    description: 'mkfs options (checked by the driver)',
  },
};
const SNAPSHOT_VALUES: Record<string, JsonSchema> = {
  readOnly: BOOLEAN,
  allowExpiry: BOOLEAN,
  expirationHours: {
    anyOf: [
      { type: 'integer', minimum: 1, maximum: EXPIRATION_HOURS_MAX },
      { type: 'string', pattern: '^\\s*\\d+\\s*$' },
    ],
  },
  description: TEXT,
};
const MUTABLE_VALUES: Record<string, JsonSchema> = {
  ...STORAGE_CLASS_VALUES,
  qosName: { anyOf: [pattern(NAME27, 'a VV set name'), { const: '' }] },
};

/** The value rule of one descriptor; keys of the sidecars' metadata take any string. */
export function valueSchema(d: ParameterDescriptor, rules: Record<string, JsonSchema>): JsonSchema {
  if (d.key.startsWith('csi.storage.k8s.io/')) return METADATA;
  const rule = rules[d.key];
  if (!rule) throw new Error(`params-schema: no value rule for parameter "${d.key}"`);
  return rule;
}

/**
 * The schema of one class's `parameters` map: each descriptor's spellings in any case, and
 * (StorageClass only) the `csi.storage.k8s.io/` keys Kubernetes itself reads, which the chart
 * checks in its templates.
 */
function classSchema(
  descriptors: readonly ParameterDescriptor[],
  rules: Record<string, JsonSchema>,
  description: string,
  kubernetesKeys: boolean,
): JsonSchema {
  const patternProperties: Record<string, JsonSchema> = {};
  for (const d of descriptors)
    patternProperties[`^(${[d.key, ...d.aliases].map(anyCase).join('|')})$`] = valueSchema(d, rules);
  if (kubernetesKeys) patternProperties[`^${anyCase('csi.storage.k8s.io/')}`] = { type: 'string' };
  return { type: 'object', description, patternProperties, additionalProperties: false };
}

/** The definitions values.schema.json carries under `definitions`, by name. */
export function parameterSchemas(): Record<string, JsonSchema> {
  return {
    storageClassParameters: classSchema(
      STORAGE_CLASS_PARAMETERS,
      STORAGE_CLASS_VALUES,
      'StorageClass parameters (docs/parameters.md); generated from src/csi/params.ts by npm run gen:deploy',
      true,
    ),
    snapshotClassParameters: classSchema(
      SNAPSHOT_CLASS_PARAMETERS,
      SNAPSHOT_VALUES,
      'VolumeSnapshotClass parameters (docs/parameters.md); generated from src/csi/params.ts by npm run gen:deploy',
      true,
    ),
    groupSnapshotClassParameters: classSchema(
      GROUP_SNAPSHOT_CLASS_PARAMETERS,
      SNAPSHOT_VALUES,
      'VolumeGroupSnapshotClass parameters (docs/parameters.md); generated from src/csi/params.ts by npm run gen:deploy',
      true,
    ),
    volumeAttributesClassParameters: classSchema(
      MUTABLE_PARAMETERS,
      MUTABLE_VALUES,
      'VolumeAttributesClass parameters (docs/parameters.md); generated from src/csi/params.ts by npm run gen:deploy',
      false,
    ),
  };
}
