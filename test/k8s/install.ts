/**
 * The chart, installed on the test's control plane the way the cluster would run it, minus the
 * kubelet: the rendered API objects are created through the API (RBAC, ServiceAccounts, CSIDriver,
 * classes, Secrets; the snapshotter's release CRDs first), and the containers of the rendered
 * controller Deployment and node DaemonSets run as local processes with their rendered args.
 * Only what a pod would provide differently is substituted, each named where it happens:
 *   - `/csi/csi.sock` (the shared emptyDir socket)        → a socket in the run's directory;
 *   - `$(VAR)` from the downward API (NAMESPACE, NODE_NAME) → the value the pod would get;
 *   - the in-cluster ServiceAccount token                  → `--kubeconfig` with a TokenRequest
 *                                                             token of the pod's ServiceAccount;
 *   - the driver's `--backends=/etc/3par-csi/backends.yaml` → `--simulator` (the chart's simulator
 *     mode makes backend `sim` a simulator Deployment; here the driver embeds it), plus a file of
 *     the rendered Secret's other backends when there are any;
 *   - `--kubelet-dir` and the simulator's data directory   → directories of the run;
 *   - `--metrics-address=0.0.0.0:PORT`                     → a free loopback port;
 *   - a sidecar's `--http-endpoint=:PORT`                  → a free loopback port (a fixed port
 *     would collide with another run on the machine, or a process left by one).
 * The liveness-probe and node-driver-registrar containers are not run (their binaries are not in
 * the tool set); the test registers the Node and CSINode objects the registrar would.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CoreV1Api, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import type { IContainer, IEnvVar } from 'kubernetes-models/v1';
import { REPO_ROOT, find, findAll, parseObjects, podSpec, render, type K8sObject } from '../packaging/render.js';
import { freePort, startCluster, startProc, waitFor, type Cluster, type Proc } from './cluster.js';
import { CRDS_DIR, binary, type Binary } from './tools.js';
import { FakeKubelet } from './kubelet.js';
import { detachLoopsUnder, unmountUnder } from '../helpers/host.js';

export const RELEASE = 't';
export const NAMESPACE = 'csi-system';
const SOCKET_IN_POD = '/csi/csi.sock';
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Kinds created through the API; workloads and Services are not (no kubelet runs their pods). */
const API_KINDS = new Set([
  'ServiceAccount',
  'Secret',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'CSIDriver',
  'StorageClass',
  'VolumeSnapshotClass',
  'VolumeGroupSnapshotClass',
  'VolumeAttributesClass',
]);

/** Renders the chart with `values` (written to the run's directory) into objects. */
export function renderValues(dir: string, name: string, values: unknown): K8sObject[] {
  const file = join(dir, `${name}.values.yaml`);
  writeFileSync(file, stringify(values));
  // The cluster serves the snapshotter's release CRDs (installCrds), which the chart's CRD gate
  // asks for; it has no Prometheus operator.
  return render([file], {
    release: RELEASE,
    namespace: NAMESPACE,
    extraArgs: ['--api-versions', 'snapshot.storage.k8s.io/v1', '--api-versions', 'groupsnapshot.storage.k8s.io/v1'],
  });
}

/** Creates the snapshotter's release CRDs and waits until the API serves each. */
export async function installCrds(kc: KubeConfig): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const crds = readdirSync(CRDS_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseObjects(readFileSync(join(CRDS_DIR, f), 'utf8')));
  for (const crd of crds) await api.create(crd as never);
  for (const crd of crds) {
    await waitFor(
      kc,
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      crd.metadata.name,
      `CRD ${crd.metadata.name} Established`,
      (o) =>
        ((o.status?.['conditions'] ?? []) as { type: string; status: string }[]).some(
          (c) => c.type === 'Established' && c.status === 'True',
        ),
    );
  }
}

/** Creates the chart's API objects (the namespace first). */
export async function applyObjects(kc: KubeConfig, objects: K8sObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) if (API_KINDS.has(obj.kind)) await api.create(obj as never);
}

/** The value `$(NAME)` expands to in a pod: env values and the downward-API fields the chart uses. */
function podEnv(container: IContainer, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of (container.env ?? []) as IEnvVar[]) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined)
        throw new Error(
          `container ${container.name}: env ${e.name} reads ${e.valueFrom.fieldRef.fieldPath}, which the test does not provide`,
        );
      out[e.name] = v;
    } else throw new Error(`container ${container.name}: env ${e.name} has a source the test does not provide`);
  }
  return out;
}

/** Expands `$(VAR)` as the kubelet does; an unknown variable fails (the pod would see it literally). */
function expand(arg: string, env: Record<string, string>, container: string): string {
  return arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, v: string) => {
    if (env[v] === undefined)
      throw new Error(`container ${container}: arg ${arg} names $(${v}), which its env does not define`);
    return env[v]!;
  });
}

/** The sidecars of the controller Deployment this tier runs, by container name. */
export const SIDECARS: Record<string, Binary> = {
  'csi-provisioner': 'csi-provisioner',
  'csi-attacher': 'csi-attacher',
  'csi-snapshotter': 'csi-snapshotter',
  'csi-resizer': 'csi-resizer',
};

/** What `serve --simulator` prints about its embedded simulator. */
export interface EmbeddedSim {
  url: string;
  username: string;
  password: string;
  dataDir: string;
}

export interface Controller {
  socket: string;
  driver: Proc;
  sim: EmbeddedSim;
  sidecars: Map<string, Proc>;
  /** The exact command line each sidecar runs with (for the report and the assertions). */
  sidecarArgs: Map<string, string[]>;
  stop(): Promise<void>;
}

/** Waits until a process's log holds a line matching `re` (bounded; fails if the process exits). */
export async function logLine(proc: Proc, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(readFileSync(proc.logFile, 'utf8'));
    if (m) return m;
    if (proc.exited)
      throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}) before printing ${re}:\n${proc.tail()}`);
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${proc.name} to print ${re}; ${proc.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the controller pod's containers: the driver (`serve` with the rendered args, the
 * embedded simulator as backend `sim`), then each sidecar as the pod's ServiceAccount.
 */
export async function startController(
  cluster: Cluster,
  objects: K8sObject[],
  options: { otherBackends?: string } = {},
): Promise<Controller> {
  const dir = cluster.dir;
  const deployment = find(objects, 'Deployment', `${RELEASE}-3par-csi-controller`);
  const spec = podSpec(deployment);
  const socket = join(dir, 'controller.sock');
  const podName = `${RELEASE}-3par-csi-controller-0`;
  const fields = {
    'metadata.namespace': NAMESPACE,
    'metadata.name': podName,
    'spec.nodeName': 'node-1',
    'spec.serviceAccountName': spec.serviceAccountName!,
  };
  const driverC = spec.containers.find((c) => c.name === '3par-csi')!;
  const driverEnv = podEnv(driverC, fields);
  const driverArgs = (driverC.args ?? []).map((a) => expand(a, driverEnv, driverC.name));
  const args: string[] = [];
  for (const a of driverArgs) {
    if (a === `--endpoint=unix://${SOCKET_IN_POD}`) args.push(`--endpoint=unix://${socket}`);
    else if (a === '--backends=/etc/3par-csi/backends.yaml') {
      args.push('--simulator');
      if (options.otherBackends) args.push(`--backends=${options.otherBackends}`);
    } else if (a.startsWith('--metrics-address=')) args.push(`--metrics-address=127.0.0.1:${await freePort()}`);
    else args.push(a);
  }
  const procs: Proc[] = [];
  const driver = startProc(dir, 'driver-controller', process.execPath, [CLI, ...args], {
    ...process.env,
    ...driverEnv,
  });
  procs.push(driver);
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  try {
    const m = await logLine(driver, /WSAPI (\S+) {2}user (\S+) {2}password (\S+)\n {2}data plane (\S+),/);
    const sim: EmbeddedSim = { url: m[1]!, username: m[2]!, password: m[3]!, dataDir: m[4]! };
    const kubeconfig = await cluster.serviceAccountKubeconfig(NAMESPACE, spec.serviceAccountName!);
    const provisioner = spec.containers.find((c) => c.name === 'csi-provisioner');
    if (provisioner?.args?.includes('--enable-capacity') || provisioner?.args?.includes('--enable-capacity=true'))
      await createOwnerChain(cluster, deployment, podName);
    const sidecars = new Map<string, Proc>();
    const sidecarArgs = new Map<string, string[]>();
    for (const c of spec.containers) {
      const bin = SIDECARS[c.name];
      if (!bin) continue;
      const env = podEnv(c, fields);
      const a = (c.args ?? [])
        .map((x) => expand(x, env, c.name))
        .map((x) => (x === `--csi-address=${SOCKET_IN_POD}` ? `--csi-address=${socket}` : x));
      // The pod's fixed metrics/health port is the machine's here: a free loopback port instead.
      const http = a.findIndex((x) => x.startsWith('--http-endpoint='));
      if (http !== -1) a[http] = `--http-endpoint=127.0.0.1:${await freePort()}`;
      a.push(`--kubeconfig=${kubeconfig}`);
      sidecarArgs.set(c.name, a);
      const p = startProc(dir, c.name, binary(bin), a, { ...process.env, ...env });
      procs.push(p);
      sidecars.set(c.name, p);
    }
    return { socket, driver, sim, sidecars, sidecarArgs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * With capacity tracking the provisioner owns its CSIStorageCapacity objects through its pod's
 * owners (--capacity-ownerref-level: 0 the pod, 1 its ReplicaSet, 2 the Deployment): the
 * Deployment as rendered, a ReplicaSet and the pod (POD_NAME) are created as the Deployment and
 * ReplicaSet controllers would (those controllers are not run: nothing here runs pods).
 */
async function createOwnerChain(cluster: Cluster, deployment: K8sObject, podName: string): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(cluster.admin);
  const dep = (await api.create(deployment as never)) as K8sObject & { metadata: { uid: string } };
  const template = (
    deployment as unknown as {
      spec: {
        selector: unknown;
        template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      };
    }
  ).spec;
  const owner = (o: { apiVersion: string; kind: string; metadata: { name: string; uid?: string } }) => [
    { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid!, controller: true },
  ];
  const rs = (await api.create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${dep.metadata.name}-0`, namespace: NAMESPACE, ownerReferences: owner(dep) },
    spec: { replicas: 1, selector: template.selector, template: template.template },
  } as never)) as K8sObject & { metadata: { uid: string } };
  await api.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName,
      namespace: NAMESPACE,
      labels: template.template.metadata.labels,
      ownerReferences: owner(rs),
    },
    spec: { ...template.template.spec, nodeName: 'node-1' },
  } as never);
}

/** The rendered backends Secret's entries other than `sim`, as a backends file (or undefined). */
export function otherBackendsFile(dir: string, objects: K8sObject[]): string | undefined {
  const secret = find<{ data: Record<string, string> }>(objects, 'Secret', `${RELEASE}-3par-csi-backends`);
  const list = parse(Buffer.from(secret.data['backends.yaml']!, 'base64').toString('utf8')) as { id: string }[];
  const others = list.filter((b) => b.id !== 'sim');
  if (others.length === 0) return undefined;
  const file = join(dir, 'backends.yaml');
  writeFileSync(file, stringify(others), { mode: 0o600 });
  return file;
}

/** The node DaemonSets the chart renders (one, or one per node group). */
export function nodeDaemonSets(objects: K8sObject[]): K8sObject[] {
  return findAll(objects, 'DaemonSet');
}

/**
 * Starts the node plugin of `daemonSet` as node `nodeName`, with the rendered args (substitutions
 * in the header). `simDataDir` replaces the chart's simulator data path.
 */
export function startNodePlugin(
  cluster: Cluster,
  daemonSet: K8sObject,
  nodeName: string,
  kubeletDir: string,
  simDataDir: string,
): { proc: Proc; socket: string } {
  const spec = podSpec(daemonSet);
  const c = spec.containers.find((x) => x.name === '3par-csi')!;
  const env = podEnv(c, { 'spec.nodeName': nodeName, 'metadata.namespace': NAMESPACE });
  const socket = join(cluster.dir, `node-${nodeName}.sock`);
  const args = (c.args ?? []).map((a) => {
    const x = expand(a, env, c.name);
    if (x === `--endpoint=unix://${SOCKET_IN_POD}`) return `--endpoint=unix://${socket}`;
    if (x.startsWith('--kubelet-dir=')) return `--kubelet-dir=${kubeletDir}`;
    if (x.startsWith('--sim-data-dir=')) return `--sim-data-dir=${simDataDir}`;
    if (x.startsWith('--metrics-address=')) throw new Error('node metrics are not expected in the test values');
    return x;
  });
  const proc = startProc(cluster.dir, `driver-${nodeName}`, process.execPath, [CLI, ...args], {
    ...process.env,
    ...env,
  });
  return { proc, socket };
}

/** What a suite started, stopped last first by `tearDown`. */
export type Stops = (() => Promise<void> | void)[];

/**
 * A suite's control plane in a new temp dir: the cluster (its stop on `stops`), the chart's
 * namespace and the snapshotter's CRDs.
 */
export async function startSuiteCluster(stops: Stops): Promise<{ dir: string; cluster: Cluster; core: CoreV1Api }> {
  const dir = mkdtempSync(join(tmpdir(), '3par-k8s-'));
  const cluster = await startCluster(join(dir, 'cluster'));
  stops.push(() => cluster.stop());
  const core = cluster.admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await installCrds(cluster.admin);
  return { dir, cluster, core };
}

/**
 * Starts the node plugin of `daemonSet` as node `name` (kubelet dir `<dir>/<kubeletName>`) and
 * the fake kubelet that registers it (driver `driver`) with the Node `labels`; both go on `stops`.
 */
export async function startNode(
  cluster: Cluster,
  dir: string,
  stops: Stops,
  node: {
    driver: string;
    daemonSet: K8sObject;
    name: string;
    kubeletName: string;
    simDataDir: string;
    labels: Record<string, string>;
  },
): Promise<FakeKubelet> {
  const kubeletDir = join(dir, node.kubeletName);
  const plugin = startNodePlugin(cluster, node.daemonSet, node.name, kubeletDir, node.simDataDir);
  stops.push(() => plugin.proc.stop());
  const kubelet = new FakeKubelet(cluster.admin, node.name, node.driver, plugin.socket, kubeletDir);
  stops.push(() => kubelet.close());
  await kubelet.register(node.labels);
  return kubelet;
}

/**
 * Stops what the suite started (last first), then unmounts and detaches what is left under its
 * directory and the embedded simulator's, and removes the directory (kept with K8S_KEEP=1).
 */
export async function tearDown(
  stops: Stops,
  dir: string | undefined,
  controller: Controller | undefined,
): Promise<void> {
  for (const s of stops.reverse()) await s();
  if (!dir) return;
  unmountUnder(dir);
  detachLoopsUnder(dir);
  if (controller) detachLoopsUnder(controller.sim.dataDir);
  if (!process.env['K8S_KEEP']) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  else console.log(`test/k8s: kept ${dir}`);
}

/** A minimal WSAPI client for the assertions on the array (the simulator's own API). */
export class ArrayView {
  private key: string | undefined;
  constructor(private readonly sim: { url: string; username: string; password: string }) {}

  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    if (!this.key) {
      const r = await fetch(`${this.sim.url}/api/v1/credentials`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: this.sim.username, password: this.sim.password }),
      });
      if (r.status !== 201) throw new Error(`WSAPI login: HTTP ${r.status}`);
      this.key = ((await r.json()) as { key: string }).key;
    }
    const r = await fetch(`${this.sim.url}/api/v1${path}`, { headers: { 'X-HP3PAR-WSAPI-SessionKey': this.key } });
    if (r.status === 404) throw Object.assign(new Error(`WSAPI GET ${path}: 404`), { status: 404 });
    if (r.status !== 200) throw new Error(`WSAPI GET ${path}: HTTP ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  async members<T = Record<string, unknown>>(path: string): Promise<T[]> {
    return (await this.get<{ members: T[] }>(path)).members;
  }

  /** Volumes, hosts, VLUNs and VV sets the array holds. */
  async census(): Promise<{ volumes: string[]; hosts: string[]; vluns: number; volumeSets: string[] }> {
    const [volumes, hosts, vluns, sets] = await Promise.all([
      this.members<{ name: string }>('/volumes'),
      this.members<{ name: string }>('/hosts'),
      this.members('/vluns'),
      this.members<{ name: string }>('/volumesets'),
    ]);
    return {
      volumes: volumes.map((v) => v.name).sort(),
      hosts: hosts.map((h) => h.name).sort(),
      vluns: vluns.length,
      volumeSets: sets.map((s) => s.name).sort(),
    };
  }
}
