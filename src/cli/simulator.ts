import { readFileSync, writeFileSync } from 'node:fs';
import {
  ERRORS,
  PROFILE_NAMES,
  startSimulator,
  type ErrorName,
  type ErrorOverrides,
  type FaultSpec,
  type SimulatorOptions,
} from '../simulator/index.js';
import { listenError } from '../errors.js';
import { UsageError, formatHelp, get, parseFlags, untilShutdownSignal, type FlagSpec } from './flags.js';

export const SIMULATOR_FLAGS: FlagSpec[] = [
  {
    name: 'host',
    type: 'string',
    metavar: 'ADDR',
    default: '127.0.0.1',
    help: 'Listen address (loopback by default; the simulator has no real security).',
  },
  { name: 'port', type: 'int', default: 0, help: 'Listen port (0 = any free port; the URL is printed).' },
  {
    name: 'https',
    type: 'boolean',
    default: false,
    help: 'Serve HTTPS with a self-signed certificate generated at start (or --tls-cert/--tls-key).',
  },
  {
    name: 'tls-max-version',
    type: 'string',
    choices: ['1.2', '1.3'],
    default: '1.3',
    help: 'Highest TLS version served with --https ([U] which versions arrays speak).',
  },
  {
    name: 'tls-no-resumption',
    type: 'boolean',
    default: false,
    help: 'Refuse TLS session resumption: every connection a full handshake ([U] whether arrays resume).',
  },
  { name: 'tls-cert', type: 'string', metavar: 'FILE', help: 'PEM certificate for HTTPS (with --tls-key).' },
  { name: 'tls-key', type: 'string', metavar: 'FILE', help: 'PEM private key for HTTPS (with --tls-cert).' },
  {
    name: 'ca-out',
    type: 'string',
    metavar: 'FILE',
    help: 'Write the server certificate (PEM) here, for clients to trust.',
  },
  { name: 'username', type: 'string', default: '3paradm', help: 'Array user name.' },
  { name: 'password', type: 'string', default: '3pardata', help: 'Array password.' },
  {
    name: 'profile',
    type: 'string',
    choices: PROFILE_NAMES,
    default: '3.1.3 MU1',
    help: 'Firmware profile; later ones enable tdvv, compression, VLUN queries, QoS.',
  },
  {
    name: 'cpg',
    type: 'list',
    metavar: 'NAME:SIZE,...',
    default: [],
    help: 'CPGs and their usable size in MiB, or with a G/T suffix (GiB/TiB), e.g. SSD_r6:16T,FC_r6:2048G (default SSD_r6:16T,FC_r6:16T,NL_r6:64T).',
  },
  {
    name: 'cpg-domain',
    type: 'string',
    metavar: 'DOMAIN',
    help: "Put every CPG in this virtual domain (volumes take their CPG's; hosts and VV sets must match it).",
  },
  {
    name: 'domain-export',
    type: 'string',
    choices: ['same', 'hostWithoutDomain'],
    default: 'same',
    help: 'A VLUN of a volume in a domain to a host in none: refused (same) or allowed (uncertain on real arrays).',
  },
  {
    name: 'data-dir',
    type: 'string',
    metavar: 'DIR',
    help: 'Turn the data plane on: a sparse file per volume, exports/<WWN> links while exported.',
  },
  {
    name: 'state-file',
    type: 'string',
    metavar: 'FILE',
    help: 'Persist the array here (atomic writes); a restart resumes it. A corrupt file is an error.',
  },
  { name: 'latency-ms', type: 'int', default: 0, help: 'Service time added to every request (ms).' },
  { name: 'per-member-us', type: 'int', default: 0, help: 'Extra service time per member returned by a list (µs).' },
  {
    name: 'copy-rate',
    type: 'int',
    metavar: 'MIB_PER_S',
    default: 512,
    help: 'Speed of physical copies, resyncs, promotes and tunes (MiB/s).',
  },
  {
    name: 'max-concurrent-tasks',
    type: 'int',
    default: 4,
    help: 'Copy/tune tasks that progress at once; others queue.',
  },
  { name: 'session-limit', type: 'int', default: 36, help: 'Sessions accepted at once (503 beyond).' },
  {
    name: 'session-idle-timeout',
    type: 'int',
    metavar: 'SECONDS',
    default: 900,
    help: 'A session key unused this long expires (403/6).',
  },
  {
    name: 'admin',
    type: 'boolean',
    default: false,
    help: 'Serve the fault-injection endpoint under /sim/ to loopback clients.',
  },
  {
    name: 'faults-file',
    type: 'string',
    metavar: 'FILE',
    help: 'JSON list of faults active from start (see FaultSpec in src/simulator/faults.ts).',
  },
  {
    name: 'refuse-modify-during-copy',
    type: 'boolean',
    default: false,
    help: 'Refuse modifying a volume while it is the target of a running online copy.',
  },
  {
    name: 'snapshot-create-status',
    type: 'int',
    default: 201,
    help: 'Status of a successful createSnapshot: 201 or 200 (uncertain on real arrays).',
  },
  {
    name: 'copy-target-delete-error',
    type: 'string',
    choices: ['code29', 'code151'],
    default: 'code29',
    help: 'Error for deleting a running online-copy target: 400/29 or 409/151.',
  },
  {
    name: 'helper-snapshot-comment',
    type: 'string',
    choices: ['accept', 'refuse'],
    default: 'accept',
    help: "A comment on an online copy's helper snapshot: accepted, or refused with 403 (uncertain on real arrays).",
  },
  {
    name: 'unsupported-query',
    type: 'string',
    choices: ['reject', 'ignore'],
    default: 'reject',
    help: 'What a query string the profile does not support gets.',
  },
  {
    name: 'vlun-get-shape',
    type: 'string',
    choices: ['object', 'collection'],
    default: 'object',
    help: 'Shape of GET /vluns/<id>.',
  },
  { name: 'grow-chunk', type: 'int', metavar: 'MIB', default: 256, help: 'Grow rounds the added size up to this.' },
  {
    name: 'max-volume-size',
    type: 'int',
    metavar: 'MIB',
    default: 16777216,
    help: 'Largest volume (400/28 TOO_LARGE beyond).',
  },
  {
    name: 'thin-used-pct',
    type: 'int',
    default: 10,
    help: 'Used share of thin volumes when there is no data plane to measure it.',
  },
  {
    name: 'log-requests',
    type: 'boolean',
    default: false,
    help: 'Print one line per WSAPI request served (method, path, status, code).',
  },
  {
    name: 'error-code',
    type: 'list',
    metavar: 'NAME=STATUS/CODE,...',
    default: [],
    help: 'Correct uncertain error codes, e.g. VV_ONE_HOST_POLICY=409/123 (the oneHost refusal).',
  },
];

const DESCRIPTION =
  'Runs the embedded 3PAR array (a WSAPI 1.3.x simulator) until SIGTERM or SIGINT, printing its URL and credentials.';

function parseSize(s: string): number {
  const m = /^(\d+)([GT]?)$/i.exec(s);
  if (!m) throw new UsageError(`--cpg: bad size "${s}" (MiB, or a G/T suffix)`);
  const unit = m[2]!.toUpperCase();
  return Number(m[1]) * (unit === 'T' ? 1024 * 1024 : unit === 'G' ? 1024 : 1);
}

function parseErrorCodes(items: string[]): ErrorOverrides {
  const out: ErrorOverrides = {};
  for (const item of items) {
    const m = /^([A-Za-z_]+)=(\d{3})\/(\d+)$/.exec(item);
    if (!m || !(m[1]! in ERRORS))
      throw new UsageError(`--error-code: "${item}" is not NAME=STATUS/CODE with a known NAME`);
    out[m[1] as ErrorName] = { status: Number(m[2]), code: Number(m[3]) };
  }
  return out;
}

/** Turns parsed flags into simulator options. */
export function simulatorOptionsFromFlags(args: string[]): { options: SimulatorOptions; caOut?: string } {
  const { values, positional } = parseFlags(args, SIMULATOR_FLAGS);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const certFile = get.str(values, 'tls-cert');
  const keyFile = get.str(values, 'tls-key');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const status = get.num(values, 'snapshot-create-status');
  if (status !== 200 && status !== 201) throw new UsageError('--snapshot-create-status must be 200 or 201');
  const options: SimulatorOptions = {
    host: get.str(values, 'host')!,
    port: get.num(values, 'port')!,
    https:
      certFile && keyFile
        ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') }
        : get.bool(values, 'https'),
    tlsMaxVersion: get.str(values, 'tls-max-version') as '1.2' | '1.3',
    tlsResumption: !get.bool(values, 'tls-no-resumption'),
    username: get.str(values, 'username')!,
    password: get.str(values, 'password')!,
    profile: get.str(values, 'profile')!,
    latencyMs: get.num(values, 'latency-ms')!,
    perMemberUs: get.num(values, 'per-member-us')!,
    copyRateMiBps: get.num(values, 'copy-rate')!,
    maxConcurrentTasks: get.num(values, 'max-concurrent-tasks')!,
    sessionLimit: get.num(values, 'session-limit')!,
    sessionIdleTimeoutSec: get.num(values, 'session-idle-timeout')!,
    admin: get.bool(values, 'admin'),
    refuseModifyDuringCopy: get.bool(values, 'refuse-modify-during-copy'),
    snapshotCreateStatus: status,
    copyTargetDeleteError: get.str(values, 'copy-target-delete-error') as 'code29' | 'code151',
    helperSnapshotComment: get.str(values, 'helper-snapshot-comment') as 'accept' | 'refuse',
    unsupportedQuery: get.str(values, 'unsupported-query') as 'reject' | 'ignore',
    vlunGetShape: get.str(values, 'vlun-get-shape') as 'object' | 'collection',
    growChunkMiB: get.num(values, 'grow-chunk')!,
    maxVolumeSizeMiB: get.num(values, 'max-volume-size')!,
    thinUsedPct: get.num(values, 'thin-used-pct')!,
    errorCodes: parseErrorCodes(get.list(values, 'error-code')),
    domainExport: get.str(values, 'domain-export') as 'same' | 'hostWithoutDomain',
  };
  const cpgDomain = get.str(values, 'cpg-domain');
  if (cpgDomain) options.cpgDomain = cpgDomain;
  const cpgs = get.list(values, 'cpg');
  if (cpgs.length > 0) {
    options.cpgs = cpgs.map((c) => {
      const [name, size] = c.split(':');
      if (!name || size === undefined) throw new UsageError(`--cpg: "${c}" is not NAME:SIZE`);
      return { name, sizeMiB: parseSize(size) };
    });
  }
  const dataDir = get.str(values, 'data-dir');
  if (dataDir) options.dataDir = dataDir;
  const stateFile = get.str(values, 'state-file');
  if (stateFile) options.stateFile = stateFile;
  const faultsFile = get.str(values, 'faults-file');
  if (faultsFile) options.faults = JSON.parse(readFileSync(faultsFile, 'utf8')) as FaultSpec[];
  if (get.bool(values, 'log-requests')) {
    options.onRequest = (r) =>
      process.stdout.write(
        `${new Date().toISOString()} ${r.method} ${r.path}${r.query ? `?${decodeURIComponent(r.query)}` : ''} → ${r.status}${r.code === undefined ? '' : ` code ${r.code}`}\n`,
      );
  }
  const caOut = get.str(values, 'ca-out');
  return caOut ? { options, caOut } : { options };
}

export async function simulatorCommand(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write(formatHelp('3par-csi simulator [flags]', DESCRIPTION, SIMULATOR_FLAGS));
    return 0;
  }
  const { options, caOut } = simulatorOptionsFromFlags(args);
  const sim = await startSimulator(options).catch((err: unknown) =>
    Promise.reject(listenError(err, '--port', `${options.host ?? '127.0.0.1'}:${options.port ?? 0}`)),
  );
  if (caOut && sim.caCert) writeFileSync(caOut, sim.caCert);
  const lines = [
    `3PAR WSAPI simulator (profile ${options.profile}) listening`,
    `  url:      ${sim.url}`,
    `  username: ${sim.username}`,
    `  password: ${sim.password}`,
  ];
  if (sim.caCert) lines.push(caOut ? `  CA cert:  ${caOut}` : '  CA cert:  self-signed (use --ca-out FILE to save it)');
  if (options.dataDir) lines.push(`  data dir: ${options.dataDir} (exports/<WWN> while exported)`);
  if (options.stateFile) lines.push(`  state:    ${options.stateFile}`);
  if (options.admin) lines.push(`  admin:    ${sim.url}/sim/ (loopback only)`);
  process.stdout.write(lines.join('\n') + '\n');
  await untilShutdownSignal();
  await sim.close();
  return 0;
}
