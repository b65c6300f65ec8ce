import * as grpc from '@grpc/grpc-js';
import { loadCsi } from '../csi/proto.js';
import { grpcAddress, parseEndpoint } from '../csi/server.js';
import { statusName } from '../csi/errors.js';
import { UsageError, formatHelp, get, parseFlags, type FlagSpec } from './flags.js';

export const CALL_FLAGS: FlagSpec[] = [
  { name: 'endpoint', type: 'string', metavar: 'URL', default: 'unix:///csi/csi.sock', help: 'Driver socket: unix:///absolute/path or host:port.' },
  { name: 'json', type: 'string', metavar: 'JSON', default: '{}', help: 'The request message as JSON, with the proto field names (e.g. {"volume_id":"sim/pvc-1"}).' },
  { name: 'timeout', type: 'int', metavar: 'SECONDS', default: 60, help: 'Deadline of the call.' },
];

const SERVICES = ['Identity', 'Controller', 'Node', 'GroupController'] as const;

type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

/** Finds the service that owns an RPC name, e.g. "CreateVolume" → Controller. */
export function findRpc(rpc: string): (typeof SERVICES)[number] | undefined {
  const csi = loadCsi().csi.v1;
  return SERVICES.find((s) => Object.prototype.hasOwnProperty.call(csi[s].service, rpc));
}

/** All RPC names, for help and errors. */
export function rpcNames(): string[] {
  const csi = loadCsi().csi.v1;
  return SERVICES.flatMap((s) => Object.keys(csi[s].service).filter((k) => /^[A-Z]/.test(k)));
}

export async function callCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(formatHelp('3par-csi call <Rpc> [flags]', `Calls one CSI RPC and prints the reply as JSON, or the gRPC code and message (exit 1).\nRPCs: ${rpcNames().join(', ')}`, CALL_FLAGS));
    return 0;
  }
  const { values, positional } = parseFlags(args, CALL_FLAGS);
  const rpc = positional[0];
  if (!rpc || positional.length > 1) throw new UsageError('call needs exactly one RPC name, e.g. 3par-csi call Probe');
  const service = findRpc(rpc);
  if (!service) throw new UsageError(`unknown RPC "${rpc}"; known: ${rpcNames().join(', ')}`);
  let request: unknown;
  try {
    request = JSON.parse(get.str(values, 'json')!);
  } catch (err) {
    throw new UsageError(`--json is not valid JSON: ${(err as Error).message}`);
  }
  let address: string;
  try {
    address = grpcAddress(parseEndpoint(get.str(values, 'endpoint')!));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const Ctor = loadCsi().csi.v1[service];
  const client = new Ctor(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, UnaryMethod>;
  const deadline = Date.now() + (get.num(values, 'timeout') ?? 60) * 1000;
  try {
    const reply = await new Promise<unknown>((resolve, reject) => {
      client[rpc]!.call(client, request, new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    process.stdout.write(JSON.stringify(reply, null, 2) + '\n');
    return 0;
  } catch (err) {
    const e = err as grpc.ServiceError;
    process.stderr.write(`${statusName(e.code)}: ${e.details}\n`);
    return 1;
  } finally {
    client.close();
  }
}
