/**
 * `npm run soak` flags, read by the CLI's one parser (src/cli/flags.ts). None has an environment
 * twin except --seed (SOAK_SEED, which CI sets); a bad command line is a UsageError (exit 2).
 */
import { UsageError, formatHelp, get, parseFlags, type FlagSpec } from '../cli/flags.js';
import { nodeStepsUnavailable } from './node-fs.js';
import { seedFrom } from './prng.js';
import { RETRY_INTERVAL_MAX_MS, RETRY_INTERVAL_START_MS } from './sidecar.js';

export interface SoakConfig {
  quick: boolean;
  seed: number;
  /** Lifecycles with one driver process, then with two controllers. */
  volumes: [number, number];
  concurrency: number;
  keepWork: boolean;
  /** Control plane only, even as root. */
  noNode: boolean;
  /** Mean ms between array faults; 0 = none. */
  faultEveryMs: number;
  /** ms between SIGKILLs, [min, max]; undefined = none. */
  killEveryMs: [number, number] | undefined;
  /** Add `hang` faults: the array stops answering for a while. */
  hang: boolean;
  /** First and longest interval of the client's retries. */
  retryStartMs: number;
  retryMaxMs: number;
}

/**
 * --quick retries from 100 ms up to 1 s: its chaos (a SIGKILL every few seconds) is far denser
 * than a cluster's, and with the sidecars' 1 s doubling to 5 min the few minutes of CI stretch to
 * many more of sleeping (measured: seed 7 had not finished after 12 min). A full run uses the
 * sidecars' own interval.
 */
const QUICK_RETRY_START_MS = 100;
const QUICK_RETRY_MAX_MS = 1_000;

/** The driver's first-byte limit in the soak with --hang, so that hangs exceed it. */
export const HANG_RESPONSE_TIMEOUT_S = 2;

const rate = (name: string, help: string): FlagSpec => ({
  name,
  type: 'number',
  min: 0,
  metavar: name.startsWith('retry') ? 'S' : 'N',
  help,
  env: false,
});

export const SOAK_FLAGS: FlagSpec[] = [
  { name: 'quick', type: 'boolean', help: 'a few minutes, for CI', env: false },
  {
    name: 'seed',
    type: 'int',
    min: 0,
    metavar: 'N',
    help: 'repeat a run (the seed is printed at the start)',
    env: 'SOAK_SEED',
  },
  {
    name: 'volumes',
    type: 'int',
    min: 0,
    help: 'lifecycles in all (the first 60% with one driver, the rest with two controllers)',
    env: false,
  },
  { name: 'concurrency', type: 'int', min: 1, help: 'lifecycles at once', env: false },
  rate('fault-rate', 'array faults per second on average (default 1.1 quick, 1 otherwise; 0 = none)'),
  rate('kill-rate', 'SIGKILLs of a driver process per minute on average (default 11 quick, 7.5 otherwise; 0 = none)'),
  rate(
    'retry-start',
    "the client's first retry interval in seconds (default 0.1 quick, else 1 as external-provisioner)",
  ),
  rate(
    'retry-max',
    "the client's longest retry interval in seconds (default 1 quick, else 300 as external-provisioner)",
  ),
  {
    name: 'hang',
    type: 'boolean',
    help: `also make the array stop answering for 0.5-4 s at a time (the driver's first-byte limit is ${HANG_RESPONSE_TIMEOUT_S} s then)`,
    env: false,
  },
  { name: 'keep', type: 'boolean', help: 'keep the work directory (kept anyway when something leaked)', env: false },
  { name: 'no-node', type: 'boolean', help: 'control plane only, even as root', env: false },
];

export const SOAK_HELP = formatHelp(
  'npm run soak -- [flags]',
  'Drives many volumes through their whole lifecycle against the embedded simulator while it injects faults and driver processes are SIGKILLed and restarted, then audits the array and the node.',
  SOAK_FLAGS,
  'Last line: soak: N ops, N faults, N restarts, N leaked, N lost (exit 1 unless leaked and lost are 0)',
);

/**
 * The soak's settings from its command line. `nodeUnavailable`: why the node steps cannot run
 * here (they cannot without root), which quadruples the default volume count.
 */
export function parseSoakArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  nodeUnavailable: string | undefined = nodeStepsUnavailable(),
): SoakConfig {
  const { values, positional } = parseFlags(argv, SOAK_FLAGS, env);
  if (positional.length > 0) throw new UsageError(`unknown argument ${positional[0]} (see --help)`);
  const quick = get.bool(values, 'quick');
  const faultRate = get.num(values, 'fault-rate') ?? (quick ? 1000 / 900 : 1);
  const killRate = get.num(values, 'kill-rate') ?? (quick ? 60 / 5.5 : 7.5);
  const killMeanMs = killRate > 0 ? 60_000 / killRate : 0;
  // Without node steps a lifecycle takes a fraction of the time: four times as many keep the
  // run long enough for restarts to land.
  const noNode = get.bool(values, 'no-node');
  const total = get.num(values, 'volumes') ?? (quick ? 5 : 60) * (noNode || nodeUnavailable !== undefined ? 4 : 1);
  const first = Math.ceil(total * 0.6);
  return {
    quick,
    seed: seedFrom(get.num(values, 'seed')?.toString()),
    volumes: [first, total - first],
    concurrency: get.num(values, 'concurrency') ?? (quick ? 3 : 4),
    keepWork: get.bool(values, 'keep'),
    noNode,
    faultEveryMs: faultRate > 0 ? 1000 / faultRate : 0,
    killEveryMs: killRate > 0 ? [Math.round(killMeanMs * 0.55), Math.round(killMeanMs * 1.45)] : undefined,
    hang: get.bool(values, 'hang'),
    retryStartMs:
      (get.num(values, 'retry-start') ?? (quick ? QUICK_RETRY_START_MS : RETRY_INTERVAL_START_MS) / 1000) * 1000,
    retryMaxMs: (get.num(values, 'retry-max') ?? (quick ? QUICK_RETRY_MAX_MS : RETRY_INTERVAL_MAX_MS) / 1000) * 1000,
  };
}
