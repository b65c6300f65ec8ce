import { accessSync, constants, lstatSync } from 'node:fs';
import { CsiCallError, CsiClient, rpcNames, serviceOf } from '../csi/client.js';
import { RequestJsonError, requestFromJson } from '../csi/json-request.js';
import { parseEndpoint, type Endpoint } from '../csi/server.js';
import { UsageError, formatHelp, get, parseFlags, type FlagSpec } from './flags.js';

export const CALL_FLAGS: FlagSpec[] = [
  {
    name: 'endpoint',
    type: 'string',
    metavar: 'URL',
    default: 'unix:///csi/csi.sock',
    help: 'Driver socket: unix:///absolute/path or host:port.',
  },
  {
    name: 'json',
    type: 'string',
    metavar: 'JSON',
    default: '{}',
    help: 'The request message as JSON, with the proto field names (e.g. {"volume_id":"sim/pvc-1"}); checked against the message type (unknown fields and enum values are errors); byte fields take quantities like "10Gi" or "500M".',
  },
  { name: 'timeout', type: 'int', metavar: 'SECONDS', default: 60, help: 'Deadline of the call.' },
];

export async function callCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(
      formatHelp(
        '3par-csi call <Rpc> [flags]',
        `Calls one CSI RPC and prints the reply as JSON, or the gRPC code and message (exit 1).\nRPCs: ${rpcNames().join(', ')}`,
        CALL_FLAGS,
      ),
    );
    return 0;
  }
  const { values, positional } = parseFlags(args, CALL_FLAGS);
  const rpc = positional[0];
  if (!rpc || positional.length > 1) throw new UsageError('call needs exactly one RPC name, e.g. 3par-csi call Probe');
  if (!serviceOf(rpc)) throw new UsageError(`unknown RPC "${rpc}"; known: ${rpcNames().join(', ')}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(get.str(values, 'json')!);
  } catch (err) {
    throw new UsageError(`--json is not valid JSON: ${(err as Error).message}`);
  }
  let request: Record<string, unknown>;
  try {
    request = requestFromJson(serviceOf(rpc)!, rpc, parsed);
  } catch (err) {
    if (err instanceof RequestJsonError) throw new UsageError(`--json: ${err.message}`);
    throw err;
  }
  const endpoint = get.str(values, 'endpoint')!;
  let ep: Endpoint;
  try {
    ep = parseEndpoint(endpoint);
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
    const hint = err.codeName === 'UNAVAILABLE' ? socketHint(ep) : undefined;
    // grpc-js ends a failed connection's text with an empty "Resolution note:"; say what is wrong instead.
    const details = err.details.replace(/\s*Resolution note:\s*$/, '');
    process.stderr.write(`${err.codeName}: ${details}${hint ? ` (${hint})` : ''}\n`);
    return 1;
  } finally {
    client.close();
  }
}

/** Why a unix socket cannot be reached, when the file system says so; undefined otherwise. */
function socketHint(ep: Endpoint): string | undefined {
  if (ep.kind !== 'unix') return undefined;
  let isSocket: boolean;
  try {
    isSocket = lstatSync(ep.path).isSocket();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `no socket at ${ep.path}: is the driver running, with this --endpoint?`;
    if (code === 'EACCES')
      return `permission denied on the way to ${ep.path}: run as root or as a member of the socket's group`;
    return undefined;
  }
  if (!isSocket) return `${ep.path} is not a socket`;
  try {
    accessSync(ep.path, constants.R_OK | constants.W_OK);
  } catch {
    return `permission denied on ${ep.path}: run as root or as a member of the socket's group`;
  }
  return `nothing answers on ${ep.path}: the driver that made it is not running`;
}
