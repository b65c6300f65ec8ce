import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Metrics } from '../../src/metrics.js';
import * as params from '../../src/csi/params.js';
import { PARAMETERS_DOC, REPO_ROOT, renderParametersDoc, type ParameterDoc } from '../../scripts/gen-deploy-lib.mjs';
import { CHART_DIR } from './render.js';

const DOCS = join(REPO_ROOT, 'docs');
const doc = (name: string): string => readFileSync(join(DOCS, name), 'utf8');
/** Descriptor lists that later issues add to src/csi/params.ts, when they exist. */
const optional = (name: string): readonly ParameterDoc[] | undefined =>
  (params as Record<string, unknown>)[name] as readonly ParameterDoc[] | undefined;

describe('docs', () => {
  it('docs/parameters.md is generated from the parsers’ descriptors (run `npm run gen:deploy`)', () => {
    const expected = renderParametersDoc({
      storageClass: params.STORAGE_CLASS_PARAMETERS,
      snapshotClass: params.SNAPSHOT_CLASS_PARAMETERS,
      groupSnapshotClass: optional('GROUP_SNAPSHOT_CLASS_PARAMETERS'),
      mutable: optional('MUTABLE_PARAMETERS'),
      fsCreateOptions: params.FS_CREATE_OPTIONS,
    });
    expect(readFileSync(PARAMETERS_DOC, 'utf8')).toBe(expected);
    for (const p of params.STORAGE_CLASS_PARAMETERS) expect(expected).toContain(`| \`${p.key}\` |`);
  });

  it('troubleshooting.md explains every metric the driver exports, and only those', async () => {
    const registered = (await new Metrics({ processMetrics: false }).registry.getMetricsAsJSON())
      .map((m) => m.name)
      .sort();
    const text = doc('troubleshooting.md');
    const documented = [...new Set([...text.matchAll(/`(threepar_csi_[a-z_]+)`/g)].map((m) => m[1]!))].filter(
      (n) => !n.endsWith('_'),
    );
    for (const name of registered) expect([name, text.includes(`| \`${name}\` |`)]).toEqual([name, true]);
    for (const name of documented) expect(registered).toContain(name);
  });

  it('the log messages troubleshooting.md quotes are messages the driver logs', () => {
    const text = doc('troubleshooting.md');
    const start = text.indexOf('Milestones in between');
    const paragraph = text.slice(start, text.indexOf('\n\n', start));
    const quoted = [...paragraph.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    expect(quoted.length).toBeGreaterThan(10);
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) sources.push(readFileSync(join(dir, e.name), 'utf8'));
      }
    };
    walk(join(REPO_ROOT, 'src'));
    const all = sources.join('\n');
    for (const message of [...quoted, 'done', 'failed', 'unexpected error'])
      expect([message, all.includes(`'${message}'`)]).toEqual([message, true]);
  });

  it('install.md names the sidecar versions the chart pins', () => {
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
      sidecars: Record<string, { image?: string }>;
    };
    const text = doc('install.md');
    for (const sidecar of Object.values(values.sidecars)) {
      if (!sidecar.image) continue;
      const [repo, tag] = sidecar.image.split(':');
      const name = repo!.split('/').at(-1)!;
      expect([name, text.includes(`${name} ${tag}`)]).toEqual([name, true]);
    }
    expect(text).toMatch(/external-snapshotter v8\.6/);
    expect(text).toMatch(/snapshot-controller/);
  });

  it('relative links between the docs resolve', () => {
    const files = new Set(readdirSync(DOCS));
    for (const name of files) {
      if (!name.endsWith('.md')) continue;
      for (const m of doc(name).matchAll(/\]\(([a-z0-9-]+\.md)(#[^)]*)?\)/g))
        expect([name, files.has(m[1]!)]).toEqual([name, true]);
    }
  });

  it('every value in values.yaml is used by a template', () => {
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const dir = join(CHART_DIR, 'templates');
    const text = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    // `{{- $sc := .Values.sidecars -}}` makes `$sc.x` mean `.Values.sidecars.x`.
    const aliases = [...text.matchAll(/\$(\w+) := \.Values\.([\w.]+)/g)].map((m) => ({ alias: m[1]!, prefix: m[2]! }));
    const leaves: string[] = [];
    const walk = (o: Record<string, unknown>, path: string): void => {
      for (const [k, v] of Object.entries(o)) {
        const p = path ? `${path}.${k}` : k;
        if (
          v &&
          typeof v === 'object' &&
          !Array.isArray(v) &&
          Object.keys(v).length > 0 &&
          !['resources', 'tolerations', 'affinity'].includes(k) &&
          !(p.endsWith('.requests') || p.endsWith('.limits'))
        )
          walk(v as Record<string, unknown>, p);
        else leaves.push(p);
      }
    };
    walk(values, '');
    const used = (p: string): boolean =>
      text.includes(`.Values.${p}`) ||
      aliases.some(
        ({ alias, prefix }) => p.startsWith(`${prefix}.`) && text.includes(`$${alias}.${p.slice(prefix.length + 1)}`),
      );
    expect(leaves.filter((p) => !used(p))).toEqual([]);
    expect(leaves.length).toBeGreaterThan(50);
  });

  it('every top-level value in values.yaml is documented by a comment', () => {
    const lines = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/^[a-zA-Z]+:/.test(line)) return;
      let j = i - 1;
      while (j >= 0 && lines[j] === '') j--;
      const commented = j >= 0 && lines[j]!.startsWith('#');
      // Sections whose every member carries its own comment are fine too.
      const sectionDocumented = lines.slice(i + 1, i + 4).some((l) => l.trim().startsWith('# --'));
      expect([line, commented || sectionDocumented]).toEqual([line, true]);
    });
  });
});

describe('docs/migrating-from-hpe.md', () => {
  const rows = doc('migrating-from-hpe.md')
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) =>
      l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    )
    .map(([key, status, notes]) => ({ key: /^`([^`]+)`/.exec(key!)![1]!, status: status!, notes: notes ?? '' }));

  it('lists every HPE-only key the driver refuses, and the driver refuses each with the reason the table gives', () => {
    const unsupported = rows.filter((r) => r.status === 'not supported');
    expect(unsupported.map((r) => r.key).sort()).toEqual(Object.keys(params.HPE_ONLY_PARAMETERS).sort());
    for (const r of unsupported) {
      expect([r.key, r.notes]).toEqual([r.key, params.HPE_ONLY_PARAMETERS[r.key]]);
      expect(() => params.parseStorageClassParameters({ [r.key]: 'x' })).toThrow(r.notes);
    }
  });

  it('every key marked `same` is a StorageClass parameter the driver takes', () => {
    const same = rows.filter((r) => r.status === 'same').map((r) => r.key);
    expect(same.length).toBeGreaterThanOrEqual(13);
    const known = new Set(params.STORAGE_CLASS_PARAMETERS.flatMap((p) => [p.key, ...p.aliases]));
    for (const key of same) expect([key, known.has(key)]).toEqual([key, true]);
  });
});
