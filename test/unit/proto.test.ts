/**
 * proto/csi.proto must be wire-identical to the CSI v1.12.0 wire description kept in
 * test/unit/fixtures/csi-wire-v1.12.0.json (a spec fact, derived mechanically from the spec's
 * csi.proto at tag v1.12.0; the file names its source commit and sha256): every service, rpc,
 * message, field and enum value.
 * The proto is parsed by protobufjs with keepCase — the parser @grpc/proto-loader uses at run
 * time — and the services are also checked through proto-loader with the server's options, from
 * proto/csi.descriptor.json (what the driver loads), which must equal what proto-loader makes from csi.proto.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { isDeepStrictEqual } from 'node:util';
import { CSI_DESCRIPTOR_PATH, CSI_PROTO_PATH, loadCsiDefinition, parseCsiProto } from '../../src/csi/proto.js';
import { descriptorJson } from '../../scripts/gen-csi-descriptor-lib.mjs';

interface WireField {
  name: string;
  number: number;
  label: 'singular' | 'optional' | 'repeated' | 'map';
  typeKind: 'scalar' | 'message' | 'enum' | 'map';
  fullType: string;
  mapKeyType?: string;
  mapValueType?: string;
  oneof: string | null;
  csi_secret: boolean;
  alpha_field: boolean;
}
interface WireMessage {
  fullName: string;
  fields: WireField[];
  alpha_message: boolean;
}
interface WireEnum {
  fullName: string;
  values: { name: string; number: number; alpha_enum_value: boolean }[];
}
interface WireRpc {
  name: string;
  grpcPath: string;
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
  alpha_method: boolean;
}
interface Wire {
  services: Record<string, { fullName: string; rpcs: WireRpc[]; alpha_service: boolean }>;
  messages: Record<string, WireMessage>;
  enums: Record<string, WireEnum>;
  counts: { services: number; rpcs: number; messages: number; fields: number; enums: number };
}

const WIRE_PATH = fileURLToPath(new URL('./fixtures/csi-wire-v1.12.0.json', import.meta.url));

const SCALARS = new Set([
  'double',
  'float',
  'int64',
  'uint64',
  'int32',
  'fixed64',
  'fixed32',
  'bool',
  'string',
  'bytes',
  'uint32',
  'sfixed32',
  'sfixed64',
  'sint32',
  'sint64',
]);

function strip(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}

/** Everything in the parsed proto under csi.v1, flattened by full name. */
function collect(root: protobuf.Root): {
  types: Map<string, protobuf.Type>;
  enums: Map<string, protobuf.Enum>;
  services: Map<string, protobuf.Service>;
} {
  const types = new Map<string, protobuf.Type>();
  const enums = new Map<string, protobuf.Enum>();
  const services = new Map<string, protobuf.Service>();
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      const full = strip(obj.fullName);
      if (obj instanceof protobuf.Type) types.set(full, obj);
      else if (obj instanceof protobuf.Enum) enums.set(full, obj);
      else if (obj instanceof protobuf.Service) services.set(full, obj);
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) walk(obj);
    }
  };
  walk(root.lookup('csi.v1') as protobuf.Namespace);
  return { types, enums, services };
}

describe('proto/csi.proto is wire-identical to CSI v1.12.0', () => {
  // Read in a hook, not while jest collects the tests: a failure here fails these tests by name.
  let wire: Wire;
  let types: Map<string, protobuf.Type>;
  let enums: Map<string, protobuf.Enum>;
  let services: Map<string, protobuf.Service>;
  beforeAll(() => {
    wire = JSON.parse(readFileSync(WIRE_PATH, 'utf8')) as Wire;
    const root = new protobuf.Root().loadSync(CSI_PROTO_PATH, { keepCase: true });
    root.resolveAll();
    ({ types, enums, services } = collect(root));
  });

  test('the fixture is the CSI v1.12.0 wire description', () => {
    expect(wire).toMatchObject({ csiSpecVersion: '1.12.0', package: 'csi.v1' });
  });

  test('the same sets of services, messages and enums', () => {
    expect([...services.keys()].sort()).toEqual(Object.keys(wire.services).sort());
    expect([...types.keys()].sort()).toEqual(Object.keys(wire.messages).sort());
    expect([...enums.keys()].sort()).toEqual(Object.keys(wire.enums).sort());
    expect(types.size).toBe(wire.counts.messages);
  });

  test('every rpc: name, request/response type, streaming', () => {
    const problems: string[] = [];
    for (const [name, svc] of Object.entries(wire.services)) {
      const mine = services.get(name);
      if (!mine) {
        problems.push(`service ${name} missing`);
        continue;
      }
      const names = mine.methodsArray.map((m) => m.name).sort();
      if (JSON.stringify(names) !== JSON.stringify(svc.rpcs.map((r) => r.name).sort()))
        problems.push(`service ${name}: rpc set ${names.join(',')}`);
      for (const rpc of svc.rpcs) {
        const m = mine.methods[rpc.name];
        const at = `rpc ${name}.${rpc.name}`;
        if (!m) {
          problems.push(`${at} missing`);
          continue;
        }
        if (strip(m.resolvedRequestType!.fullName) !== rpc.requestType)
          problems.push(`${at}: request type ${m.resolvedRequestType!.fullName}`);
        if (strip(m.resolvedResponseType!.fullName) !== rpc.responseType)
          problems.push(`${at}: response type ${m.resolvedResponseType!.fullName}`);
        if (Boolean(m.requestStream) !== rpc.requestStream) problems.push(`${at}: request streaming`);
        if (Boolean(m.responseStream) !== rpc.responseStream) problems.push(`${at}: response streaming`);
        if (Boolean(m.options?.['(alpha_method)']) !== rpc.alpha_method) problems.push(`${at}: alpha_method option`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('every message field: name, number, type, label, oneof, options', () => {
    const problems: string[] = [];
    let fieldCount = 0;
    for (const [name, msg] of Object.entries(wire.messages)) {
      const type = types.get(name);
      if (!type) {
        problems.push(`message ${name} missing`);
        continue;
      }
      if (Boolean(type.options?.['(alpha_message)']) !== msg.alpha_message)
        problems.push(`message ${name}: alpha_message option`);
      const mineNames = type.fieldsArray.map((f) => f.name).sort();
      const wireNames = msg.fields.map((f) => f.name).sort();
      if (JSON.stringify(mineNames) !== JSON.stringify(wireNames))
        problems.push(`message ${name}: fields ${mineNames.join(',')} vs ${wireNames.join(',')}`);
      for (const wf of msg.fields) {
        fieldCount++;
        const f = type.fields[wf.name];
        const at = `field ${name}.${wf.name}`;
        if (!f) {
          problems.push(`${at} missing`);
          continue;
        }
        if (f.id !== wf.number) problems.push(`${at}: number ${f.id} != ${wf.number}`);
        if (wf.label === 'map') {
          const mf = f as unknown as protobuf.MapField;
          if (!f.map) problems.push(`${at}: not a map`);
          else if (mf.keyType !== wf.mapKeyType) problems.push(`${at}: map key ${mf.keyType}`);
          if (f.type !== wf.mapValueType && strip(f.resolvedType?.fullName ?? '') !== wf.mapValueType)
            problems.push(`${at}: map value ${f.type}`);
        } else {
          const label = f.repeated ? 'repeated' : f.options?.['proto3_optional'] ? 'optional' : 'singular';
          if (label !== wf.label) problems.push(`${at}: label ${label} != ${wf.label}`);
          if (wf.typeKind === 'scalar') {
            if (!SCALARS.has(f.type) || f.type !== wf.fullType)
              problems.push(`${at}: type ${f.type} != ${wf.fullType}`);
          } else {
            const resolved = f.resolvedType;
            const kind =
              resolved instanceof protobuf.Enum ? 'enum' : resolved instanceof protobuf.Type ? 'message' : 'none';
            if (kind !== wf.typeKind || strip(resolved?.fullName ?? '') !== wf.fullType)
              problems.push(`${at}: type ${f.type} (${kind}) != ${wf.fullType} (${wf.typeKind})`);
          }
        }
        const oneof = f.partOf ? f.partOf.name : null;
        if (oneof !== wf.oneof) problems.push(`${at}: oneof ${String(oneof)} != ${String(wf.oneof)}`);
        if (Boolean(f.options?.['(csi_secret)']) !== wf.csi_secret) problems.push(`${at}: csi_secret option`);
        if (Boolean(f.options?.['(alpha_field)']) !== wf.alpha_field) problems.push(`${at}: alpha_field option`);
      }
    }
    expect(problems).toEqual([]);
    expect(fieldCount).toBe(wire.counts.fields);
  });

  test('every enum value: name and number', () => {
    const problems: string[] = [];
    for (const [name, en] of Object.entries(wire.enums)) {
      const mine = enums.get(name);
      if (!mine) {
        problems.push(`enum ${name} missing`);
        continue;
      }
      const expected = Object.fromEntries(en.values.map((v) => [v.name, v.number]));
      if (JSON.stringify(mine.values) !== JSON.stringify(expected))
        problems.push(`enum ${name}: ${JSON.stringify(mine.values)} != ${JSON.stringify(expected)}`);
      for (const v of en.values) {
        const alpha = Boolean(mine.valuesOptions?.[v.name]?.['(alpha_enum_value)']);
        if (alpha !== v.alpha_enum_value) problems.push(`enum value ${name}.${v.name}: alpha_enum_value option`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('the server loader (proto-loader, run-time options) sees every rpc at its gRPC path', () => {
    const def = loadCsiDefinition();
    const problems: string[] = [];
    for (const [name, svc] of Object.entries(wire.services)) {
      const loaded = def[name] as
        Record<string, { path: string; requestStream: boolean; responseStream: boolean }> | undefined;
      if (!loaded) {
        problems.push(`service ${name} not loaded`);
        continue;
      }
      for (const rpc of svc.rpcs) {
        const m = loaded[rpc.name];
        if (!m) problems.push(`rpc ${name}.${rpc.name} not loaded`);
        else if (
          m.path !== rpc.grpcPath ||
          m.requestStream !== rpc.requestStream ||
          m.responseStream !== rpc.responseStream
        )
          problems.push(`rpc ${name}.${rpc.name}: ${m.path}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the built descriptor (proto/csi.descriptor.json) the driver loads at start', () => {
  test('regenerating it from proto/csi.proto (npm run gen:descriptor) changes nothing', () => {
    expect(readFileSync(CSI_DESCRIPTOR_PATH, 'utf8')).toBe(descriptorJson(CSI_PROTO_PATH));
  });

  test('proto-loader makes the same definitions from it as from proto/csi.proto', () => {
    const fromProto = parseCsiProto();
    const built = loadCsiDefinition();
    expect(Object.keys(built).sort()).toEqual(Object.keys(fromProto).sort());
    const problems: string[] = [];
    let messages = 0;
    let methods = 0;
    for (const [name, want] of Object.entries(fromProto)) {
      const got = built[name]!;
      if ('format' in want && 'format' in got) {
        const fdp = (d: typeof want): Buffer[] => d.fileDescriptorProtos as Buffer[];
        messages++;
        // The message or enum itself and the encoded FileDescriptorProtos (what reflection serves).
        if (!isDeepStrictEqual(got.type, want.type)) problems.push(`${name}: type`);
        const same =
          fdp(got as typeof want).length === fdp(want).length &&
          fdp(got as typeof want).every((b, i) => b.equals(fdp(want)[i]!));
        if (!same) problems.push(`${name}: fileDescriptorProtos`);
      } else if (!('format' in want) && !('format' in got)) {
        for (const [rpc, m] of Object.entries(want)) {
          methods++;
          const g = (got as typeof want)[rpc];
          if (
            !g ||
            g.path !== m.path ||
            g.requestStream !== m.requestStream ||
            g.responseStream !== m.responseStream ||
            g.originalName !== m.originalName
          )
            problems.push(`${name}.${rpc}: method`);
          else if (
            !isDeepStrictEqual(g.requestType.type, m.requestType.type) ||
            !isDeepStrictEqual(g.responseType.type, m.responseType.type)
          )
            problems.push(`${name}.${rpc}: message types`);
        }
      } else problems.push(`${name}: kind`);
    }
    expect(problems).toEqual([]);
    expect(messages).toBeGreaterThan(100);
    expect(methods).toBeGreaterThan(30);
  });

  test('a request encoded by one decodes the same by the other', () => {
    const fromProto = parseCsiProto()['csi.v1.Controller'] as Record<
      string,
      { requestSerialize: (v: unknown) => Buffer; requestDeserialize: (b: Buffer) => unknown }
    >;
    const built = loadCsiDefinition()['csi.v1.Controller'] as typeof fromProto;
    const req = {
      name: 'pvc-1',
      capacity_range: { required_bytes: '1073741824', limit_bytes: '0' },
      parameters: { cpg: 'SSD_r6' },
      secrets: { password: 'x' },
      volume_capabilities: [
        {
          mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' },
          access_mode: { mode: 'SINGLE_NODE_WRITER' },
        },
      ],
    };
    const wire = fromProto['CreateVolume']!.requestSerialize(req);
    expect(built['CreateVolume']!.requestSerialize(req).equals(wire)).toBe(true);
    expect(built['CreateVolume']!.requestDeserialize(wire)).toEqual(
      fromProto['CreateVolume']!.requestDeserialize(wire),
    );
  });
});

describe('generated TypeScript types are current', () => {
  test('regenerating src/gen from proto/csi.proto (npm run gen:types) changes nothing', () => {
    const out = mkdtempSync(join(tmpdir(), 'csi-gen-'));
    try {
      const script = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts[
        'gen:types'
      ] as string;
      const args = script
        .split(' ')
        .slice(1)
        .map((a) => (a.startsWith('--outDir=') ? `--outDir=${out}` : a));
      execFileSync(fileURLToPath(new URL('../../node_modules/.bin/proto-loader-gen-types', import.meta.url)), args, {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
      });
      const genDir = fileURLToPath(new URL('../../src/gen', import.meta.url));
      const list = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.ts'))
          .sort();
      expect(list(genDir)).toEqual(list(out));
      const stale = list(out).filter(
        (f) => readFileSync(join(out, f), 'utf8') !== readFileSync(join(genDir, f), 'utf8'),
      );
      expect(stale).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
