/**
 * The class-parameter schemas in values.schema.json: generated from src/csi/params.ts (the file
 * must be current), and agreeing with the parsers: every value a parser accepts, the schema
 * accepts; the values the schema is strict about, it refuses exactly when the parser does.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import {
  GROUP_SNAPSHOT_CLASS_PARAMETERS,
  MUTABLE_PARAMETERS,
  SNAPSHOT_CLASS_PARAMETERS,
  STORAGE_CLASS_PARAMETERS,
  parseGroupSnapshotClassParameters,
  parseMutableParameters,
  parseSnapshotClassParameters,
  parseStorageClassParameters,
} from '../../src/csi/params.js';
import { anyCase, parameterSchemas } from '../../src/csi/params-schema.js';
import { BACKEND_KEYS } from '../../src/config/backends.js';
import { VALUES_SCHEMA, withParameterSchemas } from '../../scripts/gen-deploy-lib.mjs';

const schemaText = readFileSync(VALUES_SCHEMA, 'utf8');
const ajv = new Ajv({ allErrors: true, strict: false });
const defs = parameterSchemas();
const check = (name: string) => ajv.compile(defs[name]!);

describe('values.schema.json class parameters', () => {
  it('are current: the file equals a fresh generation (run `npm run gen:deploy` after changing params.ts)', () => {
    expect(schemaText).toBe(withParameterSchemas(schemaText, defs));
  });

  it('each class kind’s `parameters` uses its generated definition', () => {
    const s = JSON.parse(schemaText) as {
      properties: Record<string, { items: { properties: { parameters: unknown } } }>;
    };
    expect(s.properties['storageClasses']!.items.properties.parameters).toEqual({
      $ref: '#/definitions/storageClassParameters',
    });
    expect(s.properties['volumeSnapshotClasses']!.items.properties.parameters).toEqual({
      $ref: '#/definitions/snapshotClassParameters',
    });
    expect(s.properties['volumeGroupSnapshotClasses']!.items.properties.parameters).toEqual({
      $ref: '#/definitions/groupSnapshotClassParameters',
    });
    expect(JSON.stringify(s.properties['volumeAttributesClasses']!.items.properties.parameters)).toContain(
      '#/definitions/volumeAttributesClassParameters',
    );
  });

  it('the backend schema accepts exactly the keys the driver reads', () => {
    const s = JSON.parse(schemaText) as {
      properties: { backends: { items: { properties: Record<string, unknown>; additionalProperties: boolean } } };
    };
    expect(Object.keys(s.properties.backends.items.properties).sort()).toEqual([...BACKEND_KEYS].sort());
    expect(s.properties.backends.items.additionalProperties).toBe(false);
  });

  it('anyCase matches every letter case and escapes the rest', () => {
    const re = new RegExp(`^${anyCase('csi.storage.k8s.io/fstype')}$`);
    expect(re.test('CSI.Storage.K8S.io/FsType')).toBe(true);
    expect(re.test('csiXstorage.k8s.io/fstype')).toBe(false);
  });
});

/** Values per canonical key: each is tried under every spelling, against parser and schema. */
const SAMPLES: Record<string, { good: unknown[]; bad: unknown[] }> = {
  backend: { good: ['prod1', 'a'], bad: ['Prod_1', '', 'a-', 'x'.repeat(17)] },
  cpg: { good: ['SSD_r6', 'a.b-c'], bad: ['-x', 'x'.repeat(32), 'a b'] },
  snapCpg: { good: ['FC_r5'], bad: ['bad name'] },
  provisioningType: { good: ['tpvv', 'FULL', ' dedup ', 'reduce'], bad: ['tdvv', 'thin', ''] },
  compression: { good: [true, false, 'true', 'False'], bad: ['yes', '1', 1] },
  accessProtocol: { good: ['iscsi', 'FC', 'loop'], bad: ['nvme', 'iSCSI-x'] },
  hostSeesVLUN: { good: ['true', false], bad: ['maybe'] },
  qosName: { good: ['gold-set'], bad: ['x'.repeat(28)] },
  iscsiPortalIps: { good: ['10.0.0.1,10.0.0.2'], bad: [] },
  fcPortsList: { good: ['0:1:1,1:1:1'], bad: [] },
  description: { good: ['gold tier', ''], bad: ['x'.repeat(121), 'tab\there'] },
  fsOwner: { good: ['1000:1000'], bad: ['root:root', '1000'] },
  fsMode: { good: ['0770', '755'], bad: ['0999', 'rwx'] },
  fsCreateOptions: { good: ['-b 4096', ''], bad: [] },
  readOnly: { good: ['true', false], bad: ['ro'] },
  allowExpiry: { good: ['true', true], bad: ['sometimes'] },
  expirationHours: { good: [72, '72', 1, 43800], bad: [0, 43801, 'soon', 1.5] },
};
/** expirationHours is accepted only beside allowExpiry: add it unless the sample sets it. */
const withExpiry = (p: Record<string, string>): Record<string, string> =>
  Object.keys(p).some((k) => ['allowexpiry', 'allow_expiry'].includes(k.toLowerCase()))
    ? p
    : { allowExpiry: 'true', ...p };
/** Keys whose schema only the parser checks fully: the schema must not refuse what it accepts. */
const LOOSE = new Set(['iscsiPortalIps', 'fcPortsList', 'fsCreateOptions']);

describe.each([
  ['storageClassParameters', STORAGE_CLASS_PARAMETERS, parseStorageClassParameters],
  [
    'snapshotClassParameters',
    SNAPSHOT_CLASS_PARAMETERS,
    (p: Record<string, string>) => parseSnapshotClassParameters(withExpiry(p)),
  ],
  [
    'groupSnapshotClassParameters',
    GROUP_SNAPSHOT_CLASS_PARAMETERS,
    (p: Record<string, string>) => parseGroupSnapshotClassParameters(withExpiry(p)),
  ],
  ['volumeAttributesClassParameters', MUTABLE_PARAMETERS, parseMutableParameters],
] as const)('%s agrees with its parser', (name, descriptors, parse) => {
  const validate = check(name);
  const parses = (params: Record<string, unknown>): boolean => {
    try {
      parse(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])));
      return true;
    } catch {
      return false;
    }
  };

  it('every descriptor has samples, and every spelling in any case is accepted', () => {
    for (const d of descriptors) {
      if (d.key.startsWith('csi.storage.k8s.io/')) continue;
      expect([d.key, SAMPLES[d.key] !== undefined]).toEqual([d.key, true]);
      for (const spelling of [d.key, ...d.aliases, d.key.toUpperCase()]) {
        const value = SAMPLES[d.key]!.good[0];
        expect([spelling, validate({ [spelling]: value }), parses({ [spelling]: value })]).toEqual([
          spelling,
          true,
          true,
        ]);
      }
    }
  });

  it('values: the schema accepts what the parser accepts, and refuses what it refuses (strict keys)', () => {
    for (const d of descriptors) {
      if (d.key.startsWith('csi.storage.k8s.io/')) continue;
      const { good, bad } = SAMPLES[d.key]!;
      for (const v of good) {
        // An empty description or mode is fine for both; a sample the parser refuses is a bad sample.
        if (!parses({ [d.key]: v })) continue;
        expect([d.key, v, validate({ [d.key]: v })]).toEqual([d.key, v, true]);
      }
      if (LOOSE.has(d.key)) continue;
      for (const v of bad)
        expect([d.key, v, validate({ [d.key]: v }), parses({ [d.key]: v })]).toEqual([d.key, v, false, false]);
    }
  });

  it('an unknown key is refused by both', () => {
    expect(validate({ provisionningType: 'tpvv' })).toBe(false);
    expect(parses({ provisionningType: 'tpvv' })).toBe(false);
  });
});
