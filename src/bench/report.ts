/**
 * The benchmark's output: figures per phase, the targets of issue 9 with a verdict each, a
 * readable table, and the JSON object (`--json`, last line of stdout).
 */
import type { BenchOptions } from './driver.js';
import type { CloneFigure } from './workloads.js';
import { percentile, shapeDiff, type PhaseResult } from './stats.js';
import { benchProfile } from './harness.js';

/** Figures measured outside the phases. */
export interface Extra {
  startupMs: number;
  /** A bare `node -e 0`, spawn to exit, on this machine now. */
  nodeBootMs: number;
  /** Driver RSS right after its first Probe. */
  rssStartMiB: number;
  /** Driver VmHWM (peak RSS since start), MiB, after each W1 run and at the end. */
  rss: Record<string, number>;
  cpuSecPer1000Rpc: Record<string, number>;
  /** Driver CPU at its first Probe answered, s. */
  startupCpuSec?: number;
  /** Driver RSS now (VmRSS, not the peak) after a workload, MiB. */
  rssNow?: Record<string, number>;
  w4CpuMsPerListing?: number;
  nodeSkipped: string | undefined;
  clones: CloneFigure[];
  pollIntervalMs?: number;
  listings: { ms: number; entries: number; pages: number; wsapi: number }[];
  seedSec: Record<string, number>;
  /** Driver logins per backend for the whole run. */
  driverLogins?: Record<string, number>;
  loadStart: number;
  loadEnd: number;
  started: Date;
  machine?: string;
  options: BenchOptions;
}

interface Row {
  workload: string;
  label: string;
  calls: number;
  errors: number;
  wsapiPerCall: number;
  bytesPerCall: number;
  p50: number;
  p99: number;
  elapsedSec: number;
  floorSec: number;
  /** Driver CPU per call, ms (the figure that does not depend on the machine's other load). */
  cpuMsPerCall: number;
  baselineP50?: number;
  ratio?: number;
  baselineSameRequests?: string;
}

interface Target {
  name: string;
  target: string;
  measured: string;
  ok: boolean;
}

export interface Report {
  rows: Row[];
  targets: Target[];
  extra: Extra;
  json: Record<string, unknown> & { errors: number };
}

const round = (n: number, d = 2): number => (Number.isFinite(n) ? Number(n.toFixed(d)) : n);

/** "ControllerPublishVolume (new host)" → ["ControllerPublishVolume", "newHost"]. */
function rpcKind(label: string): [string, string] {
  const m = /^(\w+)(?: \((.+)\))?$/.exec(label);
  if (!m) return [label, 'first'];
  const kind = (m[2] ?? 'first')
    .replace(/[^a-zA-Z0-9]+(.)/g, (_, c: string) => c.toUpperCase())
    .replace(/[^a-zA-Z0-9]/g, '');
  return [m[1]!, kind];
}

/** One row per driver phase, beside the baseline's phase of the same workload and label when there is one. */
function buildRows(phases: PhaseResult[], o: BenchOptions): Row[] {
  const rows: Row[] = [];
  for (const p of phases.filter((x) => x.who === 'driver')) {
    const base = phases.find((x) => x.who === 'baseline' && x.workload === p.workload && x.label === p.label);
    const row: Row = {
      workload: p.workload,
      label: p.label,
      calls: p.calls,
      errors: p.errors,
      wsapiPerCall: p.wsapi / Math.max(1, p.calls),
      bytesPerCall: p.bytes / Math.max(1, p.calls),
      p50: percentile(p.latencies, 50),
      p99: percentile(p.latencies, 99),
      elapsedSec: p.elapsedSec,
      // The theoretical floor: requests on the critical path × L ÷ sessions.
      floorSec: (p.wsapi * o.latencyMs) / 1000 / o.sessionPool,
      cpuMsPerCall: (p.driverCpuSec * 1000) / Math.max(1, p.calls),
    };
    if (base) {
      row.baselineP50 = percentile(base.latencies, 50);
      row.ratio = row.p50 / row.baselineP50;
      row.baselineSameRequests = shapeDiff(p, base);
      row.errors += base.errors;
    }
    rows.push(row);
  }
  return rows;
}

type Figures = Record<string, Record<string, Record<string, number>>>;

/** The per-call figures of the rows, per workload (`byWorkload`) and at the JSON's top level. */
interface RowFigures {
  byWorkload: Figures;
  top: Figures;
  p50Ms: Record<string, number>;
  p99Ms: Record<string, number>;
  ratio: Record<string, number>;
  cpuMsPerRpc: Record<string, number>;
}

function rowFigures(rows: Row[]): RowFigures {
  const f: RowFigures = {
    byWorkload: {},
    top: { wsapiPerRpc: {}, bytesPerRpc: {} },
    p50Ms: {},
    p99Ms: {},
    ratio: {},
    cpuMsPerRpc: {},
  };
  for (const r of rows) {
    const w = (f.byWorkload[r.workload] ??= {
      wsapiPerRpc: {},
      bytesPerRpc: {},
      p50Ms: {},
      p99Ms: {},
      baselineP50Ms: {},
      ratioToBaselineP50: {},
    });
    w['wsapiPerRpc']![r.label] = round(r.wsapiPerCall);
    w['bytesPerRpc']![r.label] = Math.round(r.bytesPerCall);
    w['p50Ms']![r.label] = round(r.p50, 1);
    w['p99Ms']![r.label] = round(r.p99, 1);
    (w['driverCpuMsPerCall'] ??= {})[r.label] = round(r.cpuMsPerCall, 2);
    if (r.baselineP50 !== undefined) {
      w['baselineP50Ms']![r.label] = round(r.baselineP50, 1);
      w['ratioToBaselineP50']![r.label] = round(r.ratio!, 3);
    }
    // Top level: W1 on the empty array, and W2's snapshot calls, by RPC and kind of call.
    if (r.workload === 'W1' || (r.workload === 'W2' && !r.label.includes('sources'))) {
      const [rpc, kind] = rpcKind(r.label);
      (f.top['wsapiPerRpc']![rpc] ??= {})[kind] = round(r.wsapiPerCall);
      (f.top['bytesPerRpc']![rpc] ??= {})[kind] = Math.round(r.bytesPerCall);
      f.p50Ms[r.label] = round(r.p50, 1);
      f.p99Ms[r.label] = round(r.p99, 1);
      if (r.ratio !== undefined) f.ratio[r.label] = round(r.ratio, 3);
      f.cpuMsPerRpc[r.label] = round(r.cpuMsPerCall, 2);
    }
  }
  return f;
}

/** Calls per second of each workload over its phases, and W4's volumes listed per second. */
function throughput(rows: Row[], listing: Extra['listings']): Record<string, number> {
  const throughputPerSec: Record<string, number> = {};
  for (const w of new Set(rows.map((r) => r.workload))) {
    const ws = rows.filter((r) => r.workload === w);
    throughputPerSec[w] = round(ws.reduce((n, r) => n + r.calls, 0) / ws.reduce((n, r) => n + r.elapsedSec, 0), 1);
  }
  if (listing.length > 0) throughputPerSec['W4'] = round(listing[0]!.entries / (listing[0]!.ms / 1000), 0);
  return throughputPerSec;
}

type CloneSummary = Record<
  'max' | 'mean' | 'taskSecMean' | 'readyLagMsMax' | 'pollsPerSecPerCloneMax' | 'pollsPerCloneMean' | 'clones',
  number
>;

/** W3's clones: time to ready against the array's task time, and the task polling rate; null without clones. */
function cloneSummary(clones: CloneFigure[]): CloneSummary | null {
  if (clones.length === 0) return null;
  const readyRatios = clones.map((c) => c.readyMs / c.taskMs);
  const pollRates = clones.map((c) => c.pollsPerSec);
  return {
    max: round(Math.max(...readyRatios), 3),
    mean: round(readyRatios.reduce((a, b) => a + b, 0) / readyRatios.length, 3),
    taskSecMean: round(clones.reduce((n, c) => n + c.taskMs, 0) / clones.length / 1000, 1),
    readyLagMsMax: Math.round(Math.max(...clones.map((c) => c.readyMs - c.taskMs))),
    pollsPerSecPerCloneMax: round(Math.max(...pollRates), 2),
    pollsPerCloneMean: round(clones.reduce((n, c) => n + c.polls, 0) / clones.length, 1),
    clones: clones.length,
  };
}

/** What the targets are judged on besides the rows. */
interface TargetInputs {
  errors: number;
  clones: CloneSummary | null;
  rssW1: number;
}

/** The targets of issue 9, each with its measured value and a verdict; a target with nothing measured is left out. */
function buildTargets(rows: Row[], extra: Extra, m: TargetInputs): Target[] {
  const o = extra.options;
  const listing = extra.listings;
  const targets: Target[] = [];
  const t = (
    name: string,
    target: string,
    measured: number | undefined,
    ok: (v: number) => boolean,
    unit = '',
  ): void => {
    if (measured === undefined || Number.isNaN(measured)) return;
    targets.push({ name, target, measured: `${round(measured)}${unit}`, ok: ok(measured) });
  };
  const w1 = (label: string, w = 'W1'): Row | undefined => findRow(rows, w, label);
  for (const w of ['W1', 'W1-20k']) {
    t(`${w} CreateVolume requests`, '≤ 2', w1('CreateVolume', w)?.wsapiPerCall, (v) => v <= 2);
    t(`${w} CreateVolume repeat requests`, '≤ 2', w1('CreateVolume (repeat)', w)?.wsapiPerCall, (v) => v <= 2);
    t(
      `${w} ControllerPublish (host exists) requests`,
      '≤ 3',
      w1('ControllerPublishVolume', w)?.wsapiPerCall,
      (v) => v <= 3,
    );
    t(`${w} ControllerUnpublish requests`, '≤ 3', w1('ControllerUnpublishVolume', w)?.wsapiPerCall, (v) => v <= 3);
    t(`${w} DeleteVolume requests`, '≤ 2', w1('DeleteVolume', w)?.wsapiPerCall, (v) => v <= 2);
  }
  t('CreateSnapshot requests', '≤ 2', findRow(rows, 'W2', 'CreateSnapshot')?.wsapiPerCall, (v) => v <= 2);
  for (const [backend, n] of Object.entries(extra.driverLogins ?? {}))
    t(`session logins, backend ${backend}`, `≤ ${o.sessionPool} (pool size)`, n, (v) => v <= o.sessionPool);
  for (const r of rows.filter((x) => x.ratio !== undefined)) {
    t(
      `${r.workload} ${r.label} p50 vs baseline`,
      '≤ 1.10 × baseline + 2 ms',
      r.p50,
      (v) => v <= 1.1 * r.baselineP50! + 2,
      ` ms (baseline ${round(r.baselineP50!, 1)} ms)`,
    );
  }
  t('errors', '0', m.errors, (v) => v === 0);
  if (m.clones) {
    const poll = extra.pollIntervalMs ?? 1000;
    const worst = Math.max(...extra.clones.map((c) => c.readyMs - (1.1 * c.taskMs + poll)));
    t('clones ready (worst: ready − (1.1 × task + one poll))', '≤ 0 ms', worst, (v) => v <= 0, ' ms');
    t('task polling rate per clone, polls/s (max)', '≤ 1', m.clones.pollsPerSecPerCloneMax, (v) => v <= 1);
  }
  if (listing.length > 0) {
    t(
      `ListVolumes of ${listing[0]!.entries} volumes, pages of ${o.pageSize} (slowest run)`,
      '< 2000 ms',
      Math.max(...listing.map((l) => l.ms)),
      (v) => v < 2000,
      ' ms',
    );
    t(
      'WSAPI requests per listing (3 per backend with volumes, 1 per other)',
      '≤ 4',
      Math.max(...listing.map((l) => l.wsapi)),
      (v) => v <= 4,
    );
  }
  t('driver peak RSS over W1', '< 150 MiB', m.rssW1, (v) => v < 150, ' MiB');
  t('start-up to first Probe', '< 1000 ms', extra.startupMs, (v) => v < 1000, ' ms');
  return targets;
}

function findRow(rows: Row[], workload: string, label: string): Row | undefined {
  return rows.find((r) => r.workload === workload && r.label === label);
}

/** The run's conditions: when, where, the simulator's profile and latency model, the driver's limits. */
function runConditions(extra: Extra): Record<string, unknown> {
  const o = extra.options;
  return {
    date: extra.started.toISOString(),
    machine: extra.machine ?? '',
    loadAverage1m: [round(extra.loadStart), round(extra.loadEnd)],
    simProfile: benchProfile(),
    latencyMs: o.latencyMs,
    perMemberUs: o.perMemberUs,
    ...(o.https && { https: { tlsMaxVersion: o.tlsMaxVersion, tlsResumption: o.tlsResumption } }),
    sessionPool: o.sessionPool,
    maxInFlight: o.maxInFlight,
    concurrency: o.concurrency,
    quick: o.quick,
  };
}

export function buildReport(phases: PhaseResult[], extra: Extra): Report {
  const o = extra.options;
  const rows = buildRows(phases, o);
  const errors = phases.reduce((n, p) => n + p.errors, 0);
  const { byWorkload, top, p50Ms, p99Ms, ratio, cpuMsPerRpc } = rowFigures(rows);
  const listing = extra.listings;
  const cloneReadyRatio = cloneSummary(extra.clones);
  const rssW1 = extra.rss['W1'] ?? extra.rss['W1-20k'] ?? NaN;
  const targets = buildTargets(rows, extra, { errors, clones: cloneReadyRatio, rssW1 });
  const publish20k = findRow(rows, 'W1-20k', 'ControllerPublishVolume');

  const json = {
    wsapiPerRpc: top['wsapiPerRpc'],
    bytesPerRpc: top['bytesPerRpc'],
    p50Ms,
    p99Ms,
    ratioToBaselineP50: ratio,
    /** Driver CPU (user + system, from /proc) per call of each W1 and W2 phase, ms: the load-independent figure. */
    cpuMsPerRpc,
    /** Publish at the --vluns scale point (W1-20k): driver CPU per ControllerPublishVolume beside N foreign VLUNs. */
    publishAtVluns: publish20k
      ? { vluns: o.vluns, cpuMsPerRpc: round(publish20k.cpuMsPerCall, 2), wsapiPerRpc: round(publish20k.wsapiPerCall) }
      : null,
    throughputPerSec: throughput(rows, listing),
    cloneReadyRatio,
    rssPeakMiB: round(rssW1, 1),
    rssEndMiB: round(extra.rss['end'] ?? NaN, 1),
    startupMs: round(extra.startupMs, 1),
    /** Driver CPU from spawn to the first Probe answered, ms (10 ms resolution). */
    startupCpuMs: round((extra.startupCpuSec ?? NaN) * 1000, 0),
    /** Driver RSS now (not the peak) after W4's listings. */
    rssAfterW4MiB: round(extra.rssNow?.['W4'] ?? NaN, 1),
    /** Driver CPU per W4 listing (all its pages), ms. */
    cpuMsPerListing: round(extra.w4CpuMsPerListing ?? NaN, 1),
    nodeBootMs: round(extra.nodeBootMs, 1),
    rssStartMiB: round(extra.rssStartMiB, 1),
    cpuSecPer1000Rpc: Object.fromEntries(Object.entries(extra.cpuSecPer1000Rpc).map(([k, v]) => [k, round(v, 2)])),
    driverLogins: extra.driverLogins ?? {},
    listings: listing.map((l) => ({ ms: round(l.ms, 1), entries: l.entries, pages: l.pages, wsapi: l.wsapi })),
    node: extra.nodeSkipped ? { skipped: extra.nodeSkipped } : (byWorkload['node'] ?? {}),
    byWorkload,
    targets: targets.map((x) => ({ ...x })),
    errors,
    errorSamples: [...new Set(phases.flatMap((p) => p.errorSamples))].slice(0, 5),
    run: runConditions(extra),
  };
  return { rows, targets, extra, json };
}

export function formatTable(r: Report): string {
  const o = r.extra.options;
  const lines: string[] = [];
  const head = [
    'call',
    'n',
    'err',
    'WSAPI/call',
    'bytes/call',
    'p50 ms',
    'p99 ms',
    'base p50',
    'ratio',
    'time s',
    'floor s',
    'CPU ms',
  ];
  const widths = [44, 6, 4, 10, 10, 8, 8, 9, 6, 7, 7, 7];
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
  lines.push(
    `3par-csi bench — firmware profile ${benchProfile()}; L ${o.latencyMs} ms per request + ${o.perMemberUs} µs per list member; pool ${o.sessionPool} sessions, ${o.maxInFlight} in flight; ${o.concurrency} client workers${o.https ? `; HTTPS (TLS ≤ ${o.tlsMaxVersion}, resumption ${o.tlsResumption ? 'on' : 'refused'})` : ''}${o.quick ? ' (--quick sizes)' : ''}`,
  );
  lines.push(
    `machine: ${r.extra.machine ?? ''}; load average ${r.extra.loadStart.toFixed(1)} → ${r.extra.loadEnd.toFixed(1)} (a shared machine: wall-clock figures vary)`,
  );
  for (const w of [...new Set(r.rows.map((x) => x.workload))]) {
    lines.push('', `${w}`, fmt(head));
    for (const x of r.rows.filter((y) => y.workload === w)) {
      const f = (n: number | undefined, d = 1): string => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
      lines.push(
        fmt([
          x.label,
          String(x.calls),
          String(x.errors),
          f(x.wsapiPerCall, 2),
          f(x.bytesPerCall, 0),
          f(x.p50),
          f(x.p99),
          f(x.baselineP50),
          f(x.ratio, 2),
          f(x.elapsedSec),
          f(x.floorSec),
          f(x.cpuMsPerCall),
        ]),
      );
      if (x.baselineSameRequests) lines.push(`    baseline requests differ: ${x.baselineSameRequests}`);
    }
  }
  if (r.extra.clones.length > 0) {
    const c = r.json['cloneReadyRatio'] as Record<string, number>;
    lines.push(
      '',
      `W3 clones: task ${c['taskSecMean']} s on average; ready/task ratio max ${c['max']} (mean ${c['mean']}); worst lag ${c['readyLagMsMax']} ms; polling rate per clone ≤ ${c['pollsPerSecPerCloneMax']} polls/s, ${c['pollsPerCloneMean']} polls per clone on average`,
    );
  }
  for (const l of r.extra.listings)
    lines.push(
      `W4 listing: ${l.entries} volumes in ${l.pages} pages, ${l.ms.toFixed(0)} ms, ${l.wsapi} WSAPI requests`,
    );
  if (r.extra.nodeSkipped) lines.push('', `node: skipped — ${r.extra.nodeSkipped}`);
  for (const [what, sec] of Object.entries(r.extra.seedSec))
    lines.push(`set-up (latency model off, not measured): ${what} seeded in ${sec.toFixed(1)} s`);
  lines.push(
    '',
    `driver: start-up to first Probe ${r.extra.startupMs.toFixed(0)} ms (a bare node -e 0: ${r.extra.nodeBootMs.toFixed(0)} ms); RSS ${r.extra.rssStartMiB.toFixed(1)} MiB after start-up; peak RSS ${Object.entries(
      r.extra.rss,
    )
      .map(([k, v]) => `${v.toFixed(1)} MiB after ${k}`)
      .join(', ')}; CPU ${Object.entries(r.extra.cpuSecPer1000Rpc)
      .map(([k, v]) => `${v.toFixed(2)} s per 1,000 RPCs in ${k}`)
      .join(', ')}; logins ${JSON.stringify(r.extra.driverLogins ?? {})}`,
  );
  lines.push('', 'targets');
  for (const t of r.targets) lines.push(`  ${t.ok ? 'ok   ' : 'SHORT'} ${t.name}: ${t.measured} (target ${t.target})`);
  return lines.join('\n') + '\n';
}
