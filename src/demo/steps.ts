import type { RequestLogEntry, RunningSimulator } from '../simulator/index.js';

/** The outcome of one demo step. */
export interface StepResult {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  ms: number;
  /** WSAPI requests the array served during the step. */
  wsapi: RequestLogEntry[];
  detail: string;
}

const COLOR = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
const paint = (code: string, s: string): string => (COLOR ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string): string => paint('32', s);
export const red = (s: string): string => paint('31', s);
export const yellow = (s: string): string => paint('33', s);
export const dim = (s: string): string => paint('2', s);
export const bold = (s: string): string => paint('1', s);

/** "POST volumes ×1, GET vluns ×2": WSAPI requests grouped by method and top-level resource. */
export function summarizeWsapi(requests: readonly RequestLogEntry[]): string {
  if (requests.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const r of requests) {
    const resource = r.path.replace(/^\/api\/v1\/?/, '').split('/')[0] || 'api';
    const key = `${r.method} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}

/** Runs steps in order, printing each outcome, its duration and the WSAPI calls it made. */
export class StepRunner {
  readonly results: StepResult[] = [];
  private interrupted: string | undefined;

  constructor(private readonly sim: RunningSimulator) {}

  /** After this, only `always` steps (the teardown) still run; the others are skipped. */
  interrupt(reason: string): void {
    this.interrupted ??= reason;
  }

  /**
   * Runs `fn` as a step; its return value is the detail line. Never throws. After an interrupt,
   * only steps marked `always` (unpublish, unstage, delete, audit) run, so nothing is left behind.
   */
  async run(name: string, fn: () => Promise<string | undefined>, options: { always?: boolean } = {}): Promise<boolean> {
    if (this.interrupted && !options.always) {
      this.skip(name, this.interrupted);
      return false;
    }
    const from = this.sim.requests.length;
    const started = performance.now();
    let status: StepResult['status'] = 'ok';
    let detail = '';
    try {
      detail = (await fn()) ?? '';
    } catch (err) {
      status = 'failed';
      detail = err instanceof Error ? err.message : String(err);
    }
    const result: StepResult = {
      name,
      status,
      ms: performance.now() - started,
      wsapi: this.sim.requests.slice(from),
      detail,
    };
    this.results.push(result);
    this.print(result);
    return status === 'ok';
  }

  /** Records a step that was not run, with the reason. */
  skip(name: string, reason: string): void {
    const result: StepResult = { name, status: 'skipped', ms: 0, wsapi: [], detail: reason };
    this.results.push(result);
    this.print(result);
  }

  private print(r: StepResult): void {
    const mark = r.status === 'ok' ? green('✔') : r.status === 'failed' ? red('✘') : yellow('–');
    const time =
      r.status === 'skipped' ? '' : dim(`${formatMs(r.ms)}, WSAPI ${r.wsapi.length}: ${summarizeWsapi(r.wsapi)}`);
    process.stdout.write(`${mark} ${r.name}  ${time}\n`);
    if (r.detail)
      process.stdout.write(
        `    ${r.status === 'failed' ? red(r.detail) : r.status === 'skipped' ? yellow(r.detail) : r.detail}\n`,
      );
  }

  get failed(): number {
    return this.results.filter((r) => r.status === 'failed').length;
  }

  /** The closing table: one row per step. */
  table(): string {
    const rows = this.results.map((r) => [
      r.name,
      r.status.toUpperCase(),
      r.status === 'skipped' ? '' : formatMs(r.ms),
      r.status === 'skipped' ? '' : String(r.wsapi.length),
    ]);
    const header = ['step', 'outcome', 'time', 'WSAPI'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string =>
      cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
  }
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

/** A one-line progress bar, redrawn in place on a terminal. */
export function progressBar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}
