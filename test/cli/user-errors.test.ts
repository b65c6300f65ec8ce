/**
 * Issue 18 case 5 and issue 14 finding 9: ordinary mistakes an admin makes print one line (no
 * stack trace) and a fitting exit code — 2 for a usage or configuration error, 1 for a problem
 * of the machine (permission, address in use). Runs the built binary (`npm run build` first).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const built = existsSync(BIN);
if (!built) console.log(`user-error tests skipped: ${BIN} is missing — run "npm run build" first`);
const d = built ? describe : describe.skip;
const dir = mkdtempSync(join(tmpdir(), 'usererr-'));
chmodSync(dir, 0o755);

function run(args: string[], opts: { uid?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] }, timeout: 30_000, ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid }) });
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

const node = (endpoint: string, ...more: string[]) => ['serve', '--mode', 'node', '--endpoint', endpoint, '--node-name', 'w1', '--kubelet-dir', dir, '--log-format', 'json', ...more];

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
    const stop = Date.now() + 30_000;
    while (!existsSync(runningSock)) {
      if (Date.now() > stop) throw new Error('safety net: the first driver did not create its socket within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
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
    ['a malformed --metrics-address', node(`unix://${dir}/x.sock`, '--metrics-address', 'localhost'), /--metrics-address/],
    ['an endpoint with no host (:19555)', node(':19555'), /needs a host/],
    ['a non-loopback TCP endpoint without --allow-remote-endpoint', node('0.0.0.0:19555'), /--allow-remote-endpoint/],
  ])('%s is a usage error: one line, exit 2', (_what, args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(message);
  });

  test('a YAML syntax error in the backends file names line and column, never the content', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, '- id: a\n  url: https://array:8080\n  username: u\n  password: "s3cret-Pa55\n  chap: {user: x, secret: [unclosed\n');
    const r = run(['serve', '--mode', 'controller', '--cluster-id', 'c', '--backends', file, '--endpoint', `unix://${dir}/never.sock`]);
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

    const sock = join(dir, 'fresh', 'csi.sock');
    const child = spawn(process.execPath, [BIN, ...node(`unix://${sock}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    try {
      const stop = Date.now() + 30_000;
      while (!out.includes('"driver ready"')) {
        if (Date.now() > stop) throw new Error(`safety net: not ready within 30 s\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(out).toMatch(new RegExp(`"dir":"${dir}/fresh".*"msg":"created the socket directory"`));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a remote TCP endpoint with --allow-remote-endpoint is served with a warning; an http:// backend URL is warned about once', async () => {
    const file = join(dir, 'http.yaml');
    writeFileSync(file, '- {id: plain, url: "http://array.invalid:8008", username: u, password: p}\n');
    const child = spawn(process.execPath, [BIN, 'serve', '--mode', 'all', '--cluster-id', 'c', '--backends', file, '--endpoint', '0.0.0.0:0', '--allow-remote-endpoint', '--node-name', 'w1', '--kubelet-dir', dir, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    try {
      const stop = Date.now() + 30_000;
      while (!out.includes('"driver ready"')) {
        if (Date.now() > stop) throw new Error(`safety net: not ready within 30 s\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(out.match(/"msg":"[^"]*not on loopback[^"]*"/g) ?? []).toHaveLength(1);
      expect(out.match(/"msg":"[^"]*password travels in clear[^"]*"/g) ?? []).toHaveLength(1);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
