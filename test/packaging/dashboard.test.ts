/**
 * The Grafana dashboard the chart ships (issue 19, item 10): valid JSON, rendered into its
 * ConfigMap unchanged, and every query names a metric that a running driver exports: the test
 * starts `3par-csi serve --simulator` with metrics on, makes it create, clone (an array copy
 * task) and delete volumes, scrapes /metrics and checks each name the queries use.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { CsiTestClient } from '../helpers/grpc.js';
import { CHART_DIR, find, fixture, helmMissing, render, validateAll } from './render.js';
import { describeUnless } from '../helpers/skip.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const DASHBOARD = join(CHART_DIR, 'dashboards', '3par-csi.json');

interface Panel {
  title: string;
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { query?: unknown }[] };
};
const queries = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => typeof v.query === 'string' && v.query.includes('('))
    .map((v) => ({ panel: 'variable', expr: v.query as string })),
];
/** Metric names in a PromQL expression: the driver's, and the standard process/Node.js ones. */
const metricNames = (expr: string): string[] =>
  [...expr.matchAll(/\b((?:threepar_csi|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);

describe('the Grafana dashboard', () => {
  it('is valid JSON with panels for RPCs, WSAPI, sessions, backends and array tasks, every query naming a metric', () => {
    expect(dashboard.title).toBe('3par-csi');
    expect(queries.length).toBeGreaterThan(10);
    for (const q of queries) expect([q.panel, metricNames(q.expr).length > 0]).toEqual([q.panel, true]);
    const all = queries.map((q) => q.expr).join('\n');
    for (const name of [
      'threepar_csi_rpc_total',
      'threepar_csi_rpc_duration_seconds_bucket',
      'threepar_csi_wsapi_requests_total',
      'threepar_csi_wsapi_session_keys',
      'threepar_csi_backend_up',
      'threepar_csi_array_tasks',
    ])
      expect(all).toContain(name);
  });
});

describeUnless(helmMissing)('the dashboard ConfigMap', () => {
  it('renders only when asked, for Grafana’s sidecar, holding the file unchanged', () => {
    expect(() => find(render([fixture('minimal.yaml')]), 'ConfigMap')).toThrow();
    const objects = render([fixture('minimal.yaml')], { set: ['metrics.grafanaDashboard.enabled=true'] });
    expect(validateAll(objects)).toEqual([]);
    const cm = find<{ data: Record<string, string>; metadata: { labels: Record<string, string> } }>(
      objects,
      'ConfigMap',
      '3par-csi-grafana-dashboard',
    );
    expect(cm.metadata.labels['grafana_dashboard']).toBe('1');
    expect(JSON.parse(cm.data['3par-csi.json']!)).toEqual(dashboard);
  });
});

const built = existsSync(BIN);
describeUnless(built ? undefined : 'dist/ is not built (npm run build)')(
  'every dashboard query against a scrape of the running driver',
  () => {
    let dir: string;
    let child: ChildProcess;
    let scrape = '';

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), '3par-dash-'));
      const sock = join(dir, 'csi.sock');
      child = spawn(
        process.execPath,
        [
          BIN,
          'serve',
          '--simulator',
          '--mode',
          'controller',
          '--endpoint',
          `unix://${sock}`,
          '--metrics-address',
          '127.0.0.1:0',
          '--log-format',
          'json',
          '--log-level',
          'info',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      // The metrics URL and readiness come from the driver's own log lines, not from waiting.
      let url = '';
      for await (const line of createInterface({ input: child.stdout! })) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg: string; url?: string };
        if (entry.msg === 'metrics served') url = entry.url!;
        if (entry.msg === 'driver ready') break;
      }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const client = new CsiTestClient('Controller', `unix://${sock}`);
      try {
        const cap = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
        const src = await client.call<{ volume: { volume_id: string } }>('CreateVolume', {
          name: 'pvc-dash',
          capacity_range: { required_bytes: String(1024 * 1024 * 1024) },
          volume_capabilities: [cap],
        });
        // Larger than its source: the driver waits for the array's copy task, then grows it.
        const clone = await client.call<{ volume: { volume_id: string } }>('CreateVolume', {
          name: 'pvc-dash-clone',
          capacity_range: { required_bytes: String(2 * 1024 * 1024 * 1024) },
          volume_capabilities: [cap],
          volume_content_source: { volume: { volume_id: src.volume.volume_id } },
        });
        await client.call('DeleteVolume', { volume_id: 'sim/not-there' });
        await client.call('DeleteVolume', { volume_id: clone.volume.volume_id });
        await client.call('DeleteVolume', { volume_id: src.volume.volume_id });
      } finally {
        client.close();
      }
      scrape = await (await fetch(url)).text();
    });

    afterAll(async () => {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('exports every metric a dashboard query names, with samples', () => {
      const exported = new Set(
        scrape
          .split('\n')
          .filter((l) => l !== '' && !l.startsWith('#'))
          .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
      );
      const missing = queries.flatMap((q) =>
        metricNames(q.expr)
          .filter((n) => !exported.has(n))
          .map((n) => `${q.panel}: ${n}`),
      );
      expect(missing).toEqual([]);
      expect(scrape).toMatch(/^threepar_csi_array_tasks\{backend="sim",type="copy",state="(done|active)"\} 1$/m);
      expect(scrape).toMatch(/^threepar_csi_rpc_total\{method="CreateVolume",code="OK"\} 2$/m);
    });
  },
);
