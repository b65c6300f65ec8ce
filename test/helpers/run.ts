/**
 * Runs a child process to its end, without a time limit on the work itself: a loaded CI machine
 * may be many times slower than a laptop. The only limit is a safety net against a hung child;
 * when it fires the child is killed and the error says it was a timeout, with what the child
 * printed so far, so it is never mistaken for a wrong answer.
 */
import { spawn } from 'node:child_process';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The safety net fired: the child ran longer than `ms` and was killed. */
export class ChildTimeoutError extends Error {
  override name = 'ChildTimeoutError';
  constructor(
    readonly ms: number,
    readonly partial: Finished,
  ) {
    super(
      `timed out: still running after the ${ms / 1000} s safety net, killed; last output:\n${(partial.stdout + partial.stderr).slice(-2000)}`,
    );
  }
}

/** Runs `node args…` (this Node binary) and resolves when it exits. */
export function runNode(args: string[], options: { safetyNetMs: number; env?: NodeJS.ProcessEnv }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (b: Buffer) => (out.stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out.stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new ChildTimeoutError(options.safetyNetMs, { code: null, signal: 'SIGKILL', ...out }));
    }, options.safetyNetMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ...out });
    });
  });
}
