import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/csi.js';

/** proto/csi.proto, next to src/ and dist/ alike. */
export const CSI_PROTO_PATH = fileURLToPath(new URL('../../proto/csi.proto', import.meta.url));
/**
 * proto/csi.descriptor.json: csi.proto as protobufjs parsed it (`npm run gen:descriptor`). Loading
 * it with proto-loader's fromJSON skips parsing the .proto text at every start, about a third of
 * loadCsi()'s CPU (docs/performance.md); test/unit/proto.test.ts checks both give the same
 * definitions and that the file is current.
 */
export const CSI_DESCRIPTOR_PATH = fileURLToPath(new URL('../../proto/csi.descriptor.json', import.meta.url));

/**
 * The loader options used at run time and by `npm run gen:types` (keep both the same): field
 * names as in the proto, int64 as decimal strings, enums as their names, defaults filled in,
 * and the name of the set member of each oneof.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: ProtoGrpcType | undefined;

/** The CSI package (csi.v1) with its service definitions and client constructors. */
export function loadCsi(): ProtoGrpcType {
  if (!cached) {
    cached = grpc.loadPackageDefinition(loadCsiDefinition()) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** The package definition the driver serves and calls with (from proto/csi.descriptor.json). */
export function loadCsiDefinition(): protoLoader.PackageDefinition {
  return protoLoader.fromJSON(JSON.parse(readFileSync(CSI_DESCRIPTOR_PATH, 'utf8')) as DescriptorJson, LOADER_OPTIONS);
}

/** The package definition proto-loader makes from proto/csi.proto itself (tests compare both). */
export function parseCsiProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(CSI_PROTO_PATH, LOADER_OPTIONS);
}

type DescriptorJson = Parameters<typeof protoLoader.fromJSON>[0];
