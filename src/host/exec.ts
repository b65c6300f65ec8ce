import { spawn } from 'node:child_process';
import { DriverError } from '../errors.js';

/**
 * The seam for every host command the node plugin runs (democratic-csi's injectable executor).
 * Commands are argument arrays, never shell strings, so no value from a request can become shell
 * syntax. Tests inject a fake that records calls and answers with fixtures.
 */
export type Exec = (command: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface ExecOptions {
  /** Kills the command after this long (default {@link DEFAULT_EXEC_TIMEOUT_MS}). */
  timeoutMs?: number;
  /**
   * True for commands that change nothing (blkid, blockdev --getsize64, findmnt ...). Only these
   * honour `signal`: a command that changes state is never killed halfway by a cancelled call; it
   * finishes under its own timeout and the retried call finds the result (DESIGN "Node safety").
   */
  readOnly?: boolean;
  /** The call's cancellation; ignored unless `readOnly`. */
  signal?: AbortSignal;
  /** Exit codes that count as success besides 0 (e.g. iscsiadm 15 "session exists"). */
  okCodes?: readonly number[];
  /** Indexes into `args` whose values never appear in errors or logs (CHAP secrets). */
  secretArgs?: readonly number[];
}

export interface ExecResult {
  /** The exit code (0 or one of `okCodes`). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Default timeout of a host command; node RPCs must finish inside kubelet's 2-minute deadline. */
export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

/** Output kept per stream: host tools print little, a runaway one must not fill memory. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Grace between SIGTERM and SIGKILL when a command times out. */
const KILL_GRACE_MS = 2_000;

/** Why a command failed: a non-zero exit, its own timeout, the call's cancellation, or no binary. */
export type ExecFailure = 'exit' | 'timeout' | 'cancelled' | 'spawn';

/** A host command that did not succeed; carries what the tool said, for the caller to classify. */
export class ExecError extends DriverError {
  override name = 'ExecError';
  /** The command line, with secret arguments replaced. */
  readonly commandLine: string;
  readonly failure: ExecFailure;
  /** Exit code, or null when the command was killed or never started. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(init: {
    commandLine: string;
    failure: ExecFailure;
    exitCode: number | null;
    stdout: string;
    stderr: string;
    cause?: unknown;
  }) {
    const what =
      init.failure === 'exit'
        ? `exited with ${init.exitCode}${init.stderr.trim() ? `: ${lastLine(init.stderr)}` : ''}`
        : init.failure === 'timeout'
          ? 'timed out'
          : init.failure === 'cancelled'
            ? 'was cancelled'
            : `could not be started${init.cause instanceof Error ? `: ${init.cause.message}` : ''}`;
    // A command past its own timeout is the call's deadline too (DEADLINE_EXCEEDED): the stuck
    // child is left to the kernel and the retried call finds what it did.
    super(
      init.failure === 'cancelled' || init.failure === 'timeout' ? 'cancelled' : 'internal',
      `${init.commandLine} ${what}`,
      {
        cause: init.cause,
        details: { command: init.commandLine, exitCode: init.exitCode },
      },
    );
    this.commandLine = init.commandLine;
    this.failure = init.failure;
    this.exitCode = init.exitCode;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1]!.slice(0, 300);
}

/** Renders a command line for messages, replacing secret arguments. */
export function commandLine(command: string, args: readonly string[], secretArgs: readonly number[] = []): string {
  return [
    command,
    ...args.map((a, i) =>
      secretArgs.includes(i) ? '[REDACTED]' : /[\s"'\\]/.test(a) || a === '' ? JSON.stringify(a) : a,
    ),
  ].join(' ');
}

/** The real executor: spawns the command directly (no shell) with stdin closed. */
export const spawnExec: Exec = (command, args, options = {}) => {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const line = commandLine(command, args, options.secretArgs);
  const signal = options.readOnly ? options.signal : undefined;
  return new Promise<ExecResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ExecError({ commandLine: line, failure: 'cancelled', exitCode: null, stdout: '', stderr: '' }));
      return;
    }
    // stdin is /dev/null: a tool that asks "proceed anyway?" (mke2fs on an existing filesystem) reads EOF and stops.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < MAX_OUTPUT_BYTES) out.push(b);
      outBytes += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errBytes < MAX_OUTPUT_BYTES) err.push(b);
      errBytes += b.length;
    });
    let ended: ExecFailure | undefined;
    let settled = false;
    const kill = (why: ExecFailure): void => {
      if (ended) return;
      ended = why;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
      if (why !== 'timeout') return;
      // A child in uninterruptible sleep (I/O queued on a dead multipath map: D state) ignores
      // even SIGKILL, and 'close' never comes. The call fails now; the child is left to the
      // kernel, which ends it when the I/O completes or fails.
      settled = true;
      reject(
        new ExecError({
          commandLine: line,
          failure: 'timeout',
          exitCode: null,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = (): void => kill('cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      // A command that never started reports 'error' and then 'close' with a negative errno.
      if (spawnError && !ended) {
        reject(
          new ExecError({ commandLine: line, failure: 'spawn', exitCode: null, stdout, stderr, cause: spawnError }),
        );
      } else if (ended) {
        reject(new ExecError({ commandLine: line, failure: ended, exitCode: code, stdout, stderr }));
      } else if (code === 0 || (code !== null && options.okCodes?.includes(code))) {
        resolve({ code, stdout, stderr });
      } else {
        reject(new ExecError({ commandLine: line, failure: 'exit', exitCode: code, stdout, stderr }));
      }
    });
  });
};

/** How the host's own storage tools are reached (DESIGN "Node safety"). */
export type HostExecMode = 'nsenter' | 'direct';

/**
 * The prefix that runs a command in the host's mount and network namespaces, through PID 1
 * (the pod runs with hostPID): the host's iscsiadm talks to the host's iscsid with the host's
 * /etc/iscsi, and the host's multipath to the host's multipathd.
 */
export const NSENTER_PREFIX = ['nsenter', '--target', '1', '--mount', '--net', '--'] as const;

/**
 * Runs the host's storage tools (iscsiadm, multipath, multipathd): through `nsenter` in
 * production, directly in tests or when the image's tools are the host's. Everything else (mount,
 * mkfs, blkid, losetup ...) runs in the plugin's own namespaces, which share /dev and the kubelet
 * directory with the host.
 */
export function hostExec(exec: Exec, mode: HostExecMode): Exec {
  if (mode === 'direct') return exec;
  return (command, args, options = {}) =>
    exec(NSENTER_PREFIX[0], [...NSENTER_PREFIX.slice(1), command, ...args], {
      ...options,
      // Secret indexes shift by the prefix length (the prefix minus the "nsenter" command itself).
      secretArgs: options.secretArgs?.map((i) => i + NSENTER_PREFIX.length),
    });
}
