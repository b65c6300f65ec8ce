/**
 * No shell string interpolation where host commands run: src/host (and the node service in
 * src/csi that feeds it) build argument arrays only. A static scan, so a regression fails here
 * before a request value ever reaches a command line.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = join(import.meta.dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Patterns that run a shell or pass a command line as one string. */
const SHELL_PATTERNS: [string, RegExp][] = [
  ['shell: true', /\bshell\s*:\s*(true|['"`])/],
  [
    'a command line as one string',
    /\b(?:exec|execSync|spawn|spawnSync|execFile|execFileSync)\s*\(\s*(['"])[^'"]*\s[^'"]*\1/,
  ],
  ['a command line in a template string', /\b(?:exec|execSync)\s*\(\s*`[^`]*\$\{/],
  [
    'an import of exec/execSync',
    /import\s*\{[^}]*\b(?:exec|execSync)\b[^}]*\}\s*from\s*['"](?:node:)?child_process['"]/,
  ],
  ['sh -c / bash -c', /['"`](?:\/bin\/)?(?:ba)?sh['"`]\s*,\s*\[\s*['"`]-c['"`]/],
  ['a command line in a template string', /\b(?:spawn|spawnSync|execFile|execFileSync)\s*\(\s*`[^`]*\$\{/],
  ['a command name built from a value', /\b(?:spawn|spawnSync|execFile|execFileSync)\s*\(\s*[^'"`\s,)]+\s*\+/],
];

/** Strips comments so documentation that quotes a command line does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

function offences(dirs: string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    for (const file of tsFiles(join(ROOT, dir))) {
      const lines = code(readFileSync(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        for (const [what, re] of SHELL_PATTERNS)
          if (re.test(line)) out.push(`${relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim()}`);
      });
    }
  }
  return out;
}

describe('host commands', () => {
  it('src/host and src/csi run no shell and interpolate nothing into a command line', () => {
    expect(offences(['src/host', 'src/csi'])).toEqual([]);
  });

  it('the one process runner (src/host/exec.ts) spawns with an argument array and no shell', () => {
    const text = code(readFileSync(join(ROOT, 'src/host/exec.ts'), 'utf8'));
    const spawns = text.match(/\bspawn\s*\([^)]*\)/g) ?? [];
    expect(spawns.length).toBeGreaterThan(0);
    for (const s of spawns) {
      expect(s).toMatch(/spawn\s*\(\s*command\s*,\s*args\s*,/);
      expect(s).not.toMatch(/shell/);
    }
  });

  it('nothing in src runs commands through a shell with interpolated values', () => {
    // The demo's `sh -c 'command -v <constant>'` interpolates constants only; it is listed here
    // so a new occurrence elsewhere is noticed.
    const found = offences(['src']).filter((o) => !/^src\/(host|csi)\//.test(o));
    const allowed = found.filter((o) => /^src\/demo\/demo\.ts:\d+: sh -c/.test(o));
    expect(found.filter((o) => !allowed.includes(o))).toEqual([]);
  });

  it('the scan catches what it is meant to catch', () => {
    const bad = [
      "spawn('mkfs', args, { shell: true })",
      'exec(`mount ${dev} ${path}`)',
      "execSync('losetup -f')",
      "spawn('mount -o ro /dev/x /mnt')",
      "spawn('sh', ['-c', `iscsiadm -m node -T ${iqn}`])",
      'spawnSync(`blkid ${dev}`)',
      "import { exec } from 'node:child_process';",
    ];
    for (const line of bad) expect(SHELL_PATTERNS.some(([, re]) => re.test(line))).toBe(true);
    const good = [
      "spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })",
      "await exec('mkfs.xfs', ['-K', ...o.extra, device], { timeoutMs })",
      "execFile('cp', ['--sparse=always', src, dst])",
      '/^(\\d+):(\\d+)$/.exec(text)',
    ];
    for (const line of good) expect(SHELL_PATTERNS.some(([, re]) => re.test(line))).toBe(false);
  });
});
