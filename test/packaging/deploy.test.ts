import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import type { IPersistentVolumeClaim, ISecret } from 'kubernetes-models/v1';
import { ConfigError, parseBackends } from '../../src/config/backends.js';
import { DEFAULT_DRIVER_NAME, validateClusterId } from '../../src/config/identity.js';
import {
  STORAGE_CLASS_PARAMETERS,
  parseSnapshotClassParameters,
  parseStorageClassParameters,
} from '../../src/csi/params.js';
import { DEPLOY_DIR, DEPLOY_NAMESPACE, generateDeployFiles } from '../../scripts/gen-deploy-lib.mjs';
import {
  arg,
  container,
  find,
  findAll,
  helmMissing,
  helmRender,
  parseObjects,
  podSpec,
  secretsReadBy,
  validateAll,
  type K8sObject,
} from './render.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(helmMissing);

const EXAMPLES = join(DEPLOY_DIR, 'examples');
const read = (path: string): string => readFileSync(path, 'utf8');
const topLevelYaml = (): string[] =>
  readdirSync(DEPLOY_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
const deployObjects = (): K8sObject[] =>
  topLevelYaml().flatMap((f) => parseObjects(read(join(DEPLOY_DIR, f))).filter((o) => o.kind !== 'Kustomization'));
const example = (file: string): K8sObject[] => parseObjects(read(join(EXAMPLES, file)));
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

d('deploy/ is the chart rendered with fixed values', () => {
  it('equals a fresh render (run `npm run gen:deploy` after changing the chart)', () => {
    const fresh = generateDeployFiles(helmRender!);
    expect(topLevelYaml()).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) expect([name, read(join(DEPLOY_DIR, name))]).toEqual([name, text]);
  });
});

describe('deploy/ manifests', () => {
  it('the kustomization lists every manifest, namespace first', () => {
    const k = parseYaml(read(join(DEPLOY_DIR, 'kustomization.yaml'))) as { namespace: string; resources: string[] };
    expect(k.namespace).toBe(DEPLOY_NAMESPACE);
    expect(k.resources[0]).toBe('namespace.yaml');
    expect([...k.resources].sort()).toEqual(topLevelYaml().filter((f) => f !== 'kustomization.yaml'));
  });

  it('says how to set the image: an `images:` entry naming the driver image every driver container uses', () => {
    const k = parseYaml(read(join(DEPLOY_DIR, 'kustomization.yaml'))) as {
      images: { name: string; newName: string; newTag: string }[];
    };
    expect(k.images).toHaveLength(1);
    const images = new Set<string>();
    for (const o of deployObjects())
      if (o.kind === 'Deployment' || o.kind === 'DaemonSet') images.add(container(podSpec(o), '3par-csi').image!);
    expect([...images]).toEqual([`${k.images[0]!.name}:${k.images[0]!.newTag}`]);
    expect(read(join(DEPLOY_DIR, '..', 'docs', 'install.md'))).toMatch(/kustomize edit set image/);
  });

  it('every object is valid against the Kubernetes 1.34 schemas', () => {
    expect(validateAll(deployObjects())).toEqual([]);
  });

  it('holds no Secret: the controller mounts the admin’s backends Secret, which the example creates', () => {
    const objects = deployObjects();
    expect(findAll(objects, 'Secret')).toEqual([]);
    const controller = podSpec(find(objects, 'Deployment', '3par-csi-controller'));
    expect(secretsReadBy(controller)).toEqual(['3par-csi-backends']);
    const secret = find<ISecret & K8sObject>(example('backends-secret.yaml'), 'Secret');
    expect([secret.metadata.name, secret.metadata.namespace]).toEqual(['3par-csi-backends', DEPLOY_NAMESPACE]);
    const backends = parseBackends(parseYaml(secret.stringData!['backends.yaml']!), 'example');
    expect(backends.map((b) => b.id)).toEqual(['prod1']);
    for (const ds of findAll<K8sObject>(objects, 'DaemonSet')) expect(secretsReadBy(podSpec(ds))).toEqual([]);
  });

  it('carries a placeholder cluster id that the driver refuses to start with', () => {
    const driver = container(podSpec(find(deployObjects(), 'Deployment', '3par-csi-controller')), '3par-csi');
    const id = arg(driver, 'cluster-id')!;
    expect(id).toBe('change-me');
    // docs/install.md patches it by position in a kustomize overlay: containers/0/args/4.
    expect(podSpec(find(deployObjects(), 'Deployment', '3par-csi-controller')).containers[0]!.name).toBe('3par-csi');
    expect(driver.args?.[4]).toBe('--cluster-id=change-me');
    expect(() => validateClusterId(id)).toThrow(ConfigError);
    expect(() => validateClusterId('CHANGE-ME')).toThrow(/placeholder/);
  });
});

describe('deploy/ topology', () => {
  it('is off on both sides, at the argument positions docs/configuration.md patches (controller args/9, node args/5)', () => {
    const objects = deployObjects();
    const controller = container(podSpec(find(objects, 'Deployment', '3par-csi-controller')), '3par-csi');
    const node = container(podSpec(find(objects, 'DaemonSet', '3par-csi-node')), '3par-csi');
    expect(controller.args?.[9]).toBe('--topology=off');
    expect(node.args?.[5]).toBe('--topology=off');
    expect(arg(node, 'backend-ids')).toBeUndefined();
    const doc = read(join(DEPLOY_DIR, '..', 'docs', 'configuration.md'));
    expect(doc).toContain('path: /spec/template/spec/containers/0/args/9\n        value: --topology=on');
    expect(doc).toContain('path: /spec/template/spec/containers/0/args/5\n        value: --topology=on');
  });
});

describe('deploy/examples', () => {
  it.each(exampleFiles)('%s is valid against its schema', (file) => {
    expect(validateAll(example(file))).toEqual([]);
  });

  it('use the default driver name and the deploy/ namespace', () => {
    for (const file of exampleFiles) {
      for (const o of example(file)) {
        const driver =
          (o as { provisioner?: string; driver?: string; driverName?: string }).provisioner ??
          (o as { driver?: string }).driver ??
          (o as { driverName?: string }).driverName;
        if (driver !== undefined) expect([file, driver]).toEqual([file, DEFAULT_DRIVER_NAME]);
        if (o.kind === 'Secret') expect(o.metadata.namespace).toBe(DEPLOY_NAMESPACE);
      }
    }
  });

  it('their class parameters are accepted by the driver parsers', () => {
    const sc = find<IStorageClass>(example('storageclass.yaml'), 'StorageClass');
    const driverParams = Object.fromEntries(
      Object.entries(sc.parameters ?? {}).filter(([k]) => !k.startsWith('csi.storage.k8s.io/')),
    );
    expect(() => parseStorageClassParameters(driverParams)).not.toThrow();
    for (const file of ['volumesnapshotclass.yaml', 'volumegroupsnapshotclass.yaml']) {
      const c = example(file)[0] as { parameters?: Record<string, string> };
      expect(() => parseSnapshotClassParameters(c.parameters ?? {})).not.toThrow();
    }
    const vac = example('volumeattributesclass.yaml')[0] as unknown as { parameters: Record<string, string> };
    const known = new Set(STORAGE_CLASS_PARAMETERS.map((p) => p.key));
    for (const key of Object.keys(vac.parameters)) expect(known).toContain(key);
  });

  it('the StorageClass names the example CHAP Secret, which holds only chapUser and chapSecret matching the backend', () => {
    const sc = find<IStorageClass>(example('storageclass.yaml'), 'StorageClass');
    const chap = find<ISecret & K8sObject>(example('chap-secret.yaml'), 'Secret');
    expect(sc.parameters?.['csi.storage.k8s.io/node-stage-secret-name']).toBe(chap.metadata.name);
    expect(sc.parameters?.['csi.storage.k8s.io/node-stage-secret-namespace']).toBe(chap.metadata.namespace);
    expect(Object.keys(chap.stringData ?? {}).sort()).toEqual(['chapSecret', 'chapUser']);
    const backend = parseBackends(
      parseYaml(find<ISecret>(example('backends-secret.yaml'), 'Secret').stringData!['backends.yaml']!),
    )[0]!;
    expect(backend.chap).toEqual({ user: chap.stringData!['chapUser'], secret: chap.stringData!['chapSecret'] });
  });

  it('restore and clone name their sources', () => {
    const restored = example('pvc-from-snapshot.yaml')[0] as unknown as IPersistentVolumeClaim;
    expect(restored.spec?.dataSource).toEqual({
      apiGroup: 'snapshot.storage.k8s.io',
      kind: 'VolumeSnapshot',
      name: 'data-snap',
    });
    const clone = example('pvc-clone.yaml')[0] as unknown as IPersistentVolumeClaim;
    expect(clone.spec?.dataSource).toEqual({ kind: 'PersistentVolumeClaim', name: 'data' });
  });
});
