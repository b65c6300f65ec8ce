/**
 * Issue 18 case 5 and issue 14 finding 9: ordinary mistakes an admin makes print one line (no
 * stack trace) and a fitting exit code — 2 for a usage or configuration error, 1 for a problem
 * of the machine (permission, address in use). Runs the built binary (`npm run build` first).
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';
import { describeUnless } from '../helpers/skip.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const built = existsSync(BIN);
const d = describeUnless(built ? undefined : `${BIN} is missing — run "npm run build" first`);
const dir = mkdtempSync(join(tmpdir(), 'usererr-'));
chmodSync(dir, 0o755);

function run(args: string[], opts: { uid?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] },
    timeout: 30_000,
    ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line on stderr, no stack frame. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

let busy: Server;
let busyPort = 0;
let running: ChildProcess | undefined;
const runningSock = join(dir, 'running.sock');

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as AddressInfo).port;
});
afterAll(async () => {
  running?.kill('SIGKILL');
  await new Promise((r) => busy.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts `3par-csi <args>` and waits for its "driver ready" log line; `stop` sends SIGTERM and
 * resolves with the exit code. The process is killed if the test fails before.
 */
async function serveUntilReady(args: string[]): Promise<{ out: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  children.push(child);
  await waitFor(
    `"driver ready" from ${args.join(' ')}`,
    () => out.includes('"driver ready"') || exitCode(child) !== null,
  );
  if (!out.includes('"driver ready"'))
    throw new Error(`3par-csi ${args.join(' ')} exited before it was ready:\n${out}`);
  return {
    get out() {
      return out;
    },
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
const exitCode = (child: ChildProcess): number | string | null => child.exitCode ?? child.signalCode;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const node = (endpoint: string, ...more: string[]) => [
  'serve',
  '--mode',
  'node',
  '--endpoint',
  endpoint,
  '--node-name',
  'w1',
  '--kubelet-dir',
  dir,
  '--log-format',
  'json',
  ...more,
];

d('user errors (issue 18 case 5, issue 14 finding 9)', () => {
  test('a socket directory without permission (EACCES): one line, exit 1', () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o755 });
    // As root every directory is writable: run as nobody then; otherwise make it read-only.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(locked, 0o555);
    const r = run(node(`unix://${locked}/csi.sock`), asRoot ? { uid: 65534 } : {});
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/permission denied.*locked\/csi\.sock/i);
  });

  test('a socket already served by a running driver: one line, exit 1', async () => {
    running = spawn(process.execPath, [BIN, ...node(`unix://${runningSock}`)], { stdio: 'ignore' });
    await waitFor('the first driver to create its socket', () => existsSync(runningSock));
    const r = run(node(`unix://${runningSock}`));
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/in use by another running process/);
  });

  test.each([
    ['the TCP endpoint', () => node(`127.0.0.1:${busyPort}`)],
    ['--metrics-address', () => node(`unix://${dir}/m.sock`, '--metrics-address', `127.0.0.1:${busyPort}`)],
    ['simulator --port', () => ['simulator', '--port', String(busyPort)]],
  ])('an address in use (EADDRINUSE) for %s: one line, exit 1', (_what, args) => {
    const r = run(args());
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`address 127\\.0\\.0\\.1:${busyPort} is in use`));
  });

  test.each([
    [
      'a malformed --metrics-address',
      node(`unix://${dir}/x.sock`, '--metrics-address', 'localhost'),
      /--metrics-address/,
    ],
    ['an endpoint with no host (:19555)', node(':19555'), /needs a host/],
    ['a non-loopback TCP endpoint without --allow-remote-endpoint', node('0.0.0.0:19555'), /--allow-remote-endpoint/],
  ])('%s is a usage error: one line, exit 2', (_what, args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(message);
  });

  test('a YAML syntax error in the backends file names line and column, never the content', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      '- id: a\n  url: https://array:8080\n  username: u\n  password: "s3cret-Pa55\n  chap: {user: x, secret: [unclosed\n',
    );
    const r = run([
      'serve',
      '--mode',
      'controller',
      '--cluster-id',
      'c',
      '--backends',
      file,
      '--endpoint',
      `unix://${dir}/never.sock`,
    ]);
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/not valid YAML\/JSON.*line \d+, column \d+/);
    expect(line).not.toMatch(/s3cret|Pa55|chap|unclosed/);
  });

  test('a missing socket directory is created and said so; a missing parent of it is refused', async () => {
    const refused = run(node(`unix://${dir}/no/such/csi.sock`));
    expect(refused.code).toBe(1);
    expect(oneLine(refused.stderr)).toMatch(/no\/such.*does not exist/);
    expect(existsSync(join(dir, 'no'))).toBe(false);

    const served = await serveUntilReady(node(`unix://${join(dir, 'fresh', 'csi.sock')}`));
    expect(served.out).toMatch(new RegExp(`"dir":"${dir}/fresh".*"msg":"created the socket directory"`));
    expect(await served.stop()).toBe(0);
  });

  test('a remote TCP endpoint with --allow-remote-endpoint is served with a warning; an http:// backend URL is warned about once', async () => {
    const file = join(dir, 'http.yaml');
    writeFileSync(file, '- {id: plain, url: "http://array.invalid:8008", username: u, password: p}\n');
    const served = await serveUntilReady([
      'serve',
      '--mode',
      'all',
      '--cluster-id',
      'c',
      '--backends',
      file,
      '--endpoint',
      '0.0.0.0:0',
      '--allow-remote-endpoint',
      '--node-name',
      'w1',
      '--kubelet-dir',
      dir,
      '--log-format',
      'json',
    ]);
    expect(served.out.match(/"msg":"[^"]*not on loopback[^"]*"/g) ?? []).toHaveLength(1);
    expect(served.out.match(/"msg":"[^"]*password travels in clear[^"]*"/g) ?? []).toHaveLength(1);
    expect(await served.stop()).toBe(0);
  });
});
