/**
 * `npm run bench` flags, read by the CLI's one parser (src/cli/flags.ts); none has an environment
 * twin. A bad command line is a UsageError (exit 2).
 */
import { formatHelp, get, parseFlags, UsageError, type FlagSpec } from '../cli/flags.js';
import { TLS_FLAGS, tlsBenchOptions, type TlsBenchOptions } from './floor-options.js';

/** Every size and knob, with the issue's values as defaults. */
export interface BenchOptions extends TlsBenchOptions {
  volumes: number;
  nodes: number;
  vluns: number;
  volumes20k: number;
  snapshots: number;
  clones: number;
  cloneSeconds: number;
  cloneDataMiB: number;
  listVolumes: number;
  pageSize: number;
  listRuns: number;
  nodeVolumes: number;
  concurrency: number;
  latencyMs: number;
  perMemberUs: number;
  sessionPool: number;
  maxInFlight: number;
  warmUp: number;
  skip: Set<string>;
  json: boolean;
  quick: boolean;
}

export const DEFAULTS: Omit<BenchOptions, 'skip' | 'json' | 'quick' | keyof TlsBenchOptions> = {
  volumes: 1000,
  nodes: 20,
  vluns: 20_000,
  volumes20k: 1000,
  snapshots: 200,
  clones: 20,
  cloneSeconds: 32,
  cloneDataMiB: 8,
  listVolumes: 10_000,
  pageSize: 500,
  listRuns: 3,
  nodeVolumes: 50,
  concurrency: 32,
  latencyMs: 10,
  perMemberUs: 20,
  sessionPool: 4,
  maxInFlight: 8,
  warmUp: 8,
};

/** --quick: every workload, small (a smoke run in well under 30 s). */
export const QUICK: Partial<BenchOptions> = {
  volumes: 40,
  nodes: 4,
  vluns: 400,
  volumes20k: 20,
  snapshots: 10,
  clones: 2,
  cloneSeconds: 1,
  cloneDataMiB: 1,
  listVolumes: 600,
  pageSize: 100,
  listRuns: 1,
  nodeVolumes: 2,
};

/**
 * The numeric flags: the option each sets, its help, and its smallest value when not 0 (a
 * divisor, or a pool that would wait forever at 0).
 */
const SIZES: Record<string, [keyof typeof DEFAULTS, string, number?]> = {
  volumes: ['volumes', 'W1: volumes created, published, unpublished and deleted'],
  nodes: ['nodes', 'W1: nodes the volumes are published to', 1],
  vluns: ['vluns', 'W1-20k: pre-existing VLUNs of other hosts (0 skips W1-20k)'],
  'volumes-20k': ['volumes20k', 'W1-20k: volumes in the run beside the VLUNs'],
  snapshots: ['snapshots', 'W2: snapshots (and volumes from them)'],
  clones: ['clones', 'W3: clones'],
  'clone-seconds': ['cloneSeconds', 'W3: duration of each copy at the set copy rate'],
  'clone-data-mib': ['cloneDataMiB', 'W3: data in each source volume'],
  'list-volumes': ['listVolumes', 'W4: volumes listed'],
  'page-size': ['pageSize', 'W4: ListVolumes max_entries', 1],
  'list-runs': ['listRuns', 'W4: listings timed', 1],
  'node-volumes': ['nodeVolumes', 'node: volumes staged and published (root only)'],
  concurrency: ['concurrency', 'calls in flight (sidecar workers)', 1],
  'latency-ms': ['latencyMs', 'simulator service time per request, L'],
  'per-member-us': ['perMemberUs', 'simulator service time per list member, k'],
  'session-pool': ['sessionPool', 'session keys per backend (driver and baseline)', 1],
  'max-in-flight': ['maxInFlight', 'WSAPI requests in flight per backend (driver and baseline)', 1],
  'warm-up': [
    'warmUp',
    'volumes created, published, unpublished and deleted before the workloads, not measured (a few thousand: JIT-warm steady state)',
    1,
  ],
};
export const WORKLOADS = ['w1', 'w1-20k', 'w2', 'w3', 'w4', 'node'];

export const BENCH_FLAGS: FlagSpec[] = [
  { name: 'quick', type: 'boolean', help: 'small sizes for a smoke run', env: false },
  { name: 'json', type: 'boolean', help: 'one JSON object on the last line', env: false },
  { name: 'skip', type: 'list', choices: WORKLOADS, metavar: 'LIST', help: 'workloads to skip', env: false },
  ...Object.entries(SIZES).map(([name, [key, help, min]]): FlagSpec => ({
    name,
    type: 'number',
    min: min ?? 0,
    help: `${help} (default ${DEFAULTS[key]}${QUICK[key] !== undefined ? `, ${QUICK[key]} with --quick` : ''})`,
    env: false,
  })),
  ...TLS_FLAGS,
];

export const BENCH_HELP = formatHelp(
  'npm run bench -- [flags]',
  "The driver's cost over the array's own round trips, at scale (docs/performance.md).",
  BENCH_FLAGS,
);

/** The bench's settings from its command line: --quick sizes, then the flags given. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values, positional } = parseFlags(argv, BENCH_FLAGS, {});
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}" (see --help)`);
  const quick = get.bool(values, 'quick');
  const o: BenchOptions = {
    ...DEFAULTS,
    ...(quick ? QUICK : {}),
    skip: new Set(get.list(values, 'skip')),
    json: get.bool(values, 'json'),
    quick,
    ...tlsBenchOptions(values),
  };
  for (const [name, [key]] of Object.entries(SIZES)) {
    const n = get.num(values, name);
    if (n !== undefined) o[key] = n;
  }
  if (o.vluns === 0) o.skip.add('w1-20k');
  return o;
}
