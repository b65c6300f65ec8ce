/**
 * `npm run bench:floor` flags, read by the CLI's one parser (src/cli/flags.ts), and the layers it
 * measures. A bad command line is a UsageError (exit 2).
 */
import { formatHelp, get, parseFlags, UsageError, type FlagSpec, type FlagValues } from '../cli/flags.js';

/** The layers, bottom up; each adds one part of the driver's stack to the one before it. */
export const LAYERS = ['grpc', 'node-http', 'got', 'client', 'driver'] as const;
export type Layer = (typeof LAYERS)[number];
/** The layers served by src/bench/floor-server.ts (the driver is `3par-csi serve` itself). */
export type BareLayer = Exclude<Layer, 'driver'>;

/** What a floor server process is told (its argv[2], as JSON). */
export interface FloorServerConfig {
  layer: BareLayer;
  socket: string;
  /** The array's base URL, http://127.0.0.1:PORT. */
  base: string;
  requestsPerCall: number;
  maxInFlight: number;
  /** With https: the CA of the array's certificate. */
  caCert?: string;
}

/** Over HTTPS (--https), as arrays answer on 8080; the two [U] server switches of src/simulator/tls.ts. */
export interface TlsBenchOptions {
  https: boolean;
  tlsMaxVersion: '1.2' | '1.3';
  tlsResumption: boolean;
}

/** The flags of TlsBenchOptions, shared by bench:floor and bench. */
export const TLS_FLAGS: FlagSpec[] = [
  {
    name: 'https',
    type: 'boolean',
    help: 'the arrays speak HTTPS (a TLS handshake per request, as they close each connection); the driver verifies their CA',
    env: false,
  },
  {
    name: 'tls-max-version',
    type: 'string',
    choices: ['1.2', '1.3'],
    metavar: 'V',
    help: 'with --https: the highest TLS version the arrays speak (default 1.3)',
    env: false,
  },
  {
    name: 'tls-no-resumption',
    type: 'boolean',
    help: 'with --https: the arrays refuse TLS session resumption (a full handshake per request)',
    env: false,
  },
];

/** TlsBenchOptions from parsed flags. */
export function tlsBenchOptions(values: FlagValues): TlsBenchOptions {
  return {
    https: get.bool(values, 'https'),
    tlsMaxVersion: (get.str(values, 'tls-max-version') ?? '1.3') as '1.2' | '1.3',
    tlsResumption: !get.bool(values, 'tls-no-resumption'),
  };
}

export interface FloorOptions extends TlsBenchOptions {
  requestsPerCall: number;
  latencyMs: number;
  calls: number;
  rounds: number;
  warmup: number;
  concurrency: number;
  maxInFlight: number;
  layers: Layer[];
  json: boolean;
}

export const FLOOR_DEFAULTS: FloorOptions = {
  requestsPerCall: 1,
  latencyMs: 10,
  calls: 1000,
  rounds: 5,
  warmup: 3000,
  concurrency: 32,
  maxInFlight: 8,
  layers: [...LAYERS],
  json: false,
  https: false,
  tlsMaxVersion: '1.3',
  tlsResumption: true,
};

/** The numeric flags: the option each sets, its help, its smallest value. */
const NUMBERS: Record<string, [keyof FloorOptions, string, number]> = {
  'requests-per-call': ['requestsPerCall', 'WSAPI requests per CreateVolume, R (the driver layer needs 1)', 1],
  'latency-ms': ['latencyMs', "the array's service time per request, L", 0],
  calls: ['calls', 'CreateVolume calls per layer and round', 1],
  rounds: ['rounds', 'measured rounds (the layers take turns in each)', 1],
  warmup: ['warmup', 'unmeasured calls per layer first, the array answering at once (JIT, heap, sessions)', 0],
  concurrency: ['concurrency', 'calls in flight (sidecar workers)', 1],
  'max-in-flight': ['maxInFlight', 'WSAPI requests in flight per backend', 1],
};

export const FLOOR_FLAGS: FlagSpec[] = [
  ...Object.entries(NUMBERS).map(([name, [key, help, min]]): FlagSpec => ({
    name,
    type: 'int',
    min,
    help: `${help} (default ${String(FLOOR_DEFAULTS[key])})`,
    env: false,
  })),
  {
    name: 'layers',
    type: 'list',
    choices: LAYERS,
    metavar: 'LIST',
    help: `layers to measure (default ${LAYERS.join(',')}; driver only with R = 1)`,
    env: false,
  },
  ...TLS_FLAGS,
  { name: 'json', type: 'boolean', help: 'one JSON object on the last line', env: false },
];

export const FLOOR_HELP = formatHelp(
  'npm run bench:floor -- [flags]',
  'Server CPU per CreateVolume of the stack the driver is built on, layer by layer (issue #21).',
  FLOOR_FLAGS,
);

/** The bench's settings from its command line. */
export function parseFloorArgs(argv: readonly string[]): FloorOptions {
  const { values, positional } = parseFlags(argv, FLOOR_FLAGS, {});
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}" (see --help)`);
  const o: FloorOptions = { ...FLOOR_DEFAULTS, json: get.bool(values, 'json'), ...tlsBenchOptions(values) };
  for (const [name, [key]] of Object.entries(NUMBERS)) {
    const n = get.num(values, name);
    if (n !== undefined) (o[key] as number) = n;
  }
  const layers = get.list(values, 'layers') as Layer[];
  // Without --layers the driver is left out when it cannot do R requests per call.
  if (layers.length > 0) o.layers = LAYERS.filter((l) => layers.includes(l));
  else if (o.requestsPerCall !== 1) o.layers = LAYERS.filter((l) => l !== 'driver');
  if (o.layers.includes('driver') && o.requestsPerCall !== 1)
    throw new UsageError('--layers driver needs --requests-per-call 1 (its CreateVolume is one WSAPI request)');
  return o;
}
