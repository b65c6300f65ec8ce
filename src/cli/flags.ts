/**
 * The one command-line parser of the project (the CLI's commands, `npm run soak`, `npm run bench`):
 * `--name value` and `--name=value`, booleans as `--name` (or `--name=false`), each flag with an
 * environment-variable twin unless its spec says otherwise. Unknown flags and bad values are usage
 * errors (exit code 2).
 *
 * Not `node:util` parseArgs: it refuses `--flag=false` for a boolean and, strict, a value that
 * starts with a dash (`--max-volumes-per-node -1`), both of which the CLI has always accepted;
 * the scan below is the part parseArgs would replace, and the twins, types, choices and help
 * are on top either way.
 */

export type FlagType = 'string' | 'boolean' | 'int' | 'number' | 'list';

export interface FlagSpec {
  /** Long name without dashes, e.g. "cluster-id". */
  name: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  /** Allowed values (string flags; each item of a list flag). */
  choices?: readonly string[];
  /** Smallest value (int and number flags). */
  min?: number;
  /** Placeholder shown in help, e.g. FILE. */
  metavar?: string;
  /** Environment twin: default THREEPAR_CSI_<NAME> (envName); a name of its own; false for none. */
  env?: string | false;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

/** A problem with the command line; main prints it on one line and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Environment twin of a flag: THREEPAR_CSI_ + upper-case name with '_' for '-'. */
export function envName(flag: string): string {
  return `THREEPAR_CSI_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The environment variable a flag is read from when not given, if any. */
export function twinOf(spec: FlagSpec): string | undefined {
  return spec.env === false ? undefined : (spec.env ?? envName(spec.name));
}

/** Parses args against specs; flags beat environment twins, which beat defaults. */
export function parseFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
  env: NodeJS.ProcessEnv = process.env,
): { values: FlagValues; positional: string[] } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  const positional: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-')
        throw new UsageError(`unknown flag ${arg} (flags are --long-names; see --help)`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = args[i + 1];
      if (next === undefined) throw new UsageError(`--${name} needs a value`);
      raw = next;
      i++;
    }
    if (seen.has(name) && spec.type !== 'list') throw new UsageError(`--${name} is given twice`);
    seen.add(name);
    const v = convert(spec, raw, `--${name}`);
    values[name] =
      spec.type === 'list' && Array.isArray(values[name]) ? [...(values[name] as string[]), ...(v as string[])] : v;
  }
  for (const spec of specs) {
    if (values[spec.name] !== undefined) continue;
    const twin = twinOf(spec);
    const fromEnv = twin === undefined ? undefined : env[twin];
    if (twin !== undefined && fromEnv !== undefined && fromEnv !== '') values[spec.name] = convert(spec, fromEnv, twin);
    else if (spec.default !== undefined) values[spec.name] = spec.default;
  }
  return { values, positional };
}

function convert(spec: FlagSpec, raw: string, where: string): string | number | boolean | string[] {
  switch (spec.type) {
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`${where} must be true or false, not "${raw}"`);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new UsageError(`${where} must be an integer, not "${raw}"`);
      return atLeast(spec, Number(raw), raw, where);
    }
    case 'number': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) throw new UsageError(`${where} must be a number, not "${raw}"`);
      return atLeast(spec, n, raw, where);
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const bad = spec.choices ? items.find((i) => !spec.choices!.includes(i)) : undefined;
      if (bad !== undefined)
        throw new UsageError(`${where}: unknown value "${bad}" (one of: ${spec.choices!.join(', ')})`);
      return items;
    }
    default:
      if (spec.choices && !spec.choices.includes(raw))
        throw new UsageError(`${where} must be one of ${spec.choices.join(', ')}, not "${raw}"`);
      return raw;
  }
}

function atLeast(spec: FlagSpec, n: number, raw: string, where: string): number {
  if (spec.min !== undefined && n < spec.min)
    throw new UsageError(`${where} must be a number ≥ ${spec.min}, not "${raw}"`);
  return n;
}

/** Help text for a command: usage line, description, and one entry per flag with its env twin. */
export function formatHelp(usage: string, description: string, specs: readonly FlagSpec[], footer?: string): string {
  const lines = [`Usage: ${usage}`, '', description, '', 'Flags:'];
  for (const s of specs) {
    const meta =
      s.type === 'boolean'
        ? ''
        : ` ${s.metavar ?? (s.type === 'int' || s.type === 'number' ? 'N' : s.type === 'list' ? 'A,B' : 'VALUE')}`;
    lines.push(`  --${s.name}${meta}`);
    let help = s.help;
    if (s.choices) help += ` (one of: ${s.choices.join(', ')})`;
    if (s.default !== undefined && s.default !== '' && !(Array.isArray(s.default) && s.default.length === 0))
      help += ` [default: ${String(s.default)}]`;
    lines.push(`      ${help}`);
    const twin = twinOf(s);
    if (twin !== undefined) lines.push(`      env: ${twin}`);
  }
  lines.push('  --help', '      Show this help.');
  return lines.join('\n') + '\n' + (footer ? `\n${footer}\n` : '');
}

/** Typed accessors that fail loudly on programming errors. */
export const get = {
  str(v: FlagValues, name: string): string | undefined {
    const x = v[name];
    return typeof x === 'string' ? x : undefined;
  },
  num(v: FlagValues, name: string): number | undefined {
    const x = v[name];
    return typeof x === 'number' ? x : undefined;
  },
  bool(v: FlagValues, name: string): boolean {
    return v[name] === true;
  },
  list(v: FlagValues, name: string): string[] {
    const x = v[name];
    return Array.isArray(x) ? x : [];
  },
};

/** Resolves with the first SIGTERM or SIGINT the process receives (long-running commands). */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      resolve(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
