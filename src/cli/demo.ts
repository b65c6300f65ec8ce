import { runDemo } from '../demo/demo.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { UsageError, formatHelp, get, parseFlags, type FlagSpec } from './flags.js';

export const DEMO_FLAGS: FlagSpec[] = [
  {
    name: 'copy-rate',
    type: 'int',
    metavar: 'MIBPS',
    default: 16,
    help: "The simulated array's copy rate in MiB/s (how long the clone's copy task runs).",
  },
  {
    name: 'data',
    type: 'int',
    metavar: 'MIB',
    default: 48,
    help: 'MiB of data written to the first volume and checked on its restore and clone (node steps only).',
  },
  {
    name: 'log-level',
    type: 'string',
    choices: LOG_LEVELS,
    default: 'silent',
    help: "The driver's log level (its logs go to stderr).",
  },
  {
    name: 'print-metrics',
    type: 'boolean',
    default: false,
    help: "After the summary, print the driver's Prometheus metrics (what a scrape of its /metrics returns).",
  },
];

const DESCRIPTION = `Starts the embedded simulator and the driver on a temporary socket, then plays what Kubernetes'
sidecars and kubelet would do over gRPC: create, publish, stage (mkfs + mount on a loop device),
write data, snapshot, restore, clone (following the copy task), expand (xfs), stats, teardown,
and an audit of the array. Node steps need root; without it they are skipped with the reason.
Exit code 1 when any step fails.`;

export async function demoCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(formatHelp('3par-csi demo [flags]', DESCRIPTION, DEMO_FLAGS));
    return 0;
  }
  const { values, positional } = parseFlags(args, DEMO_FLAGS);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const copyRate = get.num(values, 'copy-rate')!;
  const dataMiB = get.num(values, 'data')!;
  if (copyRate < 1) throw new UsageError('--copy-rate must be at least 1');
  if (dataMiB < 1 || dataMiB > 512) throw new UsageError('--data must be 1-512');
  const log = createLogger({ level: get.str(values, 'log-level') as LogLevel, destination: process.stderr });
  return runDemo({ copyRateMiBps: copyRate, dataMiB, log, printMetrics: get.bool(values, 'print-metrics') });
}
