/**
 * Two backends and two node groups on a real control plane: backend `sim` (the driver's embedded
 * simulator) reached by the nodes of group `ga`, backend `b` (a second `3par-csi simulator`
 * process) by group `gb`. PVs get the node affinity of their backend, and the scheduler puts the
 * pods where it holds.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { REPO_ROOT, podSpec, type K8sObject } from '../packaging/render.js';
import { startProc, waitFor, waitGone, type Cluster, type Proc } from './cluster.js';
import {
  ArrayView,
  applyObjects,
  logLine,
  nodeDaemonSets,
  otherBackendsFile,
  renderValues,
  startController,
  startNode,
  startSuiteCluster,
  tearDown,
  type Controller,
  type Stops,
} from './install.js';
import { FakeKubelet } from './kubelet.js';
import { skipReason } from './tools.js';
import { describeUnless } from '../helpers/skip.js';

const DRIVER = 'csi.3par.hpe.example.com';
const NS = 'default';
const T = 300_000;
const W = 120_000;
const GROUP_LABEL = '3par-csi.test/group';
const key = (id: string): string => `${DRIVER}/backend-${id}`;

const values = (bUrl: string) => ({
  clusterId: 'k8s-tier',
  simulator: { enabled: true },
  backends: [{ id: 'b', url: bUrl, username: '3paradm', password: '3pardata' }],
  nodeGroups: [
    { name: 'ga', nodeSelector: { [GROUP_LABEL]: 'a' }, backendIds: ['sim'] },
    { name: 'gb', nodeSelector: { [GROUP_LABEL]: 'b' }, backendIds: ['b'] },
  ],
  // allowedTopologies given explicitly: the chart does not render them for a class's backend yet
  // (issue #19 item 1); without them a WaitForFirstConsumer claim may land on a node of the
  // other group.
  storageClasses: [
    {
      name: 'on-sim',
      backend: 'sim',
      parameters: { accessProtocol: 'loop' },
      allowedTopologies: [{ matchLabelExpressions: [{ key: key('sim'), values: ['true'] }] }],
    },
    {
      name: 'on-b',
      backend: 'b',
      parameters: { accessProtocol: 'loop', cpg: 'SSD_r6' },
      allowedTopologies: [{ matchLabelExpressions: [{ key: key('b'), values: ['true'] }] }],
    },
  ],
});

/**
 * Whether a node plugin started with the rendered args of a single-backend group reports its
 * segment (NodeGetInfo through `3par-csi call`); the reason to skip when it does not.
 */
function topologyGap(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), '3par-k8s-probe-'));
  try {
    const objects = renderValues(dir, 'probe', values('http://127.0.0.1:9'));
    const ga = nodeDaemonSets(objects).find((d) => d.metadata.name.endsWith('-ga'))!;
    const args = (podSpec(ga).containers.find((c) => c.name === '3par-csi')!.args ?? []).filter(
      (a) => a.startsWith('--backend-ids=') || a.startsWith('--driver-name='),
    );
    const cli = join(REPO_ROOT, 'dist', 'cli', 'main.js');
    const sock = join(dir, 'n.sock');
    // Starts the node plugin, waits (bounded) for its socket, asks NodeGetInfo, stops it.
    const out = execFileSync(
      'sh',
      [
        '-c',
        'c=$1 s=$2 k=$3; shift 3; "$0" "$c" serve --mode=node --endpoint=unix://"$s" --node-name=probe --kubelet-dir="$k" --log-level=silent "$@" & p=$!; i=0; while [ ! -S "$s" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "$0" "$c" call NodeGetInfo --endpoint unix://"$s"; r=$?; kill $p; exit $r',
        process.execPath,
        cli,
        sock,
        join(dir, 'kubelet'),
        ...args,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    const info = JSON.parse(out) as { accessible_topology?: { segments?: Record<string, string> } | null };
    if (!info.accessible_topology?.segments?.[key('sim')]) {
      return `a node of a single-backend node group (${args.join(' ')}) reports no topology segment, while the controller with two backends gives every PV node affinity: the chart/driver fix of issue #19 item 1 ("nodes report their segments whenever topology is on") is missing`;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SKIP = skipReason() ?? topologyGap();
// Declared (test/helpers/skip.ts): jest drops the console output of a file whose tests all skip.
const suite = describeUnless(SKIP);

suite('two backends, two node groups, on a real control plane', () => {
  let dir: string;
  let cluster: Cluster;
  let controller: Controller;
  let simB: Proc;
  const kubelets = new Map<string, FakeKubelet>();
  const arrays = new Map<string, ArrayView>();
  let core: CoreV1Api;
  const stops: Stops = [];

  beforeAll(async () => {
    ({ dir, cluster, core } = await startSuiteCluster(stops));
    const bData = join(dir, 'sim-b');
    simB = startProc(cluster.dir, 'simulator-b', process.execPath, [
      join(REPO_ROOT, 'dist', 'cli', 'main.js'),
      'simulator',
      '--port=0',
      `--data-dir=${bData}`,
    ]);
    stops.push(() => simB.stop());
    const url = (await logLine(simB, /(http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const objects: K8sObject[] = renderValues(cluster.dir, 'topology', values(url));
    await applyObjects(cluster.admin, objects);
    controller = await startController(cluster, objects, { otherBackends: otherBackendsFile(cluster.dir, objects) });
    stops.push(() => controller.stop());
    arrays.set('sim', new ArrayView(controller.sim));
    arrays.set('b', new ArrayView({ url, username: '3paradm', password: '3pardata' }));
    for (const [group, node, data] of [
      ['ga', 'node-a', controller.sim.dataDir],
      ['gb', 'node-b', bData],
    ] as const) {
      const ds = nodeDaemonSets(objects).find((d) => d.metadata.name.endsWith(`-${group}`))!;
      const labels = (podSpec(ds).nodeSelector ?? {}) as Record<string, string>;
      kubelets.set(
        node,
        await startNode(cluster, dir, stops, {
          driver: DRIVER,
          daemonSet: ds,
          name: node,
          kubeletName: `kubelet-${node}`,
          simDataDir: data,
          labels,
        }),
      );
    }
  }, T);

  afterAll(() => tearDown(stops, dir, controller), T);

  test(
    'each node reports the segment of the backend its group reaches (Node labels, CSINode topology keys)',
    async () => {
      for (const [node, id] of [
        ['node-a', 'sim'],
        ['node-b', 'b'],
      ] as const) {
        const n = await core.readNode({ name: node });
        expect(n.metadata!.labels![key(id)]).toBe('true');
        expect(Object.keys(n.metadata!.labels!).filter((l) => l.startsWith(`${DRIVER}/`))).toEqual([key(id)]);
      }
    },
    T,
  );

  for (const [cls, id, node] of [
    ['on-sim', 'sim', 'node-a'],
    ['on-b', 'b', 'node-b'],
  ] as const) {
    test(
      `a pod with a WaitForFirstConsumer claim of class ${cls} runs on ${node}; its PV's node affinity names backend ${id}; the volume and its VLUN are on array ${id}`,
      async () => {
        const claim = `claim-${id}`;
        const pod = `pod-${id}`;
        await core.createNamespacedPersistentVolumeClaim({
          namespace: NS,
          body: {
            metadata: { name: claim },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: cls,
              resources: { requests: { storage: '1Gi' } },
            },
          },
        });
        await core.createNamespacedPod({
          namespace: NS,
          body: {
            metadata: { name: pod },
            spec: {
              automountServiceAccountToken: false,
              containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
              volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim } }],
            },
          },
        });
        const bound = await waitFor<V1PersistentVolumeClaim>(
          cluster.admin,
          `/api/v1/namespaces/${NS}/persistentvolumeclaims`,
          claim,
          `PVC ${claim} Bound`,
          (o) => o.status?.phase === 'Bound',
          W,
        );
        const pv = await core.readPersistentVolume({ name: bound.spec!.volumeName! });
        expect(pv.spec!.csi!.volumeHandle.startsWith(`${id}/`)).toBe(true);
        expect(pv.spec!.nodeAffinity!.required!.nodeSelectorTerms).toEqual([
          { matchExpressions: [{ key: key(id), operator: 'In', values: ['true'] }] },
        ]);
        await kubelets.get(node)!.startPod(NS, pod);
        const array = arrays.get(id)!;
        expect((await array.members<{ volumeName: string }>('/vluns')).map((v) => v.volumeName)).toEqual([
          pv.spec!.csi!.volumeHandle.split('/')[1],
        ]);
        await kubelets.get(node)!.stopPod(NS, pod);
        await core.deleteNamespacedPersistentVolumeClaim({ name: claim, namespace: NS });
        await waitGone(
          cluster.admin,
          { apiVersion: 'v1', kind: 'PersistentVolume', name: pv.metadata!.name! },
          '/api/v1/persistentvolumes',
          W,
        );
        expect(await array.census()).toEqual({ volumes: [], hosts: [], vluns: 0, volumeSets: [] });
      },
      T,
    );
  }
});
