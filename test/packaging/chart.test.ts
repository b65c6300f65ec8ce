import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { IContainer, IPodSpec, ISecret } from 'kubernetes-models/v1';
import type { IStorageClass, ICSIDriver } from 'kubernetes-models/storage.k8s.io/v1';
import { parseBackends } from '../../src/config/backends.js';
import { SERVE_FLAGS } from '../../src/cli/serve.js';
import { SIMULATOR_FLAGS } from '../../src/cli/simulator.js';
import { envName } from '../../src/cli/flags.js';
import { parseSnapshotClassParameters, parseStorageClassParameters } from '../../src/csi/params.js';
import { renderChart } from '../../scripts/gen-deploy-lib.mjs';
import {
  CHART_DIR,
  CRD_APIS,
  arg,
  container,
  find,
  findAll,
  fixture,
  helmMissing,
  helmRender,
  parseObjects,
  podSpec,
  render,
  secretsReadBy,
  validateAll,
  volume,
  type K8sObject,
} from './render.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(helmMissing);

/** The sidecar images and versions the chart must pin (issue 8). */
const SIDECARS = {
  'csi-provisioner': 'registry.k8s.io/sig-storage/csi-provisioner:v6.3.0',
  'csi-attacher': 'registry.k8s.io/sig-storage/csi-attacher:v4.12.0',
  'csi-snapshotter': 'registry.k8s.io/sig-storage/csi-snapshotter:v8.6.0',
  'csi-resizer': 'registry.k8s.io/sig-storage/csi-resizer:v2.2.1',
  'liveness-probe': 'registry.k8s.io/sig-storage/livenessprobe:v2.19.0',
  'node-driver-registrar': 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.17.0',
};
const CONTROLLER_SIDECARS = ['csi-provisioner', 'csi-attacher', 'csi-snapshotter', 'csi-resizer'];

const chartValues = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const chartMeta = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };

function seconds(duration: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!m) throw new Error(`not a duration: ${duration}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

function decode(secret: ISecret, key: string): string {
  const v = secret.data?.[key];
  if (v === undefined) throw new Error(`secret ${secret.metadata?.name} has no key ${key}`);
  return Buffer.from(v, 'base64').toString('utf8');
}

/** A render on a cluster that serves the snapshot and ServiceMonitor APIs. */
function rendered(valuesFile: string): K8sObject[] {
  return render([fixture(valuesFile)], { release: '3par-csi', namespace: 'storage', extraArgs: CRD_APIS });
}

describe('helm-render', () => {
  it('is present in CI (elsewhere the chart tests skip without it)', () => {
    if (process.env['CI']) expect(helmMissing).toBeUndefined();
  });
});

d('chart renders and every object is valid', () => {
  it.each(['minimal.yaml', 'all-options.yaml'])(
    '%s: renders objects valid against the Kubernetes 1.34 and CRD schemas',
    (file) => {
      const objects = rendered(file);
      expect(validateAll(objects)).toEqual([]);
      expect(objects.length).toBeGreaterThan(15);
    },
  );

  it('the minimal values render exactly the base objects', () => {
    const kinds = rendered('minimal.yaml')
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(kinds).toEqual(
      [
        'CSIDriver/csi.3par.hpe.example.com',
        'ClusterRole/3par-csi-attacher',
        'ClusterRole/3par-csi-provisioner',
        'ClusterRole/3par-csi-resizer',
        'ClusterRole/3par-csi-snapshotter',
        'ClusterRoleBinding/3par-csi-attacher',
        'ClusterRoleBinding/3par-csi-provisioner',
        'ClusterRoleBinding/3par-csi-resizer',
        'ClusterRoleBinding/3par-csi-snapshotter',
        'DaemonSet/3par-csi-node',
        'Deployment/3par-csi-controller',
        'PodDisruptionBudget/3par-csi-controller',
        'Role/3par-csi-attacher',
        'Role/3par-csi-provisioner',
        'Role/3par-csi-resizer',
        'Role/3par-csi-snapshotter',
        'RoleBinding/3par-csi-attacher',
        'RoleBinding/3par-csi-provisioner',
        'RoleBinding/3par-csi-resizer',
        'RoleBinding/3par-csi-snapshotter',
        'Secret/3par-csi-backends',
        'Service/3par-csi-controller-metrics',
        'ServiceAccount/3par-csi-controller',
        'ServiceAccount/3par-csi-node',
      ].sort(),
    );
  });

  it('all options render every optional object', () => {
    const names = new Set(rendered('all-options.yaml').map((o) => `${o.kind}/${o.metadata.name}`));
    for (const expected of [
      'Secret/3par-csi-chap-array1',
      'Secret/3par-csi-simulator',
      'Deployment/3par-csi-simulator',
      'Service/3par-csi-simulator',
      'ServiceMonitor/3par-csi-controller',
      'DaemonSet/3par-csi-node-rack-a',
      'DaemonSet/3par-csi-node-rack-b',
      'StorageClass/3par-gold',
      'StorageClass/3par-fc',
      'StorageClass/3par-sim',
      'VolumeSnapshotClass/3par-snap',
      'VolumeGroupSnapshotClass/3par-group-snap',
      'VolumeAttributesClass/3par-gold-qos',
      'ClusterRole/3par-csi-health-monitor',
      'ClusterRoleBinding/3par-csi-health-monitor',
      'Role/3par-csi-health-monitor',
      'RoleBinding/3par-csi-health-monitor',
    ]) {
      expect(names).toContain(expected);
    }
    expect(names).not.toContain('Secret/3par-csi-chap-array2');
    expect(names).not.toContain('DaemonSet/3par-csi-node');
  });

  it('the validators catch broken objects', () => {
    const broken = parseObjects(
      [
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {selector: {}, template: {spec: {containers: [{name: a, image: b, ports: [{containerPort: http}]}]}}}',
        'apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: x}\ndriver: d\ndeletionPolicy: Keep',
        'apiVersion: groupsnapshot.storage.k8s.io/v1\nkind: VolumeGroupSnapshotClass\nmetadata: {name: x}\ndeletionPolicy: Delete\nparameters: {a: 1}',
        'apiVersion: example.com/v1\nkind: Unknown\nmetadata: {name: x}',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {any.key/x: y}}\nspec: {containers: [{name: a, image: b, volumeMounts: [{name: v, mountPath: /v, mountPropogation: Bidirectional}]}]}',
      ].join('\n---\n'),
    );
    const problems = validateAll(broken);
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(
      /containerPort must be integer[\s\S]*deletionPolicy[\s\S]*driver[\s\S]*parameters\/a[\s\S]*no schema for example.com\/v1\/Unknown[\s\S]*unknown field .spec.containers\[0\].volumeMounts\[0\].mountPropogation/,
    );
  });

  it('the class parameters the values give are accepted by the driver parsers', () => {
    const objects = rendered('all-options.yaml');
    for (const sc of findAll<IStorageClass>(objects, 'StorageClass')) {
      const params = Object.fromEntries(
        Object.entries(sc.parameters ?? {}).filter(([k]) => !k.startsWith('csi.storage.k8s.io/')),
      );
      expect(() => parseStorageClassParameters(params)).not.toThrow();
    }
    for (const kind of ['VolumeSnapshotClass', 'VolumeGroupSnapshotClass']) {
      for (const c of findAll<{ parameters?: Record<string, string> }>(objects, kind)) {
        expect(() => parseSnapshotClassParameters(c.parameters ?? {})).not.toThrow();
      }
    }
  });
});

d('values are refused with a clear message', () => {
  const fail = (files: string[], set: string[] = []): string => {
    const r = renderChart(helmRender!, { valuesFiles: files, set });
    expect(r.status).not.toBe(0);
    return r.stderr;
  };

  it('the bare defaults are refused, naming clusterId', () => {
    expect(fail([])).toMatch(/clusterId/);
  });

  it('a bad values file is refused, naming each bad value', () => {
    const err = fail([fixture('bad-values.yaml')]);
    expect(err).toMatch(/clusterId: Does not match pattern/);
    expect(err).toMatch(/backends\.0\.id/);
    expect(err).toMatch(/backends\.0\.chap\.secret/);
    expect(err).toMatch(/storageClas is not allowed/);
  });

  it.each([
    ['no backend', ['clusterId=a'], /backends: list at least one array/],
    [
      'duplicate ids',
      [
        'clusterId=a',
        'backends[0].id=x',
        'backends[0].url=https://a',
        'backends[0].username=u',
        'backends[0].password=p',
        'backends[1].id=x',
        'backends[1].url=https://b',
        'backends[1].username=u',
        'backends[1].password=p',
      ],
      /id "x" is used twice/,
    ],
    [
      'unknown class backend',
      ['storageClasses[0].name=sc', 'storageClasses[0].backend=nope'],
      /class "sc" uses backend "nope", which is not in backends/,
    ],
    [
      'two defaults',
      [
        'backends[0].default=true',
        'backends[1].id=b2',
        'backends[1].url=https://b',
        'backends[1].username=u',
        'backends[1].password=p',
        'backends[1].default=true',
      ],
      /more than one backend says default: true/,
    ],
    [
      'ambiguous class backend',
      [
        'backends[1].id=b2',
        'backends[1].url=https://b',
        'backends[1].username=u',
        'backends[1].password=p',
        'storageClasses[0].name=sc',
      ],
      /class "sc" names no backend/,
    ],
    [
      'unknown group backend',
      ['nodeGroups[0].name=g', 'nodeGroups[0].nodeSelector.a=b', 'nodeGroups[0].backendIds[0]=zz'],
      /group "g" lists backend "zz"/,
    ],
    ['long cluster id', ['clusterId=this-cluster-id-is-far-too-long-for-3par'], /clusterId/],
    [
      'unpinned sidecar image',
      ['sidecars.attacher.image=registry.k8s.io/sig-storage/csi-attacher'],
      /sidecars\.attacher\.image/,
    ],
    [
      'latest sidecar image',
      ['sidecars.attacher.image=registry.k8s.io/sig-storage/csi-attacher:latest'],
      /sidecars\.attacher\.image/,
    ],
    ['latest driver tag', ['image.tag=latest'], /image\.tag/],
    ['bad duration', ['sidecars.provisioner.timeout=soon'], /sidecars\.provisioner\.timeout/],
    [
      'a provisioningType the driver does not know',
      ['storageClasses[0].name=sc', 'storageClasses[0].parameters.provisioningType=tdvv'],
      /storageClasses\.0\.parameters\.provisioningType/,
    ],
    [
      'an unknown StorageClass parameter',
      ['storageClasses[0].name=sc', 'storageClasses[0].parameters.provisionType=tpvv'],
      /provisionType/,
    ],
    [
      'a snapshot expiry that is not a number',
      ['volumeSnapshotClasses[0].name=vs', 'volumeSnapshotClasses[0].parameters.expirationHours=soon'],
      /expirationHours/,
    ],
    [
      'a backend default protocol the driver does not know',
      ['backends[0].defaultAccessProtocol=nvme'],
      /defaultAccessProtocol/,
    ],
    // The likely slips get a message saying what to write, not a bare "Does not match pattern".
    [
      'a url with the /api/v1 path (python-3parclient style)',
      ['backends[0].url=https://3par-a.example.com:8080/api/v1'],
      /backends\.0\.url "https:\/\/3par-a\.example\.com:8080\/api\/v1": give the WSAPI base URL, scheme, host and port with no path, e\.g\. https:\/\/3par-a\.example\.com:8080/,
    ],
    [
      'a bare IP as url (HPE backend Secret style)',
      ['backends[0].url=10.10.0.141'],
      /backends\.0\.url "10\.10\.0\.141": give the WSAPI base URL/,
    ],
    [
      'a file name as caCert',
      ['backends[0].caCert=/etc/ssl/3par-ca.pem'],
      /backends\.0\.caCert: give the PEM text of the CA bundle .*not a file name; e\.g\. --set-file backends\[0\]\.caCert=ca\.pem/,
    ],
    [
      'a tag in image.repository',
      ['image.repository=registry.example.com/storage/3par-csi:0.1.0'],
      /image\.repository "registry\.example\.com\/storage\/3par-csi:0\.1\.0": give the registry and path only.*the tag in image\.tag/,
    ],
  ])('%s is refused', (_label, set, message) => {
    const files = set[0]!.startsWith('clusterId=a') ? [] : [fixture('minimal.yaml')];
    expect(fail(files, set)).toMatch(message);
  });

  it('a cluster older than Kubernetes 1.34 is refused', () => {
    const r = renderChart(helmRender!, {
      valuesFiles: [fixture('minimal.yaml')],
      extraArgs: ['--kube-version', 'v1.33.4'],
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/kube.*version|1\.33/i);
  });

  it('values.yaml and the fixtures satisfy values.schema.json (checked independently with ajv)', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const merge = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
      const out: Record<string, unknown> = { ...base };
      for (const [k, v] of Object.entries(over)) {
        const b = out[k];
        out[k] =
          v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
            ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
            : v;
      }
      return out;
    };
    for (const file of ['minimal.yaml', 'all-options.yaml']) {
      const values = merge(chartValues, parseYaml(readFileSync(fixture(file), 'utf8')) as Record<string, unknown>);
      expect([file, validate(values), validate.errors ?? []]).toEqual([file, true, []]);
    }
    expect(validate(chartValues)).toBe(false);
    expect(JSON.stringify(validate.errors)).toMatch(/clusterId/);
    expect(
      validate(
        merge(chartValues, parseYaml(readFileSync(fixture('bad-values.yaml'), 'utf8')) as Record<string, unknown>),
      ),
    ).toBe(false);
  });
});

d('what the YAML says', () => {
  const minimal = (): K8sObject[] => rendered('minimal.yaml');
  const all = (): K8sObject[] => rendered('all-options.yaml');
  const controllerOf = (objects: K8sObject[]): IPodSpec => podSpec(find(objects, 'Deployment', '3par-csi-controller'));
  const nodeOf = (objects: K8sObject[], name = '3par-csi-node'): IPodSpec => podSpec(find(objects, 'DaemonSet', name));

  it('pins the driver image and the sidecar images at the required versions', () => {
    const objects = minimal();
    const images = new Map<string, string>();
    for (const spec of [controllerOf(objects), nodeOf(objects)])
      for (const c of spec.containers) images.set(c.name, c.image!);
    for (const [name, image] of Object.entries(SIDECARS)) expect([name, images.get(name)]).toEqual([name, image]);
    expect(images.get('3par-csi')).toBe(`registry.example.com/3par-csi/3par-csi:${chartMeta.appVersion}`);
    for (const image of images.values()) expect(image).not.toMatch(/:latest$|^[^:]+$/);
  });

  it('runs two controller replicas with RollingUpdate, a PodDisruptionBudget, spread, and tunable leader election in every sidecar', () => {
    const objects = minimal();
    const deployment = find<
      { spec: { replicas: number; strategy: unknown; selector: { matchLabels: Record<string, string> } } } & K8sObject
    >(objects, 'Deployment', '3par-csi-controller');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    const pdb = find<
      { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } } & K8sObject
    >(objects, 'PodDisruptionBudget', '3par-csi-controller');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
    const spec = podSpec(deployment);
    expect(
      spec.topologySpreadConstraints?.map((t) => [t.topologyKey, t.whenUnsatisfiable, t.labelSelector?.matchLabels]),
    ).toEqual([
      ['topology.kubernetes.io/zone', 'ScheduleAnyway', deployment.spec.selector.matchLabels],
      ['kubernetes.io/hostname', 'ScheduleAnyway', deployment.spec.selector.matchLabels],
    ]);
    expect(
      spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey,
    ).toBe('kubernetes.io/hostname');
    for (const name of CONTROLLER_SIDECARS) {
      const c = container(spec, name);
      expect([name, arg(c, 'leader-election'), arg(c, 'leader-election-namespace')]).toEqual([
        name,
        'true',
        '$(NAMESPACE)',
      ]);
      expect([
        name,
        arg(c, 'leader-election-lease-duration'),
        arg(c, 'leader-election-renew-deadline'),
        arg(c, 'leader-election-retry-period'),
      ]).toEqual([name, '15s', '10s', '5s']);
      expect(c.env).toContainEqual({ name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    }
    const node = find<{ spec: { updateStrategy: unknown } } & K8sObject>(objects, 'DaemonSet', '3par-csi-node');
    expect(node.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(arg(container(nodeOf(objects), '3par-csi'), 'max-volumes-per-node')).toBe('128');
    // Tunable: one replica renders no PDB; durations, spread and node rollout follow the values.
    const tuned = render([fixture('minimal.yaml')], {
      release: '3par-csi',
      namespace: 'storage',
      set: [
        'controller.replicas=1',
        'controller.leaderElection.leaseDuration=60s',
        'node.updateStrategy.maxUnavailable=10%',
      ],
    });
    expect(findAll(tuned, 'PodDisruptionBudget')).toEqual([]);
    expect(
      arg(
        container(podSpec(find(tuned, 'Deployment', '3par-csi-controller')), 'csi-attacher'),
        'leader-election-lease-duration',
      ),
    ).toBe('60s');
    expect(
      find<{ spec: { updateStrategy: { rollingUpdate: unknown } } } & K8sObject>(tuned, 'DaemonSet', '3par-csi-node')
        .spec.updateStrategy.rollingUpdate,
    ).toEqual({ maxUnavailable: '10%' });
    // all-options sets its own affinity: it replaces the default anti-affinity.
    expect(controllerOf(all()).affinity?.podAntiAffinity).toBeUndefined();
  });

  it('tracks storage capacity: the CSIDriver says so and the provisioner publishes it, owned by the Deployment', () => {
    const objects = minimal();
    expect(find<ICSIDriver>(objects, 'CSIDriver').spec.storageCapacity).toBe(true);
    const provisioner = container(controllerOf(objects), 'csi-provisioner');
    expect([
      arg(provisioner, 'enable-capacity'),
      arg(provisioner, 'capacity-ownerref-level'),
      arg(provisioner, 'capacity-poll-interval'),
    ]).toEqual(['true', '2', '1m']);
    expect(provisioner.env).toEqual(
      expect.arrayContaining([
        { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ]),
    );
    const off = render([fixture('minimal.yaml')], {
      release: '3par-csi',
      namespace: 'storage',
      set: ['storageCapacity.enabled=false'],
    });
    expect(find<ICSIDriver>(off, 'CSIDriver').spec.storageCapacity).toBe(false);
    expect(
      arg(container(podSpec(find(off, 'Deployment', '3par-csi-controller')), 'csi-provisioner'), 'enable-capacity'),
    ).toBeUndefined();
  });

  it('gives the sidecars timeouts, workers, extra metadata and feature gates that fit 3PAR', () => {
    const spec = controllerOf(minimal());
    const provisioner = container(spec, 'csi-provisioner');
    const attacher = container(spec, 'csi-attacher');
    const snapshotter = container(spec, 'csi-snapshotter');
    const resizer = container(spec, 'csi-resizer');
    expect(seconds(arg(provisioner, 'timeout')!)).toBeGreaterThanOrEqual(60);
    expect(seconds(arg(attacher, 'timeout')!)).toBeGreaterThanOrEqual(150);
    expect(seconds(arg(attacher, 'timeout')!)).toBeLessThanOrEqual(240);
    expect(seconds(arg(snapshotter, 'timeout')!)).toBeGreaterThanOrEqual(60);
    expect(seconds(arg(resizer, 'timeout')!)).toBeGreaterThanOrEqual(60);
    expect(arg(provisioner, 'extra-create-metadata')).toBe('true');
    expect(arg(snapshotter, 'extra-create-metadata')).toBe('true');
    expect(arg(provisioner, 'feature-gates')).toBe('Topology=true');
    expect(arg(snapshotter, 'feature-gates')).toBe('CSIVolumeGroupSnapshot=true');
    expect(arg(resizer, 'handle-volume-inuse-error')).toBe('false');
    // Concurrent calls stay near one backend's default maxInFlight (8) plus a little queueing.
    const workers = [
      arg(provisioner, 'worker-threads'),
      arg(attacher, 'worker-threads'),
      arg(snapshotter, 'worker-threads'),
      arg(resizer, 'workers'),
    ].map(Number);
    for (const w of workers) expect(w).toBeGreaterThanOrEqual(1);
    expect(workers.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(16);
  });

  it('shares one socket path between the driver and its sidecars', () => {
    for (const [spec, dirVolume] of [
      [controllerOf(minimal()), 'socket-dir'],
      [nodeOf(minimal()), 'plugin-dir'],
    ] as const) {
      const driver = container(spec, '3par-csi');
      expect(arg(driver, 'endpoint')).toBe('unix:///csi/csi.sock');
      for (const c of spec.containers) {
        expect(c.volumeMounts).toContainEqual(expect.objectContaining({ name: dirVolume, mountPath: '/csi' }));
        if (c.name !== '3par-csi') expect([c.name, arg(c, 'csi-address')]).toEqual([c.name, '/csi/csi.sock']);
      }
    }
    for (const [file, kubeletDir, driverName] of [
      ['minimal.yaml', '/var/lib/kubelet', 'csi.3par.hpe.example.com'],
      ['all-options.yaml', '/var/lib/k0s/kubelet', 'csi.3par.example.org'],
    ] as const) {
      const spec = nodeOf(rendered(file), file === 'minimal.yaml' ? '3par-csi-node' : '3par-csi-node-rack-a');
      expect(volume(spec, 'plugin-dir').hostPath).toEqual({
        path: `${kubeletDir}/plugins/${driverName}`,
        type: 'DirectoryOrCreate',
      });
      expect(arg(container(spec, 'node-driver-registrar'), 'kubelet-registration-path')).toBe(
        `${kubeletDir}/plugins/${driverName}/csi.sock`,
      );
      expect(volume(spec, 'registration-dir').hostPath?.path).toBe(`${kubeletDir}/plugins_registry`);
      expect(arg(container(spec, '3par-csi'), 'kubelet-dir')).toBe(kubeletDir);
    }
  });

  it('probes the driver through the livenessprobe sidecar and the registrar through its own endpoint', () => {
    for (const objects of [minimal(), all()]) {
      for (const spec of [controllerOf(objects), ...findAll<K8sObject>(objects, 'DaemonSet').map(podSpec)]) {
        const driver = container(spec, '3par-csi');
        expect(driver.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'healthz' });
        // kubelet resolves a probe's named port among the probed container's own ports.
        const port = (driver.ports ?? []).find((p) => p.name === 'healthz');
        const probe = container(spec, 'liveness-probe');
        expect(arg(probe, 'http-endpoint')).toBe(`:${port!.containerPort}`);
        const declared = spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
        expect(new Set(declared).size).toBe(declared.length);
        expect(arg(probe, 'probe-timeout')).toMatch(/^\d+s$/);
        if (spec.hostNetwork) {
          const registrar = container(spec, 'node-driver-registrar');
          expect(registrar.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'registrar' });
          expect(arg(registrar, 'http-endpoint')).toBe(
            `:${registrar.ports!.find((p) => p.name === 'registrar')!.containerPort}`,
          );
        }
      }
    }
  });

  it('runs the controller non-root with a read-only root filesystem and the node plugin privileged', () => {
    const controller = controllerOf(minimal());
    expect(controller.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    for (const c of controller.containers) {
      expect([c.name, c.securityContext]).toEqual([
        c.name,
        { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      ]);
    }
    const node = nodeOf(minimal());
    expect(node.hostPID).toBe(true);
    expect(node.hostNetwork).toBe(true);
    expect(node.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(container(node, '3par-csi').securityContext).toMatchObject({ privileged: true, runAsUser: 0 });
    for (const name of ['node-driver-registrar', 'liveness-probe']) {
      expect(container(node, name).securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container(node, name).securityContext?.privileged).toBeUndefined();
    }
    const simulator = podSpec(find(all(), 'Deployment', '3par-csi-simulator'));
    expect(container(simulator, 'simulator').securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
  });

  it('mounts the host paths the node plugin needs, with bidirectional propagation only on the kubelet directory', () => {
    const spec = nodeOf(minimal());
    const driver = container(spec, '3par-csi');
    const mounts = new Map((driver.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const hostPaths = new Map((spec.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
    for (const path of [
      '/dev',
      '/sys',
      '/etc/iscsi',
      '/var/lib/iscsi',
      '/run/udev',
      '/lib/modules',
      '/var/lib/kubelet',
    ]) {
      const m = mounts.get(path);
      expect([path, m && hostPaths.get(m.name)]).toEqual([path, path]);
    }
    expect(mounts.get('/var/lib/kubelet')?.mountPropagation).toBe('Bidirectional');
    expect(mounts.get('/lib/modules')?.readOnly).toBe(true);
    const bidirectional = spec.containers.flatMap((c) =>
      (c.volumeMounts ?? [])
        .filter((m) => m.mountPropagation === 'Bidirectional')
        .map((m) => `${c.name}:${m.mountPath}`),
    );
    expect(bidirectional).toEqual(['3par-csi:/var/lib/kubelet']);
    expect(
      controllerOf(minimal()).containers.flatMap((c) => (c.volumeMounts ?? []).filter((m) => m.mountPropagation)),
    ).toEqual([]);
    // Multipath is decided by asking the host's multipathd (nsenter), never by a file: no
    // multipath.conf mount, and no hostPath that creates a file on the host.
    for (const s of [spec, nodeOf(all(), '3par-csi-node-rack-a')]) {
      expect((s.volumes ?? []).map((v) => v.hostPath?.path)).not.toContain('/etc/multipath.conf');
      expect((s.volumes ?? []).filter((v) => v.hostPath?.type === 'FileOrCreate')).toEqual([]);
    }
    expect(driver.args).toContain('--multipath=auto');
    expect(container(nodeOf(all(), '3par-csi-node-rack-a'), '3par-csi').args).toContain('--multipath=on');
  });

  it('lets only the controller read the backends Secret, and no pod read a CHAP Secret', () => {
    const objects = all();
    const controller = controllerOf(objects);
    expect(secretsReadBy(controller)).toEqual(['3par-csi-backends']);
    const driverMounts = container(controller, '3par-csi').volumeMounts!.map((m) => m.name);
    expect(driverMounts).toContain('backends');
    for (const c of controller.containers.filter((x) => x.name !== '3par-csi'))
      expect(c.volumeMounts!.map((m) => m.name)).toEqual(['socket-dir']);
    for (const ds of findAll<K8sObject>(objects, 'DaemonSet')) {
      const spec = podSpec(ds);
      expect(secretsReadBy(spec)).toEqual([]);
      expect(spec.automountServiceAccountToken).toBe(false);
    }
    expect(secretsReadBy(podSpec(find(objects, 'Deployment', '3par-csi-simulator')))).toEqual(['3par-csi-simulator']);
    const chap = find<ISecret>(objects, 'Secret', '3par-csi-chap-array1');
    expect(Object.keys(chap.data ?? {}).sort()).toEqual(['chapSecret', 'chapUser']);
    expect([decode(chap, 'chapUser'), decode(chap, 'chapSecret')]).toEqual(['k8s-chap', '0123456789abcd']);
  });

  it('references the CHAP Secret as the node-stage secret of the CHAP backend’s StorageClasses only', () => {
    const objects = all();
    const gold = find<IStorageClass>(objects, 'StorageClass', '3par-gold');
    expect(gold.parameters).toMatchObject({
      backend: 'array1',
      'csi.storage.k8s.io/node-stage-secret-name': '3par-csi-chap-array1',
      'csi.storage.k8s.io/node-stage-secret-namespace': 'storage',
      'csi.storage.k8s.io/fstype': 'xfs',
    });
    for (const name of ['3par-fc', '3par-sim']) {
      expect(Object.keys(find<IStorageClass>(objects, 'StorageClass', name).parameters ?? {})).not.toContain(
        'csi.storage.k8s.io/node-stage-secret-name',
      );
    }
    expect(find<IStorageClass>(objects, 'StorageClass', '3par-fc').parameters?.['backend']).toBe('array2');
  });

  it('writes a backends file the driver accepts, with every array and the simulator', () => {
    const secret = find<ISecret>(all(), 'Secret', '3par-csi-backends');
    const backends = parseBackends(parseYaml(decode(secret, 'backends.yaml')), 'chart');
    expect(backends.map((b) => b.id)).toEqual(['array1', 'array2', 'sim']);
    expect(backends[0]).toMatchObject({
      default: true,
      chap: { user: 'k8s-chap' },
      sessionPoolSize: 6,
      maxInFlight: 12,
    });
    expect(backends[2]!.url).toBe('http://3par-csi-simulator.storage.svc:8443');
    const minimalBackends = parseBackends(
      parseYaml(decode(find<ISecret>(minimal(), 'Secret', '3par-csi-backends'), 'backends.yaml')),
    );
    expect(minimalBackends.map((b) => b.id)).toEqual(['array1']);
  });

  it('passes the node plugin the backend ids only, per node group', () => {
    expect(arg(container(nodeOf(minimal()), '3par-csi'), 'backend-ids')).toBe('array1');
    const objects = all();
    const a = nodeOf(objects, '3par-csi-node-rack-a');
    const b = nodeOf(objects, '3par-csi-node-rack-b');
    expect(arg(container(a, '3par-csi'), 'backend-ids')).toBe('array1,array2,sim');
    expect(arg(container(b, '3par-csi'), 'backend-ids')).toBe('array2');
    expect(a.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      'topology.example.com/rack': 'a',
      'storage.example.com/3par': 'true',
    });
    const nodeArgs = JSON.stringify([...findAll<K8sObject>(objects, 'DaemonSet')]);
    expect(nodeArgs).not.toMatch(/not-a-real-password|another-password|0123456789abcd|3par-1\.example\.com/);
  });

  it('passes the controller the cluster id, driver name and backends file, with flags the CLI knows', () => {
    const known = new Set(SERVE_FLAGS.map((f) => f.name));
    for (const objects of [minimal(), all()]) {
      for (const spec of [controllerOf(objects), ...findAll<K8sObject>(objects, 'DaemonSet').map(podSpec)]) {
        const driver: IContainer = container(spec, '3par-csi');
        expect(driver.args![0]).toBe('serve');
        for (const a of driver.args!.slice(1)) {
          const name = /^--([a-z-]+)(=|$)/.exec(a)?.[1];
          expect([a, name !== undefined && known.has(name)]).toEqual([a, true]);
        }
      }
    }
    const driver = container(controllerOf(minimal()), '3par-csi');
    expect(arg(driver, 'mode')).toBe('controller');
    expect(arg(driver, 'cluster-id')).toBe('prod-east');
    expect(arg(driver, 'backends')).toBe('/etc/3par-csi/backends.yaml');
    expect(container(controllerOf(minimal()), '3par-csi').volumeMounts).toContainEqual({
      name: 'backends',
      mountPath: '/etc/3par-csi',
      readOnly: true,
    });
    expect(arg(container(nodeOf(minimal()), '3par-csi'), 'mode')).toBe('node');
  });

  it('declares the CSIDriver as the design says', () => {
    const driver = find<ICSIDriver>(minimal(), 'CSIDriver');
    expect(driver.spec).toEqual({
      attachRequired: true,
      podInfoOnMount: false,
      fsGroupPolicy: 'File',
      seLinuxMount: true,
      storageCapacity: true,
      volumeLifecycleModes: ['Persistent'],
    });
  });

  it('serves the driver’s and every sidecar’s metrics through a Service and ServiceMonitor, the node plugins’ through a Service and PodMonitor', () => {
    const objects = all();
    const spec = controllerOf(objects);
    expect(arg(container(spec, '3par-csi'), 'metrics-address')).toBe('0.0.0.0:9911');
    const service = find<
      {
        spec: { ports: { name: string; port: number; targetPort: string }[]; selector: Record<string, string> };
      } & K8sObject
    >(objects, 'Service', '3par-csi-controller-metrics');
    expect(service.spec.selector).toEqual(
      find<{ spec: { selector: { matchLabels: Record<string, string> } } } & K8sObject>(
        objects,
        'Deployment',
        '3par-csi-controller',
      ).spec.selector.matchLabels,
    );
    // Every Service port targets a container port of that name, serving what the sidecar's --http-endpoint says.
    const declared = new Map(
      spec.containers.flatMap((c) =>
        (c.ports ?? []).map((p) => [p.name!, { container: c, port: p.containerPort }] as const),
      ),
    );
    expect(service.spec.ports.map((p) => p.name).sort()).toEqual([
      'http-attach',
      'http-provision',
      'http-resize',
      'http-snapshot',
      'metrics',
    ]);
    for (const p of service.spec.ports) {
      const target = declared.get(p.targetPort)!;
      expect([p.name, target.port]).toEqual([p.name, p.port]);
      if (p.name !== 'metrics') {
        expect([p.name, arg(target.container, 'http-endpoint')]).toEqual([p.name, `:${p.port}`]);
        expect(target.container.livenessProbe?.httpGet).toEqual({ path: '/healthz/leader-election', port: p.name });
      }
    }
    const monitor = find<
      { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } } & K8sObject
    >(objects, 'ServiceMonitor');
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
      expect(service.metadata.labels?.[k]).toBe(v);
    expect(monitor.spec.endpoints.map((e) => e.port).sort()).toEqual(service.spec.ports.map((p) => p.name).sort());
    // The node plugins (node.metricsPort set in all-options): every group's pods.
    const nodeService = find<
      { spec: { clusterIP: string; selector: Record<string, string>; ports: { port: number }[] } } & K8sObject
    >(objects, 'Service', '3par-csi-node-metrics');
    const podMonitor = find<
      {
        spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[] };
      } & K8sObject
    >(objects, 'PodMonitor', '3par-csi-node');
    expect(nodeService.spec.ports[0]!.port).toBe(9942);
    expect(podMonitor.spec.podMetricsEndpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s' }]);
    for (const ds of findAll<{ spec: { template: { metadata: { labels: Record<string, string> } } } } & K8sObject>(
      objects,
      'DaemonSet',
    )) {
      for (const selector of [nodeService.spec.selector, podMonitor.spec.selector.matchLabels])
        for (const [k, v] of Object.entries(selector))
          expect([ds.metadata.name, k, ds.spec.template.metadata.labels[k]]).toEqual([ds.metadata.name, k, v]);
      expect(container(podSpec(ds), '3par-csi').ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9942);
    }
    expect(findAll(minimal(), 'PodMonitor')).toEqual([]);
  });

  it('lets the simulator and the node plugin share the simulator data directory at the same path', () => {
    const objects = all();
    const sim = podSpec(find(objects, 'Deployment', '3par-csi-simulator'));
    expect(volume(sim, 'data').hostPath?.path).toBe('/var/lib/3par-sim');
    expect(container(sim, 'simulator').args).toEqual(
      expect.arrayContaining(['simulator', '--host=0.0.0.0', '--port=8443', '--data-dir=/var/lib/3par-sim/data']),
    );
    const known = new Set(SIMULATOR_FLAGS.map((f) => f.name));
    const simulator = container(sim, 'simulator');
    for (const a of simulator.args!.slice(1))
      expect([a, known.has(/^--([a-z-]+)=/.exec(a)?.[1] ?? '')]).toEqual([a, true]);
    expect(simulator.env).toEqual([
      { name: envName('password'), valueFrom: { secretKeyRef: { name: '3par-csi-simulator', key: 'password' } } },
    ]);
    const node = container(nodeOf(objects, '3par-csi-node-rack-a'), '3par-csi');
    expect(arg(node, 'sim-data-dir')).toBe('/var/lib/3par-sim/data');
    expect(node.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/var/lib/3par-sim' }));
  });
});

d('objects of CRDs render only where their API is served', () => {
  const base = [
    '--set',
    'volumeSnapshotClasses[0].name=snap',
    '--set',
    'volumeGroupSnapshotClasses[0].name=group',
    '--set',
    'metrics.serviceMonitor.enabled=true',
  ];
  const run = (apis: string[]) =>
    renderChart(helmRender!, {
      valuesFiles: [fixture('minimal.yaml')],
      release: '3par-csi',
      namespace: 'storage',
      extraArgs: [...base, ...apis],
    });

  it('with the APIs served: the classes and the ServiceMonitor render and validate', () => {
    const r = run(CRD_APIS);
    expect(r.stderr).toBe('');
    const objects = parseObjects(r.stdout);
    expect(validateAll(objects)).toEqual([]);
    for (const kind of ['VolumeSnapshotClass', 'VolumeGroupSnapshotClass', 'ServiceMonitor'])
      expect(findAll(objects, kind)).toHaveLength(1);
  });

  it.each([
    [
      'snapshot.storage.k8s.io/v1',
      /volumeSnapshotClasses: the cluster does not serve snapshot\.storage\.k8s\.io\/v1\. Install external-snapshotter v8\.6's CRDs \(volumesnapshotclasses, volumesnapshots and volumesnapshotcontents\.snapshot\.storage\.k8s\.io\)/,
    ],
    [
      'groupsnapshot.storage.k8s.io/v1',
      /volumeGroupSnapshotClasses: the cluster does not serve groupsnapshot\.storage\.k8s\.io\/v1\. Install external-snapshotter v8\.6's CRDs \(volumegroupsnapshotclasses, volumegroupsnapshots and volumegroupsnapshotcontents/,
    ],
    [
      'monitoring.coreos.com/v1',
      /metrics\.serviceMonitor\.enabled: the cluster does not serve monitoring\.coreos\.com\/v1\. Install the Prometheus Operator's CRDs \(servicemonitors\.monitoring\.coreos\.com\)/,
    ],
  ])('without %s: the render fails naming the CRDs to install', (missing, message) => {
    const apis: string[] = [];
    for (let i = 0; i < CRD_APIS.length; i += 2)
      if (CRD_APIS[i + 1] !== missing) apis.push(CRD_APIS[i]!, CRD_APIS[i + 1]!);
    const r = run(apis);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('values that ask for none of them need none of the APIs', () => {
    expect(validateAll(render([fixture('minimal.yaml')], { release: '3par-csi', namespace: 'storage' }))).toEqual([]);
  });
});

d('a production-like install (fixtures/production.yaml)', () => {
  it('renders 35 valid objects: what each kind is for is in docs/install.md', () => {
    const objects = rendered('production.yaml');
    expect(validateAll(objects)).toEqual([]);
    const kinds: Record<string, number> = {};
    for (const o of objects) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
    expect(kinds).toEqual({
      CSIDriver: 1,
      ClusterRole: 4,
      ClusterRoleBinding: 4,
      Role: 4,
      RoleBinding: 4,
      ServiceAccount: 2,
      Secret: 2,
      Deployment: 1,
      PodDisruptionBudget: 1,
      DaemonSet: 2,
      Service: 2,
      ServiceMonitor: 1,
      PodMonitor: 1,
      ConfigMap: 1,
      StorageClass: 2,
      VolumeSnapshotClass: 1,
      VolumeGroupSnapshotClass: 1,
      VolumeAttributesClass: 1,
    });
    // Each data centre's nodes report their own array; each class is limited to its array's nodes.
    const node = (group: string) =>
      container(podSpec(find(objects, 'DaemonSet', `3par-csi-node-${group}`)), '3par-csi');
    expect([arg(node('dc1'), 'backend-ids'), arg(node('dc2'), 'backend-ids')]).toEqual(['dc1-a', 'dc2-b']);
    expect(find<IStorageClass>(objects, 'StorageClass', '3par-fc-dc2').allowedTopologies).toEqual([
      { matchLabelExpressions: [{ key: 'csi.3par.hpe.example.com/backend-dc2-b', values: ['true'] }] },
    ]);
    expect(Object.keys(find<IStorageClass>(objects, 'StorageClass', '3par-fc-dc2').parameters ?? {})).not.toContain(
      'csi.storage.k8s.io/node-stage-secret-name',
    );
    expect(
      find<IStorageClass>(objects, 'StorageClass', '3par-gold').parameters?.[
        'csi.storage.k8s.io/node-stage-secret-name'
      ],
    ).toBe('3par-csi-chap-dc1-a');
  });
});
