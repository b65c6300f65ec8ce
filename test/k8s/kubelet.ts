/**
 * What kubelet and node-driver-registrar would do for the node plugin, played by the test (there
 * is no kubelet here): register the node (the Node object with the annotation that hands attach
 * and detach to the controller-manager, the driver's node id annotation and topology labels, and
 * the CSINode entry with the node id and topology keys from the driver's own NodeGetInfo), and,
 * for a pod the scheduler put on the node, kubelet's volume steps in kubelet's order:
 *   mark the volume in use (node.status.volumesInUse) → wait until the attach/detach controller
 *   reports it attached (node.status.volumesAttached) → read the VolumeAttachment's publish
 *   context → NodeStageVolume → NodePublishVolume; on pod deletion NodeUnpublishVolume →
 *   NodeUnstageVolume → clear volumesInUse (only then may the volume be detached) → the pod's
 *   final removal.
 * Paths are kubelet's: <root>/plugins/kubernetes.io/csi/<driver>/<sha256(volumeHandle)>/globalmount
 * and <root>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount (kubernetes pkg/volume/csi).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
  type V1PersistentVolume,
} from '@kubernetes/client-node';
import { CsiTestClient } from '../helpers/grpc.js';
import { waitFor, waitGone } from './cluster.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** kubelet's and the attach/detach controller's name of a CSI volume in node status. */
export const uniqueVolumeName = (driver: string, handle: string): string => `kubernetes.io/csi/${driver}^${handle}`;
/** The VolumeAttachment name kubelet and the attach/detach controller compute (csi_attacher.go). */
export const attachmentName = (handle: string, driver: string, node: string): string =>
  `csi-${createHash('sha256').update(`${handle}${driver}${node}`).digest('hex')}`;

interface NodeInfo {
  node_id: string;
  max_volumes_per_node: string;
  accessible_topology: { segments: Record<string, string> } | null;
}

interface Staged {
  pv: V1PersistentVolume;
  staging: string;
  target: string;
}

export class FakeKubelet {
  readonly csi: CsiTestClient;
  info: NodeInfo | undefined;
  private readonly core: CoreV1Api;
  private readonly storage: StorageV1Api;
  private inUse = new Set<string>();
  private readonly mounted = new Map<string, Staged[]>();

  constructor(
    private readonly kc: KubeConfig,
    readonly nodeName: string,
    readonly driver: string,
    socket: string,
    readonly root: string,
  ) {
    this.csi = new CsiTestClient('Node', `unix://${socket}`);
    this.core = kc.makeApiClient(CoreV1Api);
    this.storage = kc.makeApiClient(StorageV1Api);
  }

  /**
   * Registers the node as kubelet and node-driver-registrar would: Node (labels: hostname,
   * `labels`, the driver's topology segments), its status (Ready, room for pods), CSINode.
   */
  async register(labels: Record<string, string>): Promise<NodeInfo> {
    const info = await this.retryUnavailable(() => this.csi.call<NodeInfo>('NodeGetInfo', {}));
    this.info = info;
    const segments = info.accessible_topology?.segments ?? {};
    const node = await this.core.createNode({
      body: {
        metadata: {
          name: this.nodeName,
          labels: { 'kubernetes.io/hostname': this.nodeName, 'kubernetes.io/os': 'linux', ...labels, ...segments },
          annotations: {
            // kubelet --enable-controller-attach-detach (the default) sets this; without it the
            // attach/detach controller leaves the node's volumes to kubelet.
            'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
            // node-driver-registrar → kubelet's CSI plugin registration.
            'csi.volume.kubernetes.io/nodeid': JSON.stringify({ [this.driver]: info.node_id }),
          },
        },
      },
    });
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            capacity: { cpu: '4', memory: '8Gi', pods: '110' },
            allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'played by the test',
                lastHeartbeatTime: new Date(),
                lastTransitionTime: new Date(),
              },
            ],
          },
        },
      },
      MERGE,
    );
    // The NodeRestriction/TaintNodesByCondition admission gives a new Node the not-ready taint;
    // the node lifecycle controller lifts it once kubelet reports Ready. That controller is off
    // here (no kubelet heartbeats), so the test lifts it as the controller would.
    await this.core.patchNode({ name: this.nodeName, body: { spec: { taints: null } } }, MERGE);
    const max = Number(info.max_volumes_per_node);
    await this.storage.createCSINode({
      body: {
        metadata: {
          name: this.nodeName,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: node.metadata!.uid! }],
        },
        spec: {
          drivers: [
            {
              name: this.driver,
              nodeID: info.node_id,
              topologyKeys: Object.keys(segments),
              ...(max > 0 ? { allocatable: { count: max } } : {}),
            },
          ],
        },
      },
    });
    return info;
  }

  /** The first call may come before the node plugin's socket serves: UNAVAILABLE is retried (bounded). */
  private async retryUnavailable<T>(fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if ((err as { code?: number }).code !== 14 || Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async setInUse(): Promise<void> {
    await this.core.patchNodeStatus(
      { name: this.nodeName, body: { status: { volumesInUse: [...this.inUse].sort() } } },
      MERGE,
    );
  }

  /** The pod's PVs, once the scheduler bound it to this node and its claims are bound. */
  private async podVolumes(pod: V1Pod): Promise<V1PersistentVolume[]> {
    const out: V1PersistentVolume[] = [];
    for (const v of pod.spec?.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const ns = pod.metadata!.namespace!;
      const pvc = await waitFor(
        this.kc,
        `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
        v.persistentVolumeClaim.claimName,
        `PVC ${v.persistentVolumeClaim.claimName} Bound`,
        (o) => o.status?.['phase'] === 'Bound',
      );
      out.push(await this.core.readPersistentVolume({ name: (pvc.spec as { volumeName: string }).volumeName }));
    }
    return out;
  }

  /** Waits until the scheduler binds `pod` here, then mounts its volumes (kubelet's order). */
  async startPod(namespace: string, name: string): Promise<V1Pod> {
    const pod = await waitFor<V1Pod>(
      this.kc,
      `/api/v1/namespaces/${namespace}/pods`,
      name,
      `pod ${name} scheduled`,
      (p) => !!p.spec?.nodeName,
    );
    if (pod.spec!.nodeName !== this.nodeName)
      throw new Error(`pod ${name} went to ${pod.spec!.nodeName}, not ${this.nodeName}`);
    const staged: Staged[] = [];
    for (const pv of await this.podVolumes(pod)) {
      const csi = pv.spec!.csi!;
      const unique = uniqueVolumeName(this.driver, csi.volumeHandle);
      this.inUse.add(unique);
      await this.setInUse();
      await waitFor(
        this.kc,
        '/api/v1/nodes',
        this.nodeName,
        `${unique} in node ${this.nodeName}'s volumesAttached`,
        (n) => ((n.status?.['volumesAttached'] ?? []) as { name: string }[]).some((a) => a.name === unique),
      );
      const va = await this.storage.readVolumeAttachment({
        name: attachmentName(csi.volumeHandle, this.driver, this.nodeName),
      });
      const capability = {
        mount: { fs_type: csi.fsType ?? '', mount_flags: pv.spec!.mountOptions ?? [] },
        access_mode: { mode: 'SINGLE_NODE_WRITER' },
      };
      const staging = join(
        this.root,
        'plugins',
        'kubernetes.io',
        'csi',
        this.driver,
        createHash('sha256').update(csi.volumeHandle).digest('hex'),
        'globalmount',
      );
      mkdirSync(staging, { recursive: true });
      const secrets = csi.nodeStageSecretRef
        ? await this.secret(csi.nodeStageSecretRef.namespace!, csi.nodeStageSecretRef.name!)
        : {};
      await this.csi.call(
        'NodeStageVolume',
        {
          volume_id: csi.volumeHandle,
          publish_context: va.status?.attachmentMetadata ?? {},
          staging_target_path: staging,
          volume_capability: capability,
          secrets,
          volume_context: csi.volumeAttributes ?? {},
        },
        { deadlineMs: 120_000 },
      );
      const parent = join(this.root, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~csi', pv.metadata!.name!);
      mkdirSync(parent, { recursive: true });
      const target = join(parent, 'mount');
      await this.csi.call('NodePublishVolume', {
        volume_id: csi.volumeHandle,
        publish_context: va.status?.attachmentMetadata ?? {},
        staging_target_path: staging,
        target_path: target,
        volume_capability: capability,
        readonly: false,
        volume_context: csi.volumeAttributes ?? {},
      });
      staged.push({ pv, staging, target });
    }
    this.mounted.set(pod.metadata!.uid!, staged);
    return pod;
  }

  private async secret(namespace: string, name: string): Promise<Record<string, string>> {
    const s = await this.core.readNamespacedSecret({ name, namespace });
    return Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  }

  /** kubelet's NodeExpandVolume after the resizer's FileSystemResizePending, and its PVC status update. */
  async expand(pod: V1Pod, claim: string): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const pvc = await this.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns });
    const st = this.mounted.get(pod.metadata!.uid!)?.find((s) => s.pv.metadata!.name === pvc.spec!.volumeName);
    if (!st) throw new Error(`claim ${claim} is not mounted by pod ${pod.metadata!.name}`);
    const pv = await this.core.readPersistentVolume({ name: pvc.spec!.volumeName! });
    const bytes = quantityBytes(pv.spec!.capacity!['storage']!);
    const r = await this.csi.call<{ capacity_bytes: string }>(
      'NodeExpandVolume',
      {
        volume_id: pv.spec!.csi!.volumeHandle,
        volume_path: st.target,
        staging_target_path: st.staging,
        capacity_range: { required_bytes: String(bytes) },
        volume_capability: {
          mount: { fs_type: pv.spec!.csi!.fsType ?? '' },
          access_mode: { mode: 'SINGLE_NODE_WRITER' },
        },
      },
      { deadlineMs: 120_000 },
    );
    // kubelet (operation_generator / node expander): the claim's capacity becomes the PV's, the
    // FileSystemResizePending condition and the allocated resize status go.
    await this.core.patchNamespacedPersistentVolumeClaimStatus(
      {
        name: claim,
        namespace: ns,
        body: {
          status: {
            capacity: { storage: pv.spec!.capacity!['storage']! },
            conditions: null,
            allocatedResourceStatuses: null,
          },
        },
      },
      MERGE,
    );
    void r;
  }

  /** Deletes the pod as a user would, then plays kubelet's unmount and the pod's final removal. */
  async stopPod(namespace: string, name: string): Promise<void> {
    const pod = await this.core.readNamespacedPod({ name, namespace });
    await this.core.deleteNamespacedPod({ name, namespace });
    const staged = this.mounted.get(pod.metadata!.uid!) ?? [];
    for (const s of staged) {
      const handle = s.pv.spec!.csi!.volumeHandle;
      await this.csi.call('NodeUnpublishVolume', { volume_id: handle, target_path: s.target });
      await this.csi.call(
        'NodeUnstageVolume',
        { volume_id: handle, staging_target_path: s.staging },
        { deadlineMs: 120_000 },
      );
      this.inUse.delete(uniqueVolumeName(this.driver, handle));
    }
    await this.setInUse();
    this.mounted.delete(pod.metadata!.uid!);
    // kubelet's final status: the containers are gone, the pod object may be removed.
    await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    await waitGone(this.kc, { apiVersion: 'v1', kind: 'Pod', namespace, name }, `/api/v1/namespaces/${namespace}/pods`);
  }

  close(): void {
    this.csi.close();
  }
}

/** Bytes of a Kubernetes quantity such as 2Gi or 1073741824. */
export function quantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  const mult = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] as 'Ki'] ?? 1;
  return Number(m[1]) * mult;
}
