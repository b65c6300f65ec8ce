// Writes proto/csi.descriptor.json: proto/csi.proto as parsed by protobufjs (the parser
// @grpc/proto-loader uses) with the driver's keepCase option, in protobufjs's JSON form. The
// driver loads it with proto-loader's fromJSON at start instead of parsing csi.proto each time
// (docs/performance.md); test/unit/proto.test.ts checks it is current and that proto-loader makes
// the same definitions from it as from csi.proto. Run: npm run gen:descriptor
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { descriptorJson } from './gen-csi-descriptor-lib.mjs';

const out = fileURLToPath(new URL('../proto/csi.descriptor.json', import.meta.url));
writeFileSync(out, descriptorJson(fileURLToPath(new URL('../proto/csi.proto', import.meta.url))));
console.log(`wrote ${out}`);
