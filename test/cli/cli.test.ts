/**
 * The `3par-csi` binary as an admin runs it (from dist/: `npm run build` first; .ci/run does).
 */
import { afterAll, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVE_FLAGS } from '../../src/cli/serve.js';
import { BACKEND_KEYS } from '../../src/config/backends.js';
import { envName } from '../../src/cli/flags.js';
import { describeUnless } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const d = describeUnless(existsSync(BIN) ? undefined : `${BIN} is missing — run "npm run build" first`);
const dir = mkdtempSync(join(tmpdir(), 'cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function backendsFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const GOOD = backendsFile('good.yaml', '- id: a1\n  url: https://array.example:8080\n  username: u\n  password: p\n');

d('3par-csi CLI', () => {
  test('serve --help lists every flag with its environment twin', () => {
    const r = run(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const f of SERVE_FLAGS) {
      expect(r.stdout).toContain(`--${f.name}`);
      expect(r.stdout).toContain(envName(f.name));
    }
  });

  test.each([
    [['serve', '--bogus'], /unknown flag --bogus/],
    [['serve', '--endpoint', 'unix://relative'], /endpoint/],
    [['serve', '--log-level', 'loud'], /--log-level must be one of/],
    [['serve', '--mode'], /--mode needs a value/],
    [['frobnicate'], /unknown command/],
    [['call', 'NoSuchRpc'], /unknown RPC/],
    [['call', 'Probe', '--json', '{bad'], /not valid JSON/],
  ])('%j is a one-line usage error with exit code 2', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test.each([
    ['no cluster id', ['--backends', GOOD], {}, /--cluster-id is required/],
    ['the placeholder cluster id', ['--backends', GOOD, '--cluster-id', 'CHANGE-ME'], {}, /placeholder/],
    ['a cluster id with bad characters', ['--backends', GOOD, '--cluster-id', 'Prod_1'], {}, /1-32 characters/],
    ['no backends file', ['--cluster-id', 'prod'], {}, /--backends FILE is required/],
    [
      'a malformed file',
      ['--cluster-id', 'prod', '--backends', backendsFile('bad.yaml', '- id: [unclosed')],
      {},
      /not valid YAML/,
    ],
    [
      'a duplicate id',
      [
        '--cluster-id',
        'prod',
        '--backends',
        backendsFile(
          'dup.yaml',
          '- {id: a, url: "https://x:8080", username: u, password: p}\n- {id: a, url: "https://y:8080", username: u, password: p}\n',
        ),
      ],
      {},
      /used twice/,
    ],
    [
      'an invalid id',
      [
        '--cluster-id',
        'prod',
        '--backends',
        backendsFile('badid.yaml', '- {id: A_1, url: "https://x:8080", username: u, password: p}\n'),
      ],
      {},
      /id "A_1"/,
    ],
    [
      'two defaults',
      [
        '--cluster-id',
        'prod',
        '--backends',
        backendsFile(
          'two.yaml',
          '- {id: a, url: "https://x:8080", username: u, password: p, default: true}\n- {id: b, url: "https://y:8080", username: u, password: p, default: true}\n',
        ),
      ],
      {},
      /more than one backend/,
    ],
    [
      'a missing URL',
      ['--cluster-id', 'prod', '--backends', backendsFile('nourl.yaml', '- {id: a, username: u, password: p}\n')],
      {},
      /"url" is missing/,
    ],
    [
      'a bad cluster id from the environment twin',
      ['--backends', GOOD],
      { [envName('cluster-id')]: 'no spaces allowed' },
      /1-32 characters/,
    ],
  ])('serve refuses %s at start', (_what, args, env, message) => {
    const r = run(['serve', '--mode', 'controller', '--endpoint', `unix://${dir}/never.sock`, ...args], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, 'never.sock'))).toBe(false);
  });

  test('serve --help lists every key a backends file may have', () => {
    const r = run(['serve', '--help']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('Backends file'))!;
    for (const key of BACKEND_KEYS) expect([key, line.includes(key)]).toEqual([key, true]);
  });

  test('a node plugin with --topology=on refuses to start without --backend-ids (it would report no segment)', () => {
    const r = run([
      'serve',
      '--mode',
      'node',
      '--endpoint',
      `unix://${dir}/never-node.sock`,
      '--topology',
      'on',
      '--node-name',
      'w1',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--topology=on needs --backend-ids/);
    expect(existsSync(join(dir, 'never-node.sock'))).toBe(false);
  });

  test('serve answers `call`, and SIGTERM stops it and removes the socket', async () => {
    const sock = join(dir, 'node.sock');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--mode',
        'node',
        '--endpoint',
        `unix://${sock}`,
        '--log-format',
        'json',
        '--node-name',
        'worker-1',
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitFor('the socket of `serve`', () => existsSync(sock), { intervalMs: 50 });
      const r = run(['call', 'GetPluginInfo', '--endpoint', `unix://${sock}`]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ name: 'csi.3par.hpe.example.com' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(sock)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('call reports a gRPC error as CODE: message with exit code 1', () => {
    const r = run(['call', 'Probe', '--endpoint', `unix://${dir}/nobody.sock`, '--timeout', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^(UNAVAILABLE|DEADLINE_EXCEEDED): /);
  });
});
