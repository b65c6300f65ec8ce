/**
 * The driver against a simulator that answers as a real 3PAR does (issue 16, issue 14 findings 5
 * and 6): a host left behind by a retried unpublish, a publish without volume_context, the
 * attach limit, 503 limit codes, host-set refusals, failed clones, volumes without a snapshot
 * CPG, and CHAP reconciled before any export. Each case failed on the driver before its fix.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { hostNameFor } from '../../src/array/names.js';
import { codeOf, failureOf, grpcStatus } from '../helpers/grpc.js';
import {
  backendOf,
  blockCap,
  CLUSTER,
  DRIVER,
  GiB,
  iscsiNode,
  mountCap,
  startDriver,
  startSim,
  type Driver,
  startOnSim,
} from '../helpers/controller-harness.js';
import type { Volume__Output as Vol } from '../../src/gen/csi/v1/Volume.js';

const CHAP = { user: 'chapuser', secret: 'chapsecret12' };
let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim({ backend: { chap: CHAP }, driver: { maxVolumesPerNode: 3 } }));
});
afterAll(() => stop());

async function volume(
  name: string,
  params: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Promise<Vol> {
  return (
    await d.client.call('CreateVolume', {
      name,
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1', ...params },
      ...extra,
    })
  ).volume!;
}
const publish = (
  volumeId: string,
  nodeId: string,
  volumeContext: Record<string, string> = {},
  cap: Record<string, unknown> = mountCap(),
) =>
  d.client.call('ControllerPublishVolume', {
    volume_id: volumeId,
    node_id: nodeId,
    volume_capability: cap,
    readonly: false,
    volume_context: volumeContext,
  });
const unpublish = (volumeId: string, nodeId: string) =>
  d.client.call('ControllerUnpublishVolume', { volume_id: volumeId, node_id: nodeId });
const snapshot = (name: string, source: string) => d.client.call('CreateSnapshot', { name, source_volume_id: source });
const arrayName = (id: string) => id.split('/')[1]!;
const ownHost = (node: string) => sim.array.hosts.find((h) => h.name === hostNameFor(DRIVER, CLUSTER, node));

describe('hosts and publish (issue 16 items 5-7)', () => {
  test('a retried unpublish removes the host the first attempt emptied but could not delete', async () => {
    const v = await volume('pvc-left-host');
    const node = iscsiNode('left-host');
    await publish(v.volume_id, node);
    expect(ownHost('left-host')).toBeDefined();
    sim.faults.failNext(500, 1, { method: 'DELETE', path: '^/api/v1/hosts/' });
    expect(await codeOf(unpublish(v.volume_id, node))).not.toBe(grpcStatus.OK);
    expect(sim.array.vluns.filter((l) => l.volumeId === sim.array.volume(arrayName(v.volume_id))!.id)).toHaveLength(0);
    expect(ownHost('left-host')).toBeDefined();
    await unpublish(v.volume_id, node);
    expect(ownHost('left-host')).toBeUndefined();
    // An unpublish with nothing to do and no host stays a success.
    await unpublish(v.volume_id, node);
  });

  test('a publish without volume_context uses the protocol recorded on the volume', async () => {
    const v = await volume('pvc-no-ctx', { accessProtocol: 'fc' });
    const node = 'fc-only;w=10000000c9a1b2c3';
    const res = await publish(v.volume_id, node, {});
    expect(res.publish_context['protocol']).toBe('fc');
    expect(res.publish_context['targetWwns']!.length).toBeGreaterThan(0);
    await unpublish(v.volume_id, node);
  });

  test('an unknown volume id says the volume is not found, whatever the node has', async () => {
    const err = await failureOf(publish('sim/csv-no-such-volume-here', 'no-initiators-node', {}));
    expect(err.code).toBe(grpcStatus.NOT_FOUND);
    expect(err.details).toMatch(/volume .*does not exist/);
  });

  test('--max-volumes-per-node: a fourth volume to a node with a limit of 3 → RESOURCE_EXHAUSTED', async () => {
    const node = iscsiNode('limited');
    const vols = [];
    for (let i = 0; i < 4; i++) vols.push(await volume(`pvc-limit-${i}`));
    for (const v of vols.slice(0, 3)) await publish(v.volume_id, node, v.volume_context);
    expect(await codeOf(publish(vols[3]!.volume_id, node, vols[3]!.volume_context))).toBe(
      grpcStatus.RESOURCE_EXHAUSTED,
    );
    // A repeated publish of an exported volume is not a new attachment.
    await publish(vols[0]!.volume_id, node, vols[0]!.volume_context);
    await unpublish(vols[0]!.volume_id, node);
    await publish(vols[3]!.volume_id, node, vols[3]!.volume_context);
    for (const v of vols) await unpublish(v.volume_id, node);
    expect(ownHost('limited')).toBeUndefined();
  });
});

describe('errors and limits (issue 16 item 13)', () => {
  test('503 limit codes → RESOURCE_EXHAUSTED with the array text; 503/31 → UNAVAILABLE', async () => {
    const v = await volume('pvc-limits');
    sim.faults.failNext(503, 9047, { method: 'POST', path: `^/api/v1/volumes/${arrayName(v.volume_id)}$` });
    const err = await failureOf(snapshot('snap-limit', v.volume_id));
    expect(err.code).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    expect(err.details).toContain('9047');
    sim.faults.failNext(503, 9046, { method: 'POST', path: '^/api/v1/volumes$' });
    expect(await codeOf(volume('pvc-vv-limit'))).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    sim.faults.failNext(503, 9048, { method: 'POST', path: '^/api/v1/volumes$' });
    expect(await codeOf(volume('pvc-vv-limit'))).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    sim.faults.failNext(503, 31, { method: 'POST', path: '^/api/v1/volumes$' }, 10);
    try {
      expect(await codeOf(volume('pvc-vv-limit'))).toBe(grpcStatus.UNAVAILABLE);
    } finally {
      sim.faults.clear();
    }
  });

  test('a host delete refused with 77 (host in a host set) leaves the host and the unpublish succeeds', async () => {
    const v = await volume('pvc-hostset');
    const node = iscsiNode('in-hostset');
    await publish(v.volume_id, node);
    sim.faults.failNext(409, 77, { method: 'DELETE', path: '^/api/v1/hosts/' });
    await unpublish(v.volume_id, node);
    expect(ownHost('in-hostset')).toBeDefined();
    await unpublish(v.volume_id, node);
    expect(ownHost('in-hostset')).toBeUndefined();
  });
});

describe('failed clones and snapshot CPGs (issue 16 items 10-11)', () => {
  test('a clone whose copy failed after CreateVolume returned is refused for publish, snapshot and clone', async () => {
    const src = await volume('pvc-fail-late-src', {}, { capacity_range: { required_bytes: String(4 * GiB) } });
    sim.faults.set({ copyRateMiBps: 0.001 });
    let clone: Vol;
    try {
      clone = await volume(
        'pvc-fail-late',
        {},
        {
          volume_content_source: { volume: { volume_id: src.volume_id } },
          capacity_range: { required_bytes: String(4 * GiB) },
        },
      );
      const task = sim.array.tasks.find((t) => t.status === 2 && t.name === arrayName(clone.volume_id))!;
      expect(sim.faults.failTask(task.id)).toBe(true);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    expect(sim.array.volume(arrayName(clone.volume_id))!.failedStates).toEqual([9]);
    expect(await codeOf(publish(clone.volume_id, iscsiNode('fail-late'), clone.volume_context))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(await codeOf(snapshot('snap-of-failed', clone.volume_id))).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(
      await codeOf(
        volume(
          'pvc-of-failed',
          {},
          {
            volume_content_source: { volume: { volume_id: clone.volume_id } },
            capacity_range: { required_bytes: String(4 * GiB) },
          },
        ),
      ),
    ).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(sim.array.vluns.filter((l) => l.volumeId === sim.array.volume(arrayName(clone.volume_id))!.id)).toHaveLength(
      0,
    );
    await d.client.call('DeleteVolume', { volume_id: clone.volume_id });
  });

  test('an imported volume without a snapshot CPG gets one, so its snapshots work', async () => {
    await wsapi.volumes.create({ name: 'legacy-nosnapcpg', cpg: 'CPG1', sizeMiB: 1024, tpvv: true });
    expect(sim.array.volume('legacy-nosnapcpg')!.snapCPG).toBeUndefined();
    const node = iscsiNode('importer');
    await publish('sim/legacy-nosnapcpg', node, { import: 'true' });
    expect(sim.array.volume('legacy-nosnapcpg')!.snapCPG).toBe('CPG1');
    await unpublish('sim/legacy-nosnapcpg', node);
    const s = await snapshot('snap-of-imported', 'sim/legacy-nosnapcpg');
    await d.client.call('DeleteSnapshot', { snapshot_id: s.snapshot!.snapshot_id });
  });

  test('a volume imported before (marker, no snapshot CPG) gets one at its first snapshot; NO_SNAP_CPG → FAILED_PRECONDITION', async () => {
    const marker = JSON.stringify({ v: 1, d: DRIVER, c: CLUSTER, im: 1 });
    await wsapi.volumes.create({ name: 'old-import', cpg: 'CPG1', sizeMiB: 1024, tpvv: true, comment: marker });
    const s = await snapshot('snap-of-old-import', 'sim/old-import');
    expect(sim.array.volume('old-import')!.snapCPG).toBe('CPG1');
    await d.client.call('DeleteSnapshot', { snapshot_id: s.snapshot!.snapshot_id });
    // The array's own refusal (a snapshot CPG removed behind the driver's back) is no "busy".
    sim.faults.failNext(409, 33, { method: 'POST', path: '^/api/v1/volumes/old-import$' });
    expect(await codeOf(snapshot('snap-nosnapcpg', 'sim/old-import'))).toBe(grpcStatus.FAILED_PRECONDITION);
  });
});

describe('CHAP on every publish (issue 14 finding 5)', () => {
  test('a host whose CHAP PUT failed gets CHAP on the retried publish, before any VLUN', async () => {
    const v = await volume('pvc-chap-retry');
    const node = iscsiNode('chap-retry');
    sim.faults.failNext(500, 1, { method: 'PUT', path: '^/api/v1/hosts/' });
    expect(await codeOf(publish(v.volume_id, node))).not.toBe(grpcStatus.OK);
    expect(ownHost('chap-retry')).toBeDefined();
    expect(ownHost('chap-retry')!.initiatorChap).toBeUndefined();
    await publish(v.volume_id, node);
    expect(ownHost('chap-retry')!.initiatorChap).toEqual({ name: CHAP.user, secret: CHAP.secret });
    await unpublish(v.volume_id, node);
  });

  test('a foreign host with other CHAP settings → FAILED_PRECONDITION, nothing exported', async () => {
    const v = await volume('pvc-chap-foreign', {}, { volume_capabilities: [blockCap()] });
    await wsapi.hosts.create({ name: 'admin-host', iSCSINames: ['iqn.1994-05.com.redhat:chap-foreign'] });
    try {
      expect(await codeOf(publish(v.volume_id, iscsiNode('chap-foreign'), v.volume_context, blockCap()))).toBe(
        grpcStatus.FAILED_PRECONDITION,
      );
      expect(sim.array.vluns.filter((l) => l.volumeId === sim.array.volume(arrayName(v.volume_id))!.id)).toHaveLength(
        0,
      );
      expect(sim.array.hosts.find((h) => h.name === 'admin-host')!.initiatorChap).toBeUndefined();
    } finally {
      await wsapi.hosts.delete('admin-host');
    }
  });
});

describe('hosts with both protocols, changed initiators, hosts per protocol (issue 16 items 1-2)', () => {
  test('an FC publish then an iSCSI publish to one node: one host that gains the IQN (with CHAP)', async () => {
    const node = 'dual;i=iqn.1994-05.com.redhat:dual;w=10000000c9d0a101';
    const fc = await volume('pvc-dual-fc', { accessProtocol: 'fc' });
    const iscsi = await volume('pvc-dual-iscsi', { accessProtocol: 'iscsi' });
    await publish(fc.volume_id, node, fc.volume_context);
    expect(ownHost('dual')!.fcWWNs).toHaveLength(1);
    expect(ownHost('dual')!.iSCSINames).toHaveLength(0);
    await publish(iscsi.volume_id, node, iscsi.volume_context);
    const h = ownHost('dual')!;
    expect(h.iSCSINames).toEqual(['iqn.1994-05.com.redhat:dual']);
    expect(h.fcWWNs).toHaveLength(1);
    expect(h.initiatorChap).toEqual({ name: CHAP.user, secret: CHAP.secret });
    expect(
      sim.array.hosts.filter(
        (x) => x.iSCSINames.includes('iqn.1994-05.com.redhat:dual') || (x.fcWWNs.length > 0 && x.name === h.name),
      ),
    ).toHaveLength(1);
    await unpublish(fc.volume_id, node);
    await unpublish(iscsi.volume_id, node);
    expect(ownHost('dual')).toBeUndefined();
  });

  test('a node with a new IQN: its host gains it, also in a driver process that never saw the node', async () => {
    const a = await volume('pvc-new-iqn-a');
    const b = await volume('pvc-new-iqn-b');
    await publish(a.volume_id, iscsiNode('reiqn'), a.volume_context);
    const renewed = 'reiqn;i=iqn.2024-01.com.example:reiqn-new';
    const other = await startDriver([backendOf(sim, 'sim', { chap: CHAP })]);
    try {
      await other.client.call('ControllerPublishVolume', {
        volume_id: b.volume_id,
        node_id: renewed,
        volume_capability: mountCap(),
        readonly: false,
        volume_context: b.volume_context,
      });
    } finally {
      await other.stop();
    }
    expect(ownHost('reiqn')!.iSCSINames.sort()).toEqual([
      'iqn.1994-05.com.redhat:reiqn',
      'iqn.2024-01.com.example:reiqn-new',
    ]);
    await unpublish(a.volume_id, iscsiNode('reiqn'));
    await unpublish(b.volume_id, renewed);
    expect(ownHost('reiqn')).toBeUndefined();
  });

  test('hosts made one per protocol by another tool (iqn-<node>, wwn-<node>): the requested protocol’s host is used, unchanged', async () => {
    await wsapi.hosts.create({ name: 'iqn-perproto', iSCSINames: ['iqn.1994-05.com.redhat:perproto'] });
    await wsapi.hosts.setInitiatorChap('iqn-perproto', { chapName: CHAP.user, chapSecret: CHAP.secret });
    await wsapi.hosts.create({ name: 'wwn-perproto', FCWWNs: ['10000000C9E0E001', '10000000C9E0E002'] });
    const node = 'perproto;i=iqn.1994-05.com.redhat:perproto;w=10000000c9e0e001';
    const iscsi = await volume('pvc-perproto-i');
    const fc = await volume('pvc-perproto-f', { accessProtocol: 'fc' });
    try {
      await publish(iscsi.volume_id, node, iscsi.volume_context);
      // The node lists only its online FC port: the tool's host with both WWNs is a superset.
      await publish(fc.volume_id, node, fc.volume_context);
      const hostOf = (v: Vol) =>
        sim.array.hosts.find(
          (h) =>
            h.id === sim.array.vluns.find((l) => l.volumeId === sim.array.volume(arrayName(v.volume_id))!.id)?.hostId,
        )?.name;
      expect(hostOf(iscsi)).toBe('iqn-perproto');
      expect(hostOf(fc)).toBe('wwn-perproto');
      expect(ownHost('perproto')).toBeUndefined();
      expect(sim.array.hosts.find((h) => h.name === 'wwn-perproto')!.iSCSINames).toEqual([]);
    } finally {
      await unpublish(iscsi.volume_id, node);
      await unpublish(fc.volume_id, node);
      await wsapi.hosts.delete('iqn-perproto');
      await wsapi.hosts.delete('wwn-perproto');
    }
  });
});

/** Waits for the simulator's copy into `dest` to end (its tick runs it); a safety net reports a timeout. */
async function copyEnded(dest: string): Promise<void> {
  for (let i = 0; sim.array.tasks.some((t) => t.status === 2 && t.name === dest); i++) {
    if (i > 1000) throw new Error(`timed out waiting for the simulator's copy into ${dest} to end`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a volume from a read-only snapshot (issue 16 item 9)', () => {
  test('copies through a temporary read-write child with an expiration, removed once the copy ended', async () => {
    const src = await volume('pvc-ro-src', {}, { capacity_range: { required_bytes: String(4 * GiB) } });
    const snap = (await snapshot('snap-ro-src', src.volume_id)).snapshot!;
    expect(sim.array.volume(arrayName(snap.snapshot_id))!.readOnly).toBe(true);
    // The copy reads from the array's helper snapshots of the temporary child: walk `copyOf` up to the marked child.
    const tmpOf = (dest: string) => {
      let v = sim.array.volume(dest);
      while (v && !(v.name.startsWith('cst-') && v.comment !== undefined))
        v = v.parentId === undefined ? undefined : sim.array.volumeById(v.parentId);
      return v;
    };
    sim.faults.set({ copyRateMiBps: 0.001 });
    let restored: Vol;
    try {
      restored = await volume(
        'pvc-ro-restored',
        {},
        {
          volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
          capacity_range: { required_bytes: String(4 * GiB) },
        },
      );
      const tmp = tmpOf(arrayName(restored.volume_id));
      expect(tmp).toBeDefined();
      expect(tmp!.readOnly).toBe(false);
      expect(tmp!.expirationTimeSec).toBeGreaterThan(0);
      // Not a snapshot the CO sees.
      const listed = await d.client.call('ListSnapshots', { source_volume_id: src.volume_id });
      expect(listed.entries.map((e) => e.snapshot!.snapshot_id)).toEqual([snap.snapshot_id]);
    } finally {
      sim.faults.set({ copyRateMiBps: 1_000_000 });
    }
    // The copy ends (the rate is high again); the next publish sees it and removes the child.
    const node = iscsiNode('ro-restore');
    await copyEnded(arrayName(restored.volume_id));
    await publish(restored.volume_id, node, restored.volume_context);
    expect(sim.array.volumes.filter((v) => v.name.startsWith('cst-'))).toHaveLength(0);
    await unpublish(restored.volume_id, node);
    await d.client.call('DeleteSnapshot', { snapshot_id: snap.snapshot_id });
    await d.client.call('DeleteVolume', { volume_id: restored.volume_id });
    await d.client.call('DeleteVolume', { volume_id: src.volume_id });
  });

  test('DeleteSnapshot removes a leftover temporary child whose copy ended', async () => {
    const src = await volume('pvc-ro-src2');
    const snap = (await snapshot('snap-ro-src2', src.volume_id)).snapshot!;
    const restored = await volume(
      'pvc-ro-restored2',
      {},
      { volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } },
    );
    await copyEnded(arrayName(restored.volume_id));
    expect(sim.array.volumes.filter((v) => v.name.startsWith('cst-'))).toHaveLength(1);
    await d.client.call('DeleteSnapshot', { snapshot_id: snap.snapshot_id });
    expect(sim.array.volume(arrayName(snap.snapshot_id))).toBeUndefined();
    expect(sim.array.volumes.filter((v) => v.name.startsWith('cst-'))).toHaveLength(0);
    await d.client.call('DeleteVolume', { volume_id: restored.volume_id });
    await d.client.call('DeleteVolume', { volume_id: src.volume_id });
  });
});

describe('GetCapacity and a CPG growth limit (issue 16 item 13)', () => {
  test('the space reporter ignores the growth limit; GetCapacity does not', async () => {
    const limited = await startSim({ cpgs: [{ name: 'LIM', sizeMiB: 1024 * 1024, growthLimitMiB: 10 * 1024 }] });
    const drv = await startDriver([backendOf(limited, 'lim')]);
    try {
      const cap = async () => await drv.client.call('GetCapacity', { parameters: { cpg: 'LIM' } });
      expect(Number((await cap()).available_capacity)).toBe(10 * GiB);
      await drv.client.call('CreateVolume', {
        name: 'pvc-in-limit',
        volume_capabilities: [mountCap()],
        capacity_range: { required_bytes: String(4 * GiB) },
        parameters: { cpg: 'LIM', provisioningType: 'full' },
      });
      const after = await cap();
      expect(Number(after.available_capacity)).toBe(6 * GiB);
      expect(Number(after.maximum_volume_size!.value)).toBe(6 * GiB);
    } finally {
      await drv.stop();
      await limited.close();
    }
  });
});

describe('tune with snapshots (issue 16 item 12)', () => {
  test('a conversion or another snapshot CPG while snapshots exist → FAILED_PRECONDITION, nothing started', async () => {
    const two = await startSim({
      cpgs: [
        { name: 'CPG1', sizeMiB: 1024 * 1024 },
        { name: 'CPG2', sizeMiB: 1024 * 1024 },
      ],
    });
    const drv = await startDriver([backendOf(two, 'two')]);
    try {
      const v = (
        await drv.client.call('CreateVolume', {
          name: 'pvc-tune-snaps',
          volume_capabilities: [mountCap()],
          capacity_range: { required_bytes: String(GiB) },
          parameters: { cpg: 'CPG1', provisioningType: 'tpvv' },
        })
      ).volume!;
      const s = (await drv.client.call('CreateSnapshot', { name: 'snap-tune', source_volume_id: v.volume_id }))
        .snapshot!;
      const modify = (mutable: Record<string, string>) =>
        drv.client.call('ControllerModifyVolume', { volume_id: v.volume_id, mutable_parameters: mutable });
      expect(await codeOf(modify({ provisioningType: 'full' }))).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(await codeOf(modify({ snapCpg: 'CPG2' }))).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(two.array.tasks.filter((t) => t.kind === 'tune')).toHaveLength(0);
      expect(two.array.volume(arrayName(v.volume_id))!.snapCPG).toBe('CPG1');
      // Without snapshots both go through.
      await drv.client.call('DeleteSnapshot', { snapshot_id: s.snapshot_id });
      await modify({ snapCpg: 'CPG2' });
      expect(two.array.volume(arrayName(v.volume_id))!.snapCPG).toBe('CPG2');
    } finally {
      await drv.stop();
      await two.close();
    }
  });
});

describe('VLAN-tagged iSCSI ports (issue 16 item 4)', () => {
  test('a tagged port’s VLAN address and the reported TCP port become portals; no 0.0.0.0', async () => {
    const later = await startSim({ profile: '3.3.1' });
    const drv = await startDriver([backendOf(later, 'later')]);
    try {
      const v = (
        await drv.client.call('CreateVolume', {
          name: 'pvc-vlan',
          volume_capabilities: [mountCap()],
          capacity_range: { required_bytes: String(GiB) },
          parameters: { cpg: 'CPG1' },
        })
      ).volume!;
      const res = await drv.client.call('ControllerPublishVolume', {
        volume_id: v.volume_id,
        node_id: iscsiNode('vlan-node'),
        volume_capability: mountCap(),
        readonly: false,
        volume_context: v.volume_context,
      });
      const portals = res.publish_context['targetPortals']!.split(',');
      expect(portals.sort()).toEqual(['127.0.0.2:3260', '127.0.0.5:3260']);
      expect(res.publish_context['targetIqns']!.split(',')).toHaveLength(2);
    } finally {
      await drv.stop();
      await later.close();
    }
  });
});
