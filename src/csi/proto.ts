import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../gen/csi.js';

/** proto/csi.proto, next to src/ and dist/ alike. */
export const CSI_PROTO_PATH = fileURLToPath(new URL('../../proto/csi.proto', import.meta.url));

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
    const definition = protoLoader.loadSync(CSI_PROTO_PATH, LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

/** The raw package definition, for tests that inspect messages and enums. */
export function loadCsiDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(CSI_PROTO_PATH, LOADER_OPTIONS);
}
