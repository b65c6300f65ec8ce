/**
 * What the container image's dist/ holds: the build stage's own compile step (the `tsc -p …` the
 * Dockerfile runs) is run here into a temporary directory, laid out as the runtime stage lays out
 * /app (dist/, proto/, package.json, node_modules), and checked: the driver, the simulator and the
 * CLI, no src/bench or src/soak (tools run from the repository), and the CLI starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from './render.js';
import { runNode, type Finished } from '../helpers/run.js';

/** The tools that stay out of the image. */
const TOOLS = ['bench', 'soak'];

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** The build stage's compile step: `npx tsc -p <project>`. */
const project = /^RUN npx tsc -p (\S+)\s*$/m.exec(dockerfile)?.[1];

/** Every file under dir, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('the image’s dist/ (the Dockerfile’s compile step, run here)', () => {
  let app = '';
  let dist = '';
  const cli = (args: string[]): Promise<Finished> =>
    runNode([join(dist, 'cli', 'main.js'), ...args], { safetyNetMs: 60_000, env: { PATH: process.env['PATH'] } });

  beforeAll(async () => {
    expect(project).toBeDefined();
    app = mkdtempSync(join(tmpdir(), 'image-files-'));
    dist = join(app, 'dist');
    const tsc = createRequire(join(REPO_ROOT, 'package.json')).resolve('typescript/bin/tsc');
    // No limit on the compile itself (a loaded machine is slow); the net only catches a hang.
    const r = await runNode([tsc, '-p', join(REPO_ROOT, project!), '--outDir', dist], { safetyNetMs: 600_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The runtime stage's /app: dist/ beside proto/, package.json and node_modules.
    copyFileSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'proto'), join(app, 'proto'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(app, 'node_modules'));
  }, 660_000);
  afterAll(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('the build stage copies the project file it compiles with', () => {
    expect(dockerfile).toMatch(new RegExp(`^COPY [^\\n]*\\b${project!.replace('.', '\\.')}\\b[^\\n]* \\./$`, 'm'));
    const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');
    expect(ignore.split('\n')).toContain(`!${project}`);
  });

  it('holds every part of the product and none of the tools', () => {
    const top = readdirSync(join(REPO_ROOT, 'src'), { withFileTypes: true });
    const expected = top
      .filter((e) => !TOOLS.includes(e.name))
      .map((e) => (e.isDirectory() ? e.name : e.name.replace(/\.ts$/, '.js')));
    const got = readdirSync(dist).filter((n) => !n.endsWith('.map'));
    expect(got.sort()).toEqual(expected.sort());
    for (const tool of TOOLS) expect(files(dist).filter((f) => f.split('/')[0] === tool)).toEqual([]);
    for (const entry of ['cli/main.js', 'driver.js', 'simulator/index.js', 'demo/demo.js'])
      expect(existsSync(join(dist, entry))).toBe(true);
  });

  it('every relative import of the image’s code resolves inside it (nothing reaches for the tools)', () => {
    const missing: string[] = [];
    for (const f of files(dist).filter((n) => n.endsWith('.js'))) {
      const text = readFileSync(join(dist, f), 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(join(dist, f)), m[1]!);
        if (!existsSync(target)) missing.push(`${f} → ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the CLI starts from it: --help, version, and the simulator’s and serve’s help', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: 3par-csi <command>/);
    const version = await cli(['version']);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
    for (const command of ['serve', 'simulator']) {
      const r = await cli([command, '--help']);
      expect([command, r.code]).toEqual([command, 0]);
    }
  });

  it('the repository’s own build still compiles the tools (npm run bench / npm run soak)', () => {
    const repo = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as {
      include: string[];
      exclude?: string[];
    };
    expect(repo.include).toEqual(['src']);
    expect(repo.exclude ?? []).toEqual([]);
    const image = JSON.parse(readFileSync(join(REPO_ROOT, project!), 'utf8')) as { extends: string; exclude: string[] };
    expect(image.extends).toBe('./tsconfig.json');
    expect(image.exclude.sort()).toEqual(TOOLS.map((t) => `src/${t}`));
  });
});
