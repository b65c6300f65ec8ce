/**
 * Issue 18, case 6: `3par-csi call` takes what a person types. The JSON is checked against the
 * request type: an unknown field or enum value, a list, a wrong type are usage errors (exit 2)
 * naming the field; byte fields take Kubernetes quantities ("10Gi" is 10 GiB, not 256 MiB); an
 * unreachable socket says why. Runs the built binary (`npm run build` first).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseQuantity } from '../../src/csi/json-request.js';
import { describeUnless } from '../helpers/skip.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const built = existsSync(BIN);
const d = describeUnless(built ? undefined : `${BIN} is missing — run "npm run build" first`);
const dir = mkdtempSync(join(tmpdir(), 'calljson-'));
const sock = join(dir, 'csi.sock');
let server: ChildProcess | undefined;

function call(rpc: string, json: string, endpoint = `unix://${sock}`) {
  const r = spawnSync(process.execPath, [BIN, 'call', rpc, '--endpoint', endpoint, '--timeout', '20', '--json', json], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const caps = '"volume_capabilities":[{"mount":{},"access_mode":{"mode":"SINGLE_NODE_WRITER"}}]';

beforeAll(async () => {
  if (!built) return;
  server = spawn(
    process.execPath,
    [BIN, 'serve', '--simulator', '--endpoint', `unix://${sock}`, '--log-format', 'json'],
    { stdio: 'ignore' },
  );
  const stop = Date.now() + 30_000;
  while (!existsSync(sock)) {
    if (Date.now() > stop) throw new Error('safety net: serve --simulator made no socket within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
});
afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('quantities', () => {
  test.each([
    ['10Gi', '10737418240'],
    ['500M', '500000000'],
    ['1.5Gi', '1610612736'],
    ['1024', '1024'],
    ['1k', '1000'],
  ])('%s is %s bytes', (q, bytes) => expect(parseQuantity(q)).toBe(bytes));
  test.each(['abc', '1.5', '10GB', '-1Gi', '0.1'])('%s is not a whole number of bytes', (q) =>
    expect(parseQuantity(q)).toBeUndefined(),
  );
});

d('call parses JSON strictly (issue 18 case 6)', () => {
  test('required_bytes "10Gi" creates a 10 GiB volume', () => {
    const r = call('CreateVolume', `{"name":"pvc-q",${caps},"capacity_range":{"required_bytes":"10Gi"}}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { volume: { capacity_bytes: string } }).volume.capacity_bytes).toBe(
      String(10 * 1024 ** 3),
    );
  });

  test.each([
    ['a misspelled field', `{"nmae":"x",${caps}}`, /unknown field "nmae" in CreateVolumeRequest/],
    [
      'a misspelled nested field',
      `{"name":"x","capacity_range":{"required_byte":"1Gi"}}`,
      /unknown field "required_byte" in CreateVolumeRequest\.capacity_range/,
    ],
    [
      'an unknown enum value',
      '{"name":"x","volume_capabilities":[{"mount":{},"access_mode":{"mode":"SINGLE_WRITER"}}]}',
      /"SINGLE_WRITER" is not a Mode/,
    ],
    [
      '"abc" as a size',
      `{"name":"x",${caps},"capacity_range":{"required_bytes":"abc"}}`,
      /required_bytes must be a whole number of bytes/,
    ],
    ['a list for the message', '[]', /must be a JSON object/],
    ['a number for a string', '{"name":5}', /name must be a string/],
    [
      'two members of a oneof',
      '{"name":"x","volume_capabilities":[{"mount":{},"block":{}}]}',
      /set only one of block, mount/,
    ],
  ])('%s is a usage error naming it (exit 2)', (_what, json, message) => {
    const r = call('CreateVolume', json);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an absent socket and a file that is not a socket say so instead of an empty resolution note', () => {
    const missing = call('Probe', '{}', `unix://${dir}/absent.sock`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no socket at .*absent\.sock/);
    expect(missing.stderr).not.toMatch(/Resolution note:\s*$/m);

    const file = join(dir, 'notasocket');
    writeFileSync(file, '');
    chmodSync(file, 0o600);
    const notSocket = call('Probe', '{}', `unix://${file}`);
    expect(notSocket.code).toBe(1);
    expect(notSocket.stderr).toMatch(/is not a socket/);
  });
});
