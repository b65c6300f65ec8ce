import protobuf from 'protobufjs';
// proto-loader registers google/protobuf/descriptor.proto (csi.proto imports it) with protobufjs.
import '@grpc/proto-loader';

/** protobufjs's JSON form of `protoPath`, parsed with keepCase as @grpc/proto-loader does. */
export function descriptorJson(protoPath) {
  const root = new protobuf.Root();
  root.loadSync(protoPath, { keepCase: true });
  return `${JSON.stringify(root.toJSON(), null, 1)}\n`;
}
