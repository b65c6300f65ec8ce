/**
 * What the chart renders for topology and classes (issue 19, items 1 and 2): one --topology for
 * the controller and every node plugin, the node's backend ids, allowedTopologies for classes
 * that name a backend; the fstype rendered once; class secrets refused or (node-stage) kept.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import { renderChart } from '../../scripts/gen-deploy-lib.mjs';
import {
  CRD_APIS,
  arg,
  container,
  find,
  findAll,
  helmMissing,
  helmRender,
  parseObjects,
  podSpec,
  validateAll,
  type K8sObject,
} from './render.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(helmMissing);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), '3par-chart-values-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backend = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  url: `https://${id}.example.com:8080`,
  username: 'csi',
  password: 'pw',
  ...extra,
});
let n = 0;
function run(values: Record<string, unknown>): { status: number; stdout: string; stderr: string } {
  const file = join(dir, `values-${n++}.yaml`);
  writeFileSync(file, stringify({ clusterId: 'prod', ...values }));
  return renderChart(helmRender!, {
    valuesFiles: [file],
    release: '3par-csi',
    namespace: 'storage',
    extraArgs: CRD_APIS,
  });
}
function objects(values: Record<string, unknown>): K8sObject[] {
  const r = run(values);
  if (r.status !== 0) throw new Error(r.stderr);
  const out = parseObjects(r.stdout);
  expect(validateAll(out)).toEqual([]);
  return out;
}
function refused(values: Record<string, unknown>): string {
  const r = run(values);
  expect(r.status).not.toBe(0);
  return r.stderr;
}
const driverArgs = (objs: K8sObject[], kind: 'Deployment' | 'DaemonSet', name: string) =>
  container(podSpec(find(objs, kind, name)), '3par-csi');
const classes = (objs: K8sObject[]) =>
  new Map(findAll<IStorageClass & K8sObject>(objs, 'StorageClass').map((c) => [c.metadata.name, c]));
const allowedBackends = (sc: IStorageClass) =>
  (sc.allowedTopologies ?? []).flatMap((t) =>
    (t.matchLabelExpressions ?? []).map((e) => `${e.key}=${e.values.join('|')}`),
  );

d('topology: one setting on both sides', () => {
  it('two backends and node groups: controller and every node say on, nodes list their ids, each class is limited to its backend', () => {
    const objs = objects({
      backends: [backend('east', { default: true }), backend('west')],
      nodeGroups: [
        { name: 'a', nodeSelector: { rack: 'a' }, backendIds: ['east'] },
        { name: 'b', nodeSelector: { rack: 'b' }, backendIds: ['east', 'west'] },
      ],
      storageClasses: [
        { name: 'gold' },
        { name: 'silver', backend: 'west' },
        {
          name: 'own',
          backend: 'west',
          allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['z1'] }] }],
        },
      ],
    });
    expect(arg(driverArgs(objs, 'Deployment', '3par-csi-controller'), 'topology')).toBe('on');
    const a = driverArgs(objs, 'DaemonSet', '3par-csi-node-a');
    const b = driverArgs(objs, 'DaemonSet', '3par-csi-node-b');
    // The single-backend group reports its one segment too (the unschedulable case).
    expect([arg(a, 'topology'), arg(a, 'backend-ids')]).toEqual(['on', 'east']);
    expect([arg(b, 'topology'), arg(b, 'backend-ids')]).toEqual(['on', 'east,west']);
    const sc = classes(objs);
    expect(allowedBackends(sc.get('gold')!)).toEqual(['csi.3par.hpe.example.com/backend-east=true']);
    expect(allowedBackends(sc.get('silver')!)).toEqual(['csi.3par.hpe.example.com/backend-west=true']);
    expect(allowedBackends(sc.get('own')!)).toEqual(['topology.kubernetes.io/zone=z1']);
  });

  it('one backend: off on both sides and no allowedTopologies; `topology: true` turns both on with the one id', () => {
    const off = objects({ backends: [backend('east')], storageClasses: [{ name: 'gold' }] });
    expect(arg(driverArgs(off, 'Deployment', '3par-csi-controller'), 'topology')).toBe('off');
    expect(arg(driverArgs(off, 'DaemonSet', '3par-csi-node'), 'topology')).toBe('off');
    expect(classes(off).get('gold')!.allowedTopologies).toBeUndefined();
    const on = objects({ topology: true, backends: [backend('east')], storageClasses: [{ name: 'gold' }] });
    expect(arg(driverArgs(on, 'Deployment', '3par-csi-controller'), 'topology')).toBe('on');
    expect([
      arg(driverArgs(on, 'DaemonSet', '3par-csi-node'), 'topology'),
      arg(driverArgs(on, 'DaemonSet', '3par-csi-node'), 'backend-ids'),
    ]).toEqual(['on', 'east']);
    expect(allowedBackends(classes(on).get('gold')!)).toEqual(['csi.3par.hpe.example.com/backend-east=true']);
  });

  it('two backends without groups: on, and the one node DaemonSet lists both', () => {
    const objs = objects({ backends: [backend('east', { default: true }), backend('west')] });
    const node = driverArgs(objs, 'DaemonSet', '3par-csi-node');
    expect([
      arg(driverArgs(objs, 'Deployment', '3par-csi-controller'), 'topology'),
      arg(node, 'topology'),
      arg(node, 'backend-ids'),
    ]).toEqual(['on', 'on', 'east,west']);
  });

  it('topology on without any backend id for the nodes is refused; `topology: false` keeps both sides off with two backends', () => {
    expect(refused({ topology: true, existingBackendsSecret: 'mine' })).toMatch(
      /topology is on but the chart knows no backend ids/,
    );
    const objs = objects({
      topology: false,
      backends: [backend('east', { default: true }), backend('west')],
      storageClasses: [{ name: 'gold' }],
    });
    expect(arg(driverArgs(objs, 'Deployment', '3par-csi-controller'), 'topology')).toBe('off');
    expect(arg(driverArgs(objs, 'DaemonSet', '3par-csi-node'), 'topology')).toBe('off');
    expect(classes(objs).get('gold')!.allowedTopologies).toBeUndefined();
  });
});

d('StorageClass parameters Kubernetes reads', () => {
  const one = (sc: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    classes(
      objects({
        backends: [backend('east', { chap: { user: 'u', secret: '0123456789abcd' } })],
        storageClasses: [sc],
        ...extra,
      }),
    ).get(sc['name'] as string)!;

  it('an HPE-style class with csi.storage.k8s.io/fstype renders it once (it was a duplicate key)', () => {
    const sc = one({ name: 'hpe', parameters: { 'csi.storage.k8s.io/fstype': 'xfs', cpg: 'SSD_r6' } });
    expect(sc.parameters?.['csi.storage.k8s.io/fstype']).toBe('xfs');
    expect(
      one({ name: 'both', fsType: 'xfs', parameters: { 'csi.storage.k8s.io/fstype': 'xfs' } }).parameters?.[
        'csi.storage.k8s.io/fstype'
      ],
    ).toBe('xfs');
    expect(one({ name: 'plain' }).parameters?.['csi.storage.k8s.io/fstype']).toBe('ext4');
    expect(
      refused({
        backends: [backend('east')],
        storageClasses: [{ name: 'x', fsType: 'ext4', parameters: { 'csi.storage.k8s.io/fstype': 'xfs' } }],
      }),
    ).toMatch(/StorageClass "x": fsType "ext4" and parameter csi.storage.k8s.io\/fstype "xfs" disagree/);
    expect(
      refused({
        backends: [backend('east')],
        storageClasses: [{ name: 'x', parameters: { 'csi.storage.k8s.io/fstype': 'btrfs' } }],
      }),
    ).toMatch(/fstype "btrfs" is not supported/);
  });

  it.each([
    ['csi.storage.k8s.io/provisioner-secret-name'],
    ['csi.storage.k8s.io/controller-publish-secret-name'],
    ['csi.storage.k8s.io/node-publish-secret-namespace'],
    ['csi.storage.k8s.io/controller-expand-secret-name'],
    ['csi.storage.k8s.io/node-expand-secret-name'],
  ])('a class naming %s is refused, saying why', (key) => {
    expect(
      refused({ backends: [backend('east')], storageClasses: [{ name: 'x', parameters: { [key]: 's' } }] }),
    ).toMatch(new RegExp(`StorageClass "x": parameter "${key}" names a Secret that a sidecar would have to read`));
  });

  it('snapshot classes naming snapshotter secrets are refused', () => {
    expect(
      refused({
        backends: [backend('east')],
        volumeSnapshotClasses: [{ name: 'vs', parameters: { 'csi.storage.k8s.io/snapshotter-secret-name': 's' } }],
      }),
    ).toMatch(/VolumeSnapshotClass "vs": parameter "csi.storage.k8s.io\/snapshotter-secret-name"/);
    expect(
      refused({
        backends: [backend('east')],
        volumeGroupSnapshotClasses: [
          { name: 'g', parameters: { 'csi.storage.k8s.io/group-snapshotter-secret-name': 's' } },
        ],
      }),
    ).toMatch(/VolumeGroupSnapshotClass "g"/);
  });

  it('a node-stage secret (read by kubelet, not a sidecar) is kept where the chart adds none, and refused where it adds the CHAP one', () => {
    const own = classes(
      objects({
        backends: [backend('east')],
        storageClasses: [
          {
            name: 'mine',
            parameters: {
              'csi.storage.k8s.io/node-stage-secret-name': 'my-chap',
              'csi.storage.k8s.io/node-stage-secret-namespace': 'storage',
            },
          },
        ],
      }),
    ).get('mine')!;
    expect(own.parameters?.['csi.storage.k8s.io/node-stage-secret-name']).toBe('my-chap');
    expect(
      refused({
        backends: [backend('east', { chap: { user: 'u', secret: '0123456789abcd' } })],
        storageClasses: [{ name: 'x', parameters: { 'csi.storage.k8s.io/node-stage-secret-name': 'other' } }],
      }),
    ).toMatch(/names a Secret/);
  });

  it('FC classes of a CHAP backend get no CHAP node-stage secret; iSCSI classes (explicit or by default) do', () => {
    const fc = one({ name: 'fc', parameters: { accessProtocol: 'fc' } });
    expect(Object.keys(fc.parameters ?? {})).not.toContain('csi.storage.k8s.io/node-stage-secret-name');
    const fcOld = one({ name: 'fc-old', parameters: { access_protocol: 'FC' } });
    expect(Object.keys(fcOld.parameters ?? {})).not.toContain('csi.storage.k8s.io/node-stage-secret-name');
    expect(one({ name: 'iscsi' }).parameters?.['csi.storage.k8s.io/node-stage-secret-name']).toBe('3par-csi-chap-east');
    expect(
      one({ name: 'iscsi2', parameters: { accessProtocol: 'iscsi' } }).parameters?.[
        'csi.storage.k8s.io/node-stage-secret-name'
      ],
    ).toBe('3par-csi-chap-east');
  });
});
