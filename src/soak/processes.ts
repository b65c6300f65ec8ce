/**
 * Driver processes of the soak: each one is `node dist/cli/main.js serve …` in its own process
 * group, so a SIGKILL takes its children (mkfs, mount) with it, as a container runtime would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { CsiClient } from '../csi/client.js';

export interface DriverProcessOptions {
  /** A short label for logs ("a", "b"). */
  label: string;
  /** Path of dist/cli/main.js. */
  cliPath: string;
  /** Arguments after `serve`. */
  args: string[];
  /** unix://… endpoint the process serves. */
  endpoint: string;
  /** File that collects the process's stdout and stderr (appended across restarts). */
  logFile: string;
}

/** Process groups still running: killed if the soak itself exits early. */
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export class DriverProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly out: WriteStream;
  /** SIGKILLs delivered. */
  kills = 0;
  /** Exits nobody asked for (a crash): code or signal. */
  readonly crashes: string[] = [];
  private expectExit = false;

  constructor(readonly options: DriverProcessOptions) {
    this.out = createWriteStream(options.logFile, { flags: 'a' });
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the process and waits until Probe answers ready (bounded). */
  async start(timeoutMs = 30_000): Promise<void> {
    if (!existsSync(this.options.cliPath))
      throw new Error(`${this.options.cliPath} is missing: run npm run build first`);
    this.expectExit = false;
    const child = spawn(process.execPath, [this.options.cliPath, 'serve', ...this.options.args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    if (child.pid) live.add(child.pid);
    child.stdout?.pipe(this.out, { end: false });
    child.stderr?.pipe(this.out, { end: false });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid) live.delete(child.pid);
        if (!this.expectExit)
          this.crashes.push(`process ${this.options.label} exited by itself (code ${code}, signal ${signal})`);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    await waitReady(this.options.endpoint, timeoutMs, () => this.child === child);
  }

  /** SIGKILLs the whole process group and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.expectExit = true;
    this.kills++;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await this.exited;
  }

  /** SIGTERM (graceful: in-flight calls finish, sessions are logged out), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.expectExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  close(): void {
    this.out.end();
  }
}

/** Polls Probe until it says ready, the process dies, or the time is up. */
async function waitReady(endpoint: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`the driver at ${endpoint} exited before it was ready`);
    const client = new CsiClient(endpoint);
    try {
      const res = await client.call<{ ready?: { value?: boolean } | null }>('Probe', {}, { timeoutMs: 1000 });
      if (res.ready?.value !== false) return;
    } catch {
      // not listening yet
    } finally {
      client.close();
    }
    if (Date.now() > end) throw new Error(`the driver at ${endpoint} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
