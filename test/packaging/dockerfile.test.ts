import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, REPO_ROOT } from './render.js';

/** One Dockerfile instruction, continuation lines joined, comments dropped. */
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  instructions: Instruction[];
}

/** A small Dockerfile parser: enough for the checks below (no heredocs, no escape directive). */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m) instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ') });
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m![1]!, name: m![2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0 && ins.op === 'ARG') {
      const [k, v] = ins.args.split('=');
      args.set(k!, v ?? '');
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage => dockerfile.stages.find((s) => s.name === name)!;
const runtime = dockerfile.stages.at(-1)!;
const ops = (s: Stage, op: string): string[] => s.instructions.filter((i) => i.op === op).map((i) => i.args);

/**
 * Base images that may be used without a digest, each with the reason (none today). A FROM
 * without a digest that is not a previous stage and not listed here fails the test below.
 */
const UNPINNED_BASES: Record<string, string> = {};

/**
 * The stages whose FROM (ARG defaults substituted) is neither a digest, a previous stage nor an explained exception.
 */
function unpinnedBases(df: { args: Map<string, string>; stages: Stage[] }): string[] {
  const problems: string[] = [];
  df.stages.forEach((s, i) => {
    const image = s.from.replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (_, a: string | undefined, b: string | undefined) => df.args.get((a ?? b)!) ?? '',
    );
    if (df.stages.slice(0, i).some((p) => p.name === image)) return;
    if (/^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$/.test(image)) return;
    if (UNPINNED_BASES[image]) return;
    problems.push(`stage ${s.name}: FROM ${image || s.from} has no tag@sha256 digest and no explained exception`);
  });
  return problems;
}

/** The packages of every `apt-get install` in these RUN lines, as written (name or name=version). */
function aptPackages(runs: string): string[] {
  const out: string[] = [];
  for (const m of runs.matchAll(/apt-get install\s+([^&;|]*)/g))
    out.push(...m[1]!.split(/\s+/).filter((w) => w !== '' && !w.startsWith('-')));
  return out;
}

/** Packages not pinned to an exact Debian version (`name=version`). */
const unpinnedPackages = (pkgs: string[]): string[] =>
  pkgs.filter((p) => !/^[a-z0-9][a-z0-9.+-]*=(\d+:)?\d[A-Za-z0-9.+~-]*$/.test(p));

describe('Dockerfile', () => {
  it('builds from an exactly pinned Node 24 slim image, by tag and digest, in every stage', () => {
    const base = dockerfile.args.get('NODE_IMAGE');
    expect(base).toMatch(/^node:24\.\d+\.\d+-[a-z]+-slim@sha256:[0-9a-f]{64}$/);
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const s of dockerfile.stages) expect(s.from).toBe('${NODE_IMAGE}');
    expect(unpinnedBases(dockerfile)).toEqual([]);
  });

  it('the base check catches a FROM by tag only, and allows a previous stage', () => {
    const df = parseDockerfile(
      'ARG B=node:24.1.0-trixie-slim\nFROM ${B} AS one\nRUN true\nFROM one AS two\nFROM debian:trixie-slim\n',
    );
    expect(unpinnedBases(df)).toEqual([
      'stage one: FROM node:24.1.0-trixie-slim has no tag@sha256 digest and no explained exception',
      'stage 2: FROM debian:trixie-slim has no tag@sha256 digest and no explained exception',
    ]);
  });

  it('installs every apt package at an exact version', () => {
    const pkgs = aptPackages(dockerfile.stages.flatMap((s) => ops(s, 'RUN')).join('\n'));
    expect(pkgs.map((p) => p.split('=')[0]).sort()).toEqual([
      'ca-certificates',
      'e2fsprogs',
      'mount',
      'util-linux',
      'xfsprogs',
    ]);
    expect(unpinnedPackages(pkgs)).toEqual([]);
    // util-linux and mount come from one source package: one version.
    const v = (name: string): string | undefined => pkgs.find((p) => p.startsWith(`${name}=`))?.split('=')[1];
    expect(v('mount')).toBe(v('util-linux'));
  });

  it('the apt check catches a package without a version', () => {
    const pkgs = aptPackages(
      'apt-get update && apt-get install -y --no-install-recommends xfsprogs=6.13.0-2+deb13u1 mount e2fsprogs=1:1.0 && rm -rf x',
    );
    expect(pkgs).toEqual(['xfsprogs=6.13.0-2+deb13u1', 'mount', 'e2fsprogs=1:1.0']);
    expect(unpinnedPackages(pkgs)).toEqual(['mount']);
  });

  it('compiles in a build stage with npm ci and tsc', () => {
    const build = stage('build');
    const runs = ops(build, 'RUN').join('\n');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(runs).not.toMatch(/\bnpm install\b/);
    expect(runs).toMatch(/\btsc\b/);
    expect(ops(build, 'COPY')).toEqual(expect.arrayContaining(['package.json package-lock.json ./', 'src ./src']));
  });

  it('installs production dependencies only, from the lock file', () => {
    const deps = stage('deps');
    const runs = ops(deps, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci [^\n]*--omit=dev/);
  });

  it('ships dist/, proto/, package.json and production node_modules only in the runtime stage', () => {
    const copies = ops(runtime, 'COPY');
    expect(copies).toEqual([
      '--from=deps /app/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
      'proto ./proto',
      'package.json ./',
    ]);
    expect(ops(runtime, 'RUN').join('\n')).not.toMatch(/npm (ci|install)/);
    // From the build context only proto/ and package.json (dist/cli/main.js reads ../package.json
    // for its version): no sources, tests or configuration.
    expect(copies.filter((c) => !c.startsWith('--from=')).map((c) => c.split(' ')[0])).toEqual([
      'proto',
      'package.json',
    ]);
  });

  it('the runtime stage carries no npm or corepack (removed from the Node image), and never runs them', () => {
    const runtime = stage('runtime');
    const runs = ops(runtime, 'RUN').join('\n');
    for (const path of [
      '/usr/local/lib/node_modules/npm',
      '/usr/local/lib/node_modules/corepack',
      '/usr/local/bin/npm',
      '/usr/local/bin/npx',
      '/usr/local/bin/corepack',
    ])
      expect(runs).toMatch(new RegExp(`rm -rf [^\\n]*${path.replace(/\//g, '\\/')}(\\s|$)`));
    // Not run as a command (first word, or after && or ;).
    expect(runs).not.toMatch(/(^|&&|;)\s*(npm|npx|corepack)\b/m);
    expect(ops(runtime, 'ENTRYPOINT').join('')).toMatch(/"node"/);
  });

  it('the runtime stage has every package the compiled code imports: all are production dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const imported = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
          const text = readFileSync(path, 'utf8');
          // Value imports and re-exports (type-only ones vanish at compile time), and dynamic imports.
          for (const m of text.matchAll(
            /^\s*(?:import|export)\s+(?!type[\s{])[^;]*?\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gms,
          )) {
            const spec = m[1] ?? m[2]!;
            if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
            imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
          }
        }
      }
    };
    walk(join(REPO_ROOT, 'src'));
    expect(imported.size).toBeGreaterThan(3);
    for (const name of imported) expect([name, name in pkg.dependencies]).toEqual([name, true]);
  });

  it('has the tools the node plugin runs itself, and nsenter to reach the host’s iscsiadm and multipath', () => {
    const install = ops(runtime, 'RUN').join('\n');
    for (const pkg of ['util-linux', 'mount', 'e2fsprogs', 'xfsprogs'])
      expect(install).toMatch(new RegExp(`apt-get install[^\\n]*\\b${pkg}\\b`));
    // A second iscsid/multipathd in the image talking to the host's is a classic failure.
    expect(install).not.toMatch(/open-iscsi|multipath-tools/);
    expect(install).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
  });

  it('runs as a non-root user by default, the one the chart runs the controller as', () => {
    const user = ops(runtime, 'USER').at(-1);
    expect(user).toBe('10001:10001');
    expect(ops(runtime, 'RUN').join('\n')).toMatch(/useradd [^\n]*--uid 10001/);
    const controller = readFileSync(join(CHART_DIR, 'templates', 'controller-deployment.yaml'), 'utf8');
    expect(controller).toMatch(/runAsUser: 10001/);
  });

  it('enters through the CLI, with OCI labels', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(ops(runtime, 'ENTRYPOINT')).toEqual([`["node", "--max-semi-space-size=1", "/app/${pkg.bin['3par-csi']}"]`]);
    const labels = ops(runtime, 'LABEL').join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'base.name'])
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    const [tag, digest] = dockerfile.args.get('NODE_IMAGE')!.split('@');
    expect(labels).toContain(`org.opencontainers.image.base.name="docker.io/library/${tag}"`);
    expect(labels).toContain(`org.opencontainers.image.base.digest="${digest}"`);
  });

  it('the chart’s appVersion is the package version the image is built from', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as {
      appVersion: string;
      version: string;
    };
    expect(chart.appVersion).toBe(pkg.version);
    const versionArg = ops(runtime, 'ARG').find((a) => a.startsWith('VERSION='));
    expect(versionArg).toBe(`VERSION=${pkg.version}`);
  });
});

describe('.dockerignore', () => {
  it('admits only what the build needs', () => {
    const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    expect(lines.filter((l) => l.startsWith('!')).sort()).toEqual([
      '!package-lock.json',
      '!package.json',
      '!proto/',
      '!src/',
      '!tsconfig.image.json',
      '!tsconfig.json',
    ]);
  });
});
