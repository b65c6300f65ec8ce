/**
 * The chart's sidecars drive the driver through a real control plane (one backend: the driver's
 * embedded simulator). Flows run in order on one cluster; each asserts the Kubernetes objects and
 * what the array (the simulator, through its WSAPI) holds.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubernetesObjectApi, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { K8sObject } from '../packaging/render.js';
import { detachLoopsUnder, unmountUnder } from '../helpers/host.js';
import { startCluster, startProc, waitFor, waitGone, type Cluster, type Obj } from './cluster.js';
import { ArrayView, NAMESPACE, applyObjects, installCrds, nodeDaemonSets, renderValues, startController, startNodePlugin, type Controller } from './install.js';
import { FakeKubelet, attachmentName } from './kubelet.js';
import { binary, skipReason } from './tools.js';
import { TASK_TYPE } from '../../src/simulator/model/types.js';

const SKIP = skipReason();
if (SKIP) console.log(`test/k8s skipped: ${SKIP}`);
const suite = SKIP ? describe.skip : describe;

const DRIVER = 'csi.3par.hpe.example.com';
const NS = 'default';
const NODE = 'node-1';
const T = 300_000;
// Each wait's safety net, below the test's timeout so that a stuck wait reports what it awaited.
const W = 120_000;

export const VALUES = {
  clusterId: 'k8s-tier',
  simulator: { enabled: true },
  storageClasses: [
    { name: 'sim-immediate', backend: 'sim', volumeBindingMode: 'Immediate', parameters: { accessProtocol: 'loop' } },
    { name: 'sim-wffc', backend: 'sim', parameters: { accessProtocol: 'loop' } },
  ],
  volumeSnapshotClasses: [{ name: 'snap', deletionPolicy: 'Delete' }],
  volumeGroupSnapshotClasses: [{ name: 'group-snap', deletionPolicy: 'Delete' }],
  volumeAttributesClasses: [{ name: 'fc-snap', parameters: { snapCpg: 'FC_r6' } }],
};

suite('a real control plane with the chart', () => {
  let dir: string;
  let cluster: Cluster;
  let objects: K8sObject[];
  let controller: Controller;
  let kubelet: FakeKubelet;
  let array: ArrayView;
  let core: CoreV1Api;
  let api: KubernetesObjectApi;
  const stops: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), '3par-k8s-'));
    const t0 = Date.now();
    cluster = await startCluster(join(dir, 'cluster'));
    stops.push(() => cluster.stop());
    core = cluster.admin.makeApiClient(CoreV1Api);
    api = KubernetesObjectApi.makeApiClient(cluster.admin);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    await installCrds(cluster.admin);
    objects = renderValues(cluster.dir, 'flows', VALUES);
    await applyObjects(cluster.admin, objects);
    controller = await startController(cluster, objects);
    stops.push(() => controller.stop());
    array = new ArrayView(controller.sim);
    const ds = nodeDaemonSets(objects);
    expect(ds).toHaveLength(1);
    const kubeletDir = join(dir, 'kubelet');
    const node = startNodePlugin(cluster, ds[0]!, NODE, kubeletDir, controller.sim.dataDir);
    stops.push(() => node.proc.stop());
    kubelet = new FakeKubelet(cluster.admin, NODE, DRIVER, node.socket, kubeletDir);
    stops.push(() => kubelet.close());
    await kubelet.register({});
    // snapshot-controller is not part of the chart (the cluster's, installed with the CRDs;
    // docs/install.md): it runs as admin, with the gate that serves VolumeGroupSnapshots.
    const snapshotController = startProc(cluster.dir, 'snapshot-controller', binary('snapshot-controller'), [`--kubeconfig=${cluster.adminKubeconfig}`, '--leader-election=false', '--feature-gates=CSIVolumeGroupSnapshot=true']);
    stops.push(() => snapshotController.stop());
    console.log(`test/k8s: control plane, chart and driver up in ${Date.now() - t0} ms`);
  }, T);

  afterAll(async () => {
    for (const s of stops.reverse()) await s();
    if (dir) {
      unmountUnder(dir);
      detachLoopsUnder(dir);
      if (controller) detachLoopsUnder(controller.sim.dataDir);
      if (!process.env['K8S_KEEP']) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      else console.log(`test/k8s: kept ${dir}`);
    }
  }, T);

  const pvc = (name: string, sc: string, size = '1Gi', extra: Partial<V1PersistentVolumeClaim['spec']> = {}): V1PersistentVolumeClaim => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NS },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: sc, resources: { requests: { storage: size } }, ...extra },
  });
  const bound = (name: string): Promise<V1PersistentVolumeClaim> =>
    waitFor<V1PersistentVolumeClaim>(cluster.admin, `/api/v1/namespaces/${NS}/persistentvolumeclaims`, name, `PVC ${name} Bound`, (o) => o.status?.phase === 'Bound', W);
  const pvOf = async (claim: V1PersistentVolumeClaim) => core.readPersistentVolume({ name: claim.spec!.volumeName! });
  const arrayName = (handle: string): string => handle.split('/')[1]!;

  test('PVC with Immediate binding → CreateVolume → PV bound, volume on the array', async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: pvc('imm', 'sim-immediate') });
    const claim = await bound('imm');
    const pv = await pvOf(claim);
    expect(pv.spec!.csi!.driver).toBe(DRIVER);
    expect(pv.spec!.csi!.volumeHandle).toMatch(/^sim\//);
    expect(pv.spec!.capacity!['storage']).toBe('1Gi');
    // One backend: no topology, so no node affinity.
    expect(pv.spec!.nodeAffinity).toBeUndefined();
    const vol = await array.get<{ sizeMiB: number; comment: string }>(`/volumes/${arrayName(pv.spec!.csi!.volumeHandle)}`);
    expect(vol.sizeMiB).toBe(1024);
    // --extra-create-metadata: the PVC's name reached the marker.
    expect(vol.comment).toContain('imm');
  }, T);

  const podBody = (name: string, claims: string[]) => ({
    metadata: { name, namespace: NS },
    spec: {
      automountServiceAccountToken: false,
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
      volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })),
    },
  });
  const vaPath = '/apis/storage.k8s.io/v1/volumeattachments';

  test('WaitForFirstConsumer: the scheduler picks the node, the PV is provisioned for it; the pod attaches (VolumeAttachment → VLUN), mounts, and detaches when it goes', async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: pvc('wffc', 'sim-wffc') });
    const pending = await core.readNamespacedPersistentVolumeClaim({ name: 'wffc', namespace: NS });
    expect(pending.status?.phase).toBe('Pending');
    await core.createNamespacedPod({ namespace: NS, body: podBody('app', ['wffc']) });
    const claim = await bound('wffc');
    expect(claim.metadata!.annotations!['volume.kubernetes.io/selected-node']).toBe(NODE);
    const pod = await kubelet.startPod(NS, 'app');
    const pv = await pvOf(claim);
    const handle = pv.spec!.csi!.volumeHandle;
    const va = await waitFor(cluster.admin, vaPath, attachmentName(handle, DRIVER, NODE), 'VolumeAttachment attached', (o) => (o.status as { attached?: boolean } | undefined)?.attached === true, W);
    expect((va.spec as { nodeName: string }).nodeName).toBe(NODE);
    expect((va.status as { attachmentMetadata: Record<string, string> }).attachmentMetadata).toMatchObject({ protocol: 'loop' });
    // ControllerPublish made a host for the node and a VLUN of the volume on it.
    const vluns = await array.members<{ volumeName: string; hostname: string }>('/vluns');
    expect(vluns).toEqual([expect.objectContaining({ volumeName: arrayName(handle) })]);
    expect((await array.census()).hosts).toHaveLength(1);
    expect(pod.spec!.nodeName).toBe(NODE);
    await kubelet.stopPod(NS, 'app');
    await waitGone(cluster.admin, { apiVersion: 'storage.k8s.io/v1', kind: 'VolumeAttachment', name: va.metadata!.name! }, vaPath, W);
    const after = await array.census();
    expect(after.vluns).toBe(0);
    // The host the driver made goes with its last VLUN.
    expect(after.hosts).toEqual([]);
  }, T);

  const SNAP = 'snapshot.storage.k8s.io/v1';
  const snapPath = `/apis/${SNAP}/namespaces/${NS}/volumesnapshots`;
  const ready = (o: Obj): boolean => {
    const st = o.status as { readyToUse?: boolean; error?: { message?: string } } | undefined;
    if (st?.error?.message) throw new Error(`${o.kind} ${o.metadata?.name}: ${st.error.message}`);
    return st?.readyToUse === true;
  };

  test('VolumeSnapshot → CreateSnapshot → ready; the array holds a virtual copy of the volume', async () => {
    await api.create({ apiVersion: SNAP, kind: 'VolumeSnapshot', metadata: { name: 'snap1', namespace: NS }, spec: { volumeSnapshotClassName: 'snap', source: { persistentVolumeClaimName: 'imm' } } } as Obj);
    const snap = await waitFor(cluster.admin, snapPath, 'snap1', 'VolumeSnapshot snap1 readyToUse', ready, W);
    const content = (await api.read({ apiVersion: SNAP, kind: 'VolumeSnapshotContent', metadata: { name: (snap.status as { boundVolumeSnapshotContentName: string }).boundVolumeSnapshotContentName } })) as Obj;
    const handle = (content.status as { snapshotHandle: string }).snapshotHandle;
    expect(handle).toMatch(/^sim\//);
    const source = await pvOf(await core.readNamespacedPersistentVolumeClaim({ name: 'imm', namespace: NS }));
    const copy = await array.get<{ copyOf: string; readOnly: boolean }>(`/volumes/${arrayName(handle)}`);
    expect(copy.copyOf).toBe(arrayName(source.spec!.csi!.volumeHandle));
    expect((snap.status as { restoreSize: string }).restoreSize).toBe('1Gi');
  }, T);

  test('PVC from the snapshot and PVC from a PVC (clone) → bound; the array made online physical copies', async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: pvc('restored', 'sim-immediate', '1Gi', { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap1' } }) });
    await core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: pvc('clone', 'sim-immediate', '1Gi', { dataSource: { apiGroup: '', kind: 'PersistentVolumeClaim', name: 'imm' } }) });
    const restored = await pvOf(await bound('restored'));
    const clone = await pvOf(await bound('clone'));
    // Each new volume was the target of an online physical copy task (the driver tracked it).
    const tasks = await array.members<{ type: number; name: string; status: number }>('/tasks');
    for (const pv of [restored, clone]) {
      const name = arrayName(pv.spec!.csi!.volumeHandle);
      const vol = await array.get<{ sizeMiB: number; comment: string }>(`/volumes/${name}`);
      expect(vol.sizeMiB).toBe(1024);
      expect(tasks.filter((t) => t.name === name && t.type === TASK_TYPE.ONLINE_COPY)).toHaveLength(1);
    }
  }, T);



});
