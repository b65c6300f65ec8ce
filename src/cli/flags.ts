/**
 * A small, strict command-line parser: `--name value` and `--name=value`, booleans as `--name`
 * (or `--name=false`), every flag with an environment-variable twin. Unknown flags and bad values
 * are usage errors (exit code 2).
 */

export type FlagType = 'string' | 'boolean' | 'int' | 'list';

export interface FlagSpec {
  /** Long name without dashes, e.g. "cluster-id". */
  name: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  /** Allowed values (string flags). */
  choices?: readonly string[];
  /** Placeholder shown in help, e.g. FILE. */
  metavar?: string;
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

/** Parses args against specs; flags beat environment twins, which beat defaults. */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[], env: NodeJS.ProcessEnv = process.env): { values: FlagValues; positional: string[] } {
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
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown flag ${arg} (flags are --long-names; see --help)`);
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
    values[name] = spec.type === 'list' && Array.isArray(values[name]) ? [...(values[name] as string[]), ...(v as string[])] : v;
  }
  for (const spec of specs) {
    if (values[spec.name] !== undefined) continue;
    const fromEnv = env[envName(spec.name)];
    if (fromEnv !== undefined && fromEnv !== '') values[spec.name] = convert(spec, fromEnv, envName(spec.name));
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
      return Number(raw);
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`${where} must be one of ${spec.choices.join(', ')}, not "${raw}"`);
      return raw;
  }
}

/** Help text for a command: usage line, description, and one entry per flag with its env twin. */
export function formatHelp(usage: string, description: string, specs: readonly FlagSpec[]): string {
  const lines = [`Usage: ${usage}`, '', description, '', 'Flags:'];
  for (const s of specs) {
    const meta = s.type === 'boolean' ? '' : ` ${s.metavar ?? (s.type === 'int' ? 'N' : s.type === 'list' ? 'A,B' : 'VALUE')}`;
    lines.push(`  --${s.name}${meta}`);
    let help = s.help;
    if (s.choices) help += ` (one of: ${s.choices.join(', ')})`;
    if (s.default !== undefined && s.default !== '' && !(Array.isArray(s.default) && s.default.length === 0)) help += ` [default: ${String(s.default)}]`;
    lines.push(`      ${help}`);
    lines.push(`      env: ${envName(s.name)}`);
  }
  lines.push('  --help', '      Show this help.');
  return lines.join('\n') + '\n';
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
