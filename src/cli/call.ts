import { CsiCallError, CsiClient, rpcNames, serviceOf } from '../csi/client.js';
import { parseEndpoint } from '../csi/server.js';
import { UsageError, formatHelp, get, parseFlags, type FlagSpec } from './flags.js';

export const CALL_FLAGS: FlagSpec[] = [
  { name: 'endpoint', type: 'string', metavar: 'URL', default: 'unix:///csi/csi.sock', help: 'Driver socket: unix:///absolute/path or host:port.' },
  { name: 'json', type: 'string', metavar: 'JSON', default: '{}', help: 'The request message as JSON, with the proto field names (e.g. {"volume_id":"sim/pvc-1"}).' },
  { name: 'timeout', type: 'int', metavar: 'SECONDS', default: 60, help: 'Deadline of the call.' },
];

export async function callCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(formatHelp('3par-csi call <Rpc> [flags]', `Calls one CSI RPC and prints the reply as JSON, or the gRPC code and message (exit 1).\nRPCs: ${rpcNames().join(', ')}`, CALL_FLAGS));
    return 0;
  }
  const { values, positional } = parseFlags(args, CALL_FLAGS);
  const rpc = positional[0];
  if (!rpc || positional.length > 1) throw new UsageError('call needs exactly one RPC name, e.g. 3par-csi call Probe');
  if (!serviceOf(rpc)) throw new UsageError(`unknown RPC "${rpc}"; known: ${rpcNames().join(', ')}`);
  let request: unknown;
  try {
    request = JSON.parse(get.str(values, 'json')!);
  } catch (err) {
    throw new UsageError(`--json is not valid JSON: ${(err as Error).message}`);
  }
  const endpoint = get.str(values, 'endpoint')!;
  try {
    parseEndpoint(endpoint);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const client = new CsiClient(endpoint);
  try {
    const reply = await client.call(rpc, request, { timeoutMs: (get.num(values, 'timeout') ?? 60) * 1000 });
    process.stdout.write(JSON.stringify(reply, null, 2) + '\n');
    return 0;
  } catch (err) {
    if (!(err instanceof CsiCallError)) throw err;
    process.stderr.write(`${err.codeName}: ${err.details}\n`);
    return 1;
  } finally {
    client.close();
  }
}
