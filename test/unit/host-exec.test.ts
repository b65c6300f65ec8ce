/**
 * The Exec seam with real processes: typed ExecError (exit code, stdout, stderr), okCodes, the
 * command's own timeout, cancellation of read-only commands only, secret arguments, the nsenter
 * prefix; and the mountinfo parser on lines in the kernel's format (proc(5)).
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecError, hostExec, spawnExec, type Exec } from '../../src/host/exec.js';
import { isReadOnlyMount, mountAt, parseMountInfo } from '../../src/host/mounts.js';

describe('spawnExec', () => {
  it('returns stdout and stderr of a successful command', async () => {
    await expect(spawnExec('sh', ['-c', 'echo out; echo err >&2'])).resolves.toEqual({
      code: 0,
      stdout: 'out\n',
      stderr: 'err\n',
    });
  });

  it('a non-zero exit is an ExecError with code, stdout and stderr; okCodes accept it', async () => {
    const err = (await spawnExec('sh', ['-c', 'echo partial; echo "it broke" >&2; exit 3']).catch(
      (e: unknown) => e,
    )) as ExecError;
    expect(err).toBeInstanceOf(ExecError);
    expect(err).toMatchObject({
      failure: 'exit',
      exitCode: 3,
      stdout: 'partial\n',
      stderr: 'it broke\n',
      kind: 'internal',
    });
    expect(err.message).toContain('it broke');
    await expect(spawnExec('sh', ['-c', 'exit 21'], { okCodes: [21] })).resolves.toMatchObject({ code: 21 });
  });

  it('arguments are never shell syntax', async () => {
    const { stdout } = await spawnExec('echo', ['$(id)', '; rm -rf /', '`x`']);
    expect(stdout).toBe('$(id) ; rm -rf / `x`\n');
  });

  it('a command past its own timeout is killed: failure "timeout", the call\'s deadline (kind cancelled → DEADLINE_EXCEEDED)', async () => {
    // `sleep 5` cannot end by itself within 100 ms: the rejection is the kill.
    await expect(spawnExec('sleep', ['5'], { timeoutMs: 100 })).rejects.toMatchObject({
      failure: 'timeout',
      kind: 'cancelled',
    });
  });

  it('a child that never ends (D state: even SIGKILL waits) fails the call at its timeout and is left behind', async () => {
    // The grandchild keeps the output pipe open after the shell is killed, so 'close' never
    // comes — as for a blockdev stuck on a queueing multipath map. Before the fix the promise
    // waited for 'close' (here: 120 s, past the jest timeout).
    const err = (await spawnExec('sh', ['-c', 'sleep 120 & echo $!; wait'], { timeoutMs: 200 }).catch(
      (e: unknown) => e,
    )) as ExecError;
    const stuck = Number(err.stdout?.trim());
    try {
      expect(err).toBeInstanceOf(ExecError);
      expect(err).toMatchObject({ failure: 'timeout', kind: 'cancelled', exitCode: null });
    } finally {
      if (Number.isInteger(stuck) && stuck > 0) process.kill(stuck, 'SIGKILL');
    }
  });

  it('cancellation stops read-only commands only; a state-changing command runs to completion', async () => {
    const ac = new AbortController();
    const dir = mkdtempSync(join(tmpdir(), 'exec-cancel-'));
    const go = join(dir, 'go');
    try {
      const ro = spawnExec('sleep', ['5'], { readOnly: true, signal: ac.signal });
      // Runs until the test creates `go`, i.e. surely past the cancellation.
      const rw = spawnExec('sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.01; done; echo done', 'sh', go], {
        signal: ac.signal,
      });
      ac.abort();
      await expect(ro).rejects.toMatchObject({ failure: 'cancelled', kind: 'cancelled' });
      writeFileSync(go, '');
      await expect(rw).resolves.toMatchObject({ code: 0, stdout: 'done\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(spawnExec('true', [], { readOnly: true, signal: ac.signal })).rejects.toMatchObject({
      failure: 'cancelled',
    });
  });

  it('a missing binary is failure "spawn"', async () => {
    await expect(spawnExec('/nonexistent/tool', [])).rejects.toMatchObject({ failure: 'spawn' });
  });

  it('secret arguments are redacted from the error', async () => {
    const err = (await spawnExec('sh', ['-c', 'exit 1', 'x', 'topsecret'], { secretArgs: [3] }).catch(
      (e: unknown) => e,
    )) as ExecError;
    expect(err.commandLine).toBe('sh -c "exit 1" x [REDACTED]');
    expect(err.message).not.toContain('topsecret');
  });
});

describe('hostExec', () => {
  const seen: { command: string; args: readonly string[]; secretArgs?: readonly number[] }[] = [];
  const fake: Exec = async (command, args, options) => {
    seen.push({ command, args, secretArgs: options?.secretArgs });
    return { code: 0, stdout: '', stderr: '' };
  };

  it('nsenter mode runs the tool in PID 1’s mount and network namespaces and shifts secret indexes', async () => {
    await hostExec(fake, 'nsenter')('iscsiadm', ['-m', 'node', '-v', 'pw'], { secretArgs: [3] });
    const call = seen.pop()!;
    expect([call.command, ...call.args]).toEqual([
      'nsenter',
      '--target',
      '1',
      '--mount',
      '--net',
      '--',
      'iscsiadm',
      '-m',
      'node',
      '-v',
      'pw',
    ]);
    expect(call.args[call.secretArgs![0]!]).toBe('pw');
  });

  it('direct mode runs the tool as is', async () => {
    await hostExec(fake, 'direct')('multipath', ['-f', 'mpatha']);
    expect(seen.pop()).toMatchObject({ command: 'multipath', args: ['-f', 'mpatha'] });
  });
});

describe('parseMountInfo', () => {
  // Lines in the kernel's mountinfo format (proc(5)): optional fields before "-", octal escapes.
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
    '501 22 7:3 / /var/lib/kubelet/plugins/kubernetes.io/csi/csi.3par/abc/globalmount rw,relatime shared:300 - ext4 /dev/loop3 rw',
    '502 22 7:3 / /var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pv\\040one/mount ro,relatime shared:300 - ext4 /dev/loop3 rw',
    '503 22 0:5 /loop4 /var/lib/kubelet/pods/p/volumeDevices/x/dev rw,nosuid - devtmpfs udev rw,size=1k',
    '504 22 7:5 / /mnt/bad rw,relatime - ext4 /dev/loop5 ro,errors=remount-ro',
  ].join('\n');

  it('parses targets (unescaped), devices, roots, options', () => {
    const m = parseMountInfo(text);
    expect(m).toHaveLength(5);
    expect(m[2]).toMatchObject({
      target: '/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pv one/mount',
      majorMinor: '7:3',
      fsType: 'ext4',
      source: '/dev/loop3',
    });
    expect(isReadOnlyMount(m[2]!)).toBe(true);
    expect(m[3]).toMatchObject({ root: '/loop4', fsType: 'devtmpfs' });
    expect(isReadOnlyMount(m[4]!)).toBe(true);
    expect(mountAt(m, '/var/lib/kubelet/plugins/kubernetes.io/csi/csi.3par/abc/globalmount/')?.majorMinor).toBe('7:3');
    expect(mountAt(m, '/nowhere')).toBeUndefined();
  });
});
