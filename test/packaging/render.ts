/**
 * Rendering and validation helpers for the packaging tests: the chart through helm-render (a
 * `helm template` stand-in, found through $HELM_RENDER or ../shared/tools/helm-render), every
 * object against the Kubernetes 1.34 schemas of kubernetes-models, and the snapshot objects and
 * ServiceMonitor against JSON schemas written from their CRDs (test/packaging/schemas).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import type { Model } from '@kubernetes-models/base';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as storage from 'kubernetes-models/storage.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import type { IContainer, IPodSpec, IVolume } from 'kubernetes-models/v1';
import {
  CHART_DIR,
  REPO_ROOT,
  findHelmRender,
  renderChart,
  type RenderOptions,
} from '../../scripts/gen-deploy-lib.mjs';

export { CHART_DIR, REPO_ROOT };
export const FIXTURES = join(REPO_ROOT, 'test', 'packaging', 'fixtures');
export const fixture = (name: string): string => join(FIXTURES, name);

/** `helm template` flags saying the cluster serves the snapshot and Prometheus Operator APIs. */
export const CRD_APIS = [
  '--api-versions',
  'snapshot.storage.k8s.io/v1',
  '--api-versions',
  'groupsnapshot.storage.k8s.io/v1',
  '--api-versions',
  'monitoring.coreos.com/v1',
];

const found = findHelmRender();
/** Path of helm-render, or undefined (then `helmMissing` says why and chart tests skip). */
export const helmRender: string | undefined = found.path;
export const helmMissing: string | undefined = found.reason;

/** A rendered Kubernetes object, loosely typed; narrow with the kubernetes-models interfaces. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Parses multi-document YAML into objects; empty documents are dropped. */
export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as K8sObject);
  }
  return out;
}

/** Renders the chart with values files; throws with helm-render's message when it fails. */
export function render(valuesFiles: string[], options: Omit<RenderOptions, 'valuesFiles'> = {}): K8sObject[] {
  const r = renderChart(helmRender!, { ...options, valuesFiles });
  if (r.status !== 0) throw new Error(`helm-render failed: ${r.stderr.trim()}`);
  return parseObjects(r.stdout);
}

type ModelClass = new (data: never) => Model<unknown>;
const MODELS = new Map<string, ModelClass>();
for (const [group, mod] of [
  ['v1', core],
  ['apps/v1', apps],
  ['rbac.authorization.k8s.io/v1', rbac],
  ['storage.k8s.io/v1', storage],
  ['policy/v1', policy],
] as const) {
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value === 'function') MODELS.set(`${group}/${name}`, value as unknown as ModelClass);
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const CRD_SCHEMAS = new Map<string, ValidateFunction>();
for (const [key, file] of [
  ['snapshot.storage.k8s.io/v1/VolumeSnapshotClass', 'volumesnapshotclass.v1.json'],
  ['groupsnapshot.storage.k8s.io/v1/VolumeGroupSnapshotClass', 'volumegroupsnapshotclass.v1.json'],
  ['monitoring.coreos.com/v1/ServiceMonitor', 'servicemonitor.v1.json'],
  ['monitoring.coreos.com/v1/PodMonitor', 'podmonitor.v1.json'],
  ['snapshot.storage.k8s.io/v1/VolumeSnapshot', 'volumesnapshot.v1.json'],
  ['groupsnapshot.storage.k8s.io/v1/VolumeGroupSnapshot', 'volumegroupsnapshot.v1.json'],
] as const) {
  CRD_SCHEMAS.set(
    key,
    ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'packaging', 'schemas', file), 'utf8')) as object),
  );
}

/**
 * Validates one object against its Kubernetes 1.34 schema (built-in kinds) or the CRD schema
 * (snapshot classes, ServiceMonitor). Returns the problems; an unknown kind is one.
 */
export function validateObject(obj: K8sObject): string[] {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const where = `${obj.kind} ${obj.metadata?.name ?? '?'}`;
  const crd = CRD_SCHEMAS.get(key);
  if (crd) {
    if (crd(obj)) return [];
    return (crd.errors ?? []).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? ''}`);
  }
  const Model = MODELS.get(key);
  if (!Model) return [`${where}: no schema for ${key}`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

/**
 * Field names the Kubernetes API knows, gathered from the kubernetes-models type declarations.
 * The compiled schemas accept unknown fields, while the API server (strict field validation, the
 * default of kubectl apply) refuses them: this catches a misspelt field such as
 * `mountPropogation`. Coarse (any known name passes anywhere) but cheap.
 */
let knownFields: Set<string> | undefined;
function fieldNames(): Set<string> {
  if (knownFields) return knownFields;
  const require = createRequire(import.meta.url);
  const roots = [
    dirname(require.resolve('kubernetes-models/package.json')),
    dirname(require.resolve('@kubernetes-models/apimachinery/package.json')),
  ];
  knownFields = new Set();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.d.ts'))
        for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/^\s*"([A-Za-z0-9$_-]+)"\??:/gm))
          knownFields!.add(m[1]!);
    }
  };
  for (const root of roots) walk(root);
  return knownFields;
}

/** Maps whose keys are data, not field names. */
const FREE_FORM = new Set([
  'labels',
  'annotations',
  'data',
  'stringData',
  'binaryData',
  'parameters',
  'nodeSelector',
  'matchLabels',
  'requests',
  'limits',
  'volumeAttributes',
  'selector',
]);

/** Keys of a built-in object that no Kubernetes type declares. */
export function unknownFields(obj: unknown, path = ''): string[] {
  if (Array.isArray(obj)) return obj.flatMap((v, i) => unknownFields(v, `${path}[${i}]`));
  if (obj === null || typeof obj !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (!fieldNames().has(k)) out.push(`${path}.${k}`);
    else if (!(
      FREE_FORM.has(k) &&
      v !== null &&
      typeof v === 'object' &&
      !('matchLabels' in v) &&
      !('matchExpressions' in v)
    ))
      out.push(...unknownFields(v, `${path}.${k}`));
  }
  return out;
}

/** Every problem of every object, plus metadata every object must have. */
export function validateAll(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const obj of objects) {
    problems.push(...validateObject(obj));
    if (!CRD_SCHEMAS.has(`${obj.apiVersion}/${obj.kind}`))
      for (const f of unknownFields(obj)) problems.push(`${obj.kind} ${obj.metadata?.name}: unknown field ${f}`);
    const id = `${obj.kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
    if (names.has(id)) problems.push(`${id} is rendered twice`);
    names.add(id);
  }
  return problems;
}

export function find<T = K8sObject>(objects: K8sObject[], kind: string, name?: string): T {
  const hit = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered objects`);
  return hit as unknown as T;
}

export function findAll<T = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

/** The pod spec of a Deployment or DaemonSet. */
export function podSpec(workload: K8sObject): IPodSpec {
  const spec = (workload as unknown as { spec: { template: { spec: IPodSpec } } }).spec.template.spec;
  return spec;
}

export function container(spec: IPodSpec, name: string): IContainer {
  const c = spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

export function volume(spec: IPodSpec, name: string): IVolume {
  const v = (spec.volumes ?? []).find((x) => x.name === name);
  if (!v) throw new Error(`no volume ${name}`);
  return v;
}

/** `--name=value` of a container's args (undefined when absent; '' for a bare flag). */
export function arg(c: IContainer, name: string): string | undefined {
  for (const a of c.args ?? []) {
    if (a === `--${name}`) return '';
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** Every Secret name a pod spec can read: volumes, projected sources, env and envFrom. */
export function secretsReadBy(spec: IPodSpec): string[] {
  const names = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.add(s.secret.name);
  }
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
  }
  return [...names].sort();
}
