/**
 * Publish and unpublish on firmware with VLUN queries (3.2.1 MU2+, issue 21): the driver asks the
 * array for the volume's (or host's) VLUNs instead of listing every VLUN, with the same request
 * counts as the full listing on 1.3.x (controller-requests.test.ts), and the same answers beside
 * other hosts' exports. The 1.3 profile keeps the full listing (its simulator refuses the query).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import {
  arrayRequests,
  backendOf,
  GiB,
  iscsiNode,
  mountCap,
  startDriver,
  startSim,
  type Driver,
} from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let d: Driver;

beforeAll(async () => {
  sim = await startSim({ profile: '3.2.2' });
  d = await startDriver([backendOf(sim, 'sim')], { maxVolumesPerNode: 3 });
  // Exports of another host the driver must not read: a volume of someone else, on another host.
  const w = new WsapiClient({ backendId: 'setup', url: sim.url, username: sim.username, password: sim.password });
  await w.volumes.create({ name: 'foreign-vol', cpg: 'CPG1', sizeMiB: 1024, tpvv: true });
  await w.hosts.create({ name: 'foreign-host', iSCSINames: ['iqn.2000-01.com.example:foreign'] });
  await w.vluns.create({ volumeName: 'foreign-vol', hostname: 'foreign-host', lun: 0, autoLun: true, maxAutoLun: 0 });
  await w.close();
});
afterAll(async () => {
  await d.stop();
  await sim.close();
});

async function count(fn: () => Promise<unknown>): Promise<string[]> {
  sim.resetRequests();
  await fn();
  return arrayRequests(sim);
}

/** The query of every VLUN read since the last reset (decoded), or 'none' for a full listing. */
function vlunReads(): string[] {
  return sim.requests
    .filter((r) => r.method === 'GET' && r.path === '/api/v1/vluns')
    .map((r) => (r.query ? decodeURIComponent(r.query) : 'none'));
}

describe('VLUN queries on 3.2.2', () => {
  test('publish and unpublish read the volume’s VLUNs by query, with the 1.3 request counts', async () => {
    const req = {
      volume_capabilities: [mountCap()],
      capacity_range: { required_bytes: String(GiB) },
      parameters: { cpg: 'CPG1' },
    };
    const id = (await d.client.call<{ volume: { volume_id: string } }>('CreateVolume', { ...req, name: 'pvc-q1' }))
      .volume.volume_id;
    const other = (await d.client.call<{ volume: { volume_id: string } }>('CreateVolume', { ...req, name: 'pvc-q2' }))
      .volume.volume_id;
    const node = iscsiNode('query-node');
    const pub = (v: string) =>
      d.client.call('ControllerPublishVolume', {
        volume_id: v,
        node_id: node,
        volume_capability: mountCap(),
        volume_context: {},
      });
    const first = await count(() => pub(other));
    expect(first.length).toBeLessThanOrEqual(8);
    // The volume's VLUNs, and (the attach limit is set) the new host's: never the full list.
    expect(vlunReads().every((q) => /^query="(volumeName|hostname) EQ /.test(q))).toBe(true);
    const second = await count(() => pub(id));
    expect(second.length).toBeLessThanOrEqual(5);
    expect(vlunReads()).toEqual(expect.arrayContaining([expect.stringMatching(/volumeName EQ /)]));
    expect(vlunReads()).not.toContain('none');
    // Reuse: one query, as one listing on 1.3.
    expect(await count(() => pub(id))).toHaveLength(1);
    expect(vlunReads()).toHaveLength(1);
    expect(vlunReads()[0]).toMatch(/^query="volumeName EQ /);
    expect(
      (await count(() => d.client.call('ControllerUnpublishVolume', { volume_id: id, node_id: node }))).length,
    ).toBeLessThanOrEqual(3);
    expect(
      (await count(() => d.client.call('ControllerUnpublishVolume', { volume_id: other, node_id: node }))).length,
    ).toBeLessThanOrEqual(3);
    expect(vlunReads()).not.toContain('none');
    // A retry of an unpublish (exported nowhere): the volume's query and the read of the host
    // (gone: 404), as on 1.3 (the list and the read).
    expect(await count(() => d.client.call('ControllerUnpublishVolume', { volume_id: other, node_id: node }))).toEqual([
      expect.stringMatching(/^GET \/api\/v1\/vluns/),
      expect.stringMatching(/^GET \/api\/v1\/hosts\/.* \(17\)$/),
    ]);
    expect(vlunReads()).not.toContain('none');
    // The foreign export is untouched.
    expect(sim.array.vluns.length).toBe(1);
  });

  test('a single-node volume published elsewhere is refused from the query’s answer', async () => {
    const v = (
      await d.client.call<{ volume: { volume_id: string } }>('CreateVolume', {
        name: 'pvc-q3',
        volume_capabilities: [mountCap()],
        capacity_range: { required_bytes: String(GiB) },
        parameters: { cpg: 'CPG1' },
      })
    ).volume.volume_id;
    const pub = (node: string) =>
      d.client.call('ControllerPublishVolume', {
        volume_id: v,
        node_id: iscsiNode(node),
        volume_capability: mountCap(),
        volume_context: {},
      });
    await pub('q-node-a');
    await expect(pub('q-node-b')).rejects.toMatchObject({ code: 9 });
    expect(vlunReads()).not.toContain('none');
    await d.client.call('ControllerUnpublishVolume', { volume_id: v, node_id: iscsiNode('q-node-a') });
    await d.client.call('DeleteVolume', { volume_id: v });
  });

  test('the attach limit counts the host’s exports from the host’s query', async () => {
    const node = 'q-limit';
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (
          await d.client.call<{ volume: { volume_id: string } }>('CreateVolume', {
            name: `pvc-ql${i}`,
            volume_capabilities: [mountCap()],
            capacity_range: { required_bytes: String(GiB) },
            parameters: { cpg: 'CPG1' },
          })
        ).volume.volume_id,
      );
    const pub = (v: string) =>
      d.client.call('ControllerPublishVolume', {
        volume_id: v,
        node_id: iscsiNode(node),
        volume_capability: mountCap(),
        volume_context: {},
      });
    for (const v of ids.slice(0, 3)) await pub(v);
    sim.resetRequests();
    await expect(pub(ids[3]!)).rejects.toMatchObject({ code: 8 });
    expect(vlunReads()).toEqual(expect.arrayContaining([expect.stringMatching(/^query="hostname EQ /)]));
    expect(vlunReads()).not.toContain('none');
    for (const v of ids.slice(0, 3))
      await d.client.call('ControllerUnpublishVolume', { volume_id: v, node_id: iscsiNode(node) });
  });
});

describe('unpublish by query on 3.2.2', () => {
  test('removes every matched-set VLUN of (volume, host) found by the volume’s query, and leaves a port-presents VLUN alone', async () => {
    const created = (
      await d.client.call<{ volume: { volume_id: string; volume_context: Record<string, string> } }>('CreateVolume', {
        name: 'pvc-qports',
        volume_capabilities: [mountCap()],
        capacity_range: { required_bytes: String(GiB) },
        parameters: { cpg: 'CPG1', hostSeesVLUN: 'false' },
      })
    ).volume;
    const v = created.volume_id;
    const node = iscsiNode('q-ports');
    const res = await d.client.call<{ publish_context: Record<string, string> }>('ControllerPublishVolume', {
      volume_id: v,
      node_id: node,
      volume_capability: mountCap(),
      volume_context: created.volume_context,
    });
    const ports = res.publish_context['targetPortals']!.split(',').length;
    expect(ports).toBeGreaterThan(1);
    const volName = v.split('/')[1]!;
    const w = new WsapiClient({ backendId: 'setup', url: sim.url, username: sim.username, password: sim.password });
    try {
      const matched = (await w.vluns.list({ volumeName: volName })).filter((l) => l.active === false);
      expect(matched).toHaveLength(ports);
      expect(matched.every((l) => l.hostname !== undefined && l.portPos !== undefined)).toBe(true);
      // An admin's port-presents export of the same volume (no host): not this node's to remove.
      const portPos = matched[0]!.portPos!;
      await w.vluns.create({ volumeName: volName, lun: 200, portPos });
      sim.resetRequests();
      await d.client.call('ControllerUnpublishVolume', { volume_id: v, node_id: node });
      expect(vlunReads()).toEqual(['query="volumeName EQ ' + volName + '"']);
      const left = (await w.vluns.list({ volumeName: volName })).filter((l) => l.active === false);
      expect(left.map((l) => `${l.hostname ?? '-'}/${l.lun}`)).toEqual(['-/200']);
    } finally {
      await w.close();
    }
  });
});

describe('no VLUN queries on 1.3 (3.1.3 MU1)', () => {
  test('publish lists every VLUN, and the profile refuses the query', async () => {
    const old = await startSim();
    const od = await startDriver([backendOf(old, 'old')]);
    try {
      const v = (
        await od.client.call<{ volume: { volume_id: string } }>('CreateVolume', {
          name: 'pvc-old',
          volume_capabilities: [mountCap()],
          capacity_range: { required_bytes: String(GiB) },
          parameters: { cpg: 'CPG1' },
        })
      ).volume.volume_id;
      old.resetRequests();
      await od.client.call('ControllerPublishVolume', {
        volume_id: v,
        node_id: iscsiNode('old-node'),
        volume_capability: mountCap(),
        volume_context: {},
      });
      const reads = old.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/vluns');
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((r) => r.query === undefined)).toBe(true);
      const w = new WsapiClient({ backendId: 'probe', url: old.url, username: old.username, password: old.password });
      try {
        await expect(
          w.request({ op: 'probe', method: 'GET', path: '/api/v1/vluns?query=%22volumeName%20EQ%20x%22' }),
        ).rejects.toMatchObject({ status: 400 });
      } finally {
        await w.close();
      }
    } finally {
      await od.stop();
      await old.close();
    }
  });
});
