/**
 * Conformance with two backends (the embedded array "sim" and a second simulator "b2"), where the
 * driver advertises VOLUME_ACCESSIBILITY_CONSTRAINTS: NodeGetInfo must then report where the node
 * is, CreateVolume must honour requisite/preferred topologies and report accessible_topology,
 * and GetCapacity answers per topology segment.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { arrayName, DRIVER, FAST_SIM, mountCap, startSanity, type Obj, type Sanity } from './harness.js';
import type { Topology__Output as Topology } from '../../src/gen/csi/v1/Topology.js';
import type { Volume__Output as Volume } from '../../src/gen/csi/v1/Volume.js';

let b2: RunningSimulator;
let s: Sanity;
let nodeTopology: Topology;
const key = (id: string) => `${DRIVER}/backend-${id}`;

beforeAll(async () => {
  b2 = await startSimulator(FAST_SIM);
  s = await startSanity({
    backends: [{ id: 'b2', url: b2.url, username: b2.username, password: b2.password, defaultCpg: 'SSD_r6' }],
    backendIds: ['sim', 'b2'],
  });
  nodeTopology = (await s.node.call('NodeGetInfo')).accessible_topology!;
});
afterAll(async () => {
  await s.close();
  await b2.close();
});

const create = (name: string, extra: Obj = {}) => s.createVolume(name, extra);
const del = (id: string) => s.controller.call('DeleteVolume', { volume_id: id });
/** The backend a volume landed on, read from the arrays (not from the id). */
const backendHolding = (v: Volume) =>
  s.sim.array.volume(arrayName(v.volume_id)) ? 'sim' : b2.array.volume(arrayName(v.volume_id)) ? 'b2' : 'none';

describe('with topology advertised', () => {
  test('the plugin advertises VOLUME_ACCESSIBILITY_CONSTRAINTS and NodeGetInfo reports the node’s segments', async () => {
    const caps = await s.identity.call('GetPluginCapabilities');
    expect(caps.capabilities.map((c) => c.service?.type)).toContain('VOLUME_ACCESSIBILITY_CONSTRAINTS');
    expect(nodeTopology).not.toBeNull();
    expect(nodeTopology.segments).toEqual({ [key('sim')]: 'true', [key('b2')]: 'true' });
  });

  test('csi-sanity’s request (requisite = the node’s topology): a volume the node can reach, with accessible_topology inside the node’s segments', async () => {
    const v = await create('sanity-topo-node', {
      accessibility_requirements: { requisite: [nodeTopology], preferred: [] },
    });
    expect(v.accessible_topology.length).toBeGreaterThan(0);
    for (const t of v.accessible_topology)
      for (const [k, val] of Object.entries(t.segments)) expect(nodeTopology.segments[k]).toBe(val);
    const nodeId = (await s.node.call('NodeGetInfo')).node_id;
    await s.controller.call('ControllerPublishVolume', {
      volume_id: v.volume_id,
      node_id: nodeId,
      volume_capability: mountCap(),
      volume_context: v.volume_context,
    });
    await s.controller.call('ControllerUnpublishVolume', { volume_id: v.volume_id, node_id: nodeId });
    await del(v.volume_id);
  });

  test('a requisite naming one backend places the volume there and says so', async () => {
    for (const id of ['sim', 'b2']) {
      const v = await create(`sanity-topo-${id}`, {
        accessibility_requirements: { requisite: [{ segments: { [key(id)]: 'true' } }], preferred: [] },
      });
      expect(backendHolding(v)).toBe(id);
      expect(v.accessible_topology).toEqual([{ segments: { [key(id)]: 'true' } }]);
      await del(v.volume_id);
    }
  });

  test('preferred wins among the requisite', async () => {
    const both = [{ segments: { [key('sim')]: 'true' } }, { segments: { [key('b2')]: 'true' } }];
    const v = await create('sanity-topo-preferred', {
      accessibility_requirements: { requisite: both, preferred: [both[1]] },
    });
    expect(backendHolding(v)).toBe('b2');
    await del(v.volume_id);
  });

  test('a requisite no backend can meet → RESOURCE_EXHAUSTED, nothing created', async () => {
    const code = await codeOf(
      create('sanity-topo-none', {
        accessibility_requirements: { requisite: [{ segments: { [key('elsewhere')]: 'true' } }], preferred: [] },
      }),
    );
    expect(code).toBe(grpcStatus.RESOURCE_EXHAUSTED);
    expect(s.sim.array.volumes).toHaveLength(0);
    expect(b2.array.volumes).toHaveLength(0);
  });

  test('ListVolumes walks both backends', async () => {
    const a = await create('sanity-topo-list-a', {
      accessibility_requirements: { requisite: [{ segments: { [key('sim')]: 'true' } }], preferred: [] },
    });
    const b = await create('sanity-topo-list-b', {
      accessibility_requirements: { requisite: [{ segments: { [key('b2')]: 'true' } }], preferred: [] },
    });
    const listed = await s.controller.call('ListVolumes', {});
    expect(listed.entries.map((e) => e.volume!.volume_id).sort()).toEqual([a.volume_id, b.volume_id].sort());
    const paged = await s.controller.call('ListVolumes', { max_entries: 1 });
    expect(paged.entries).toHaveLength(1);
    const rest = await s.controller.call('ListVolumes', { starting_token: paged.next_token });
    expect([...paged.entries, ...rest.entries].map((e) => e.volume!.volume_id).sort()).toEqual(
      [a.volume_id, b.volume_id].sort(),
    );
    await del(a.volume_id);
    await del(b.volume_id);
  });

  test('GetCapacity per segment: each backend’s own space; a segment of no backend has none', async () => {
    const cap = (segments: Record<string, string>) =>
      s.controller.call('GetCapacity', { accessible_topology: { segments } }).then((r) => Number(r.available_capacity));
    expect(await cap({ [key('sim')]: 'true' })).toBeGreaterThan(0);
    expect(await cap({ [key('b2')]: 'true' })).toBeGreaterThan(0);
    expect(await cap({ [key('elsewhere')]: 'true' })).toBe(0);
  });

  test('at the end: neither array holds a volume or host', () => {
    expect(s.sim.array.volumes).toHaveLength(0);
    expect(b2.array.volumes).toHaveLength(0);
    expect(s.sim.array.hosts).toHaveLength(0);
  });
});

describe('one process serving both controller and node (mode all) with two backends', () => {
  // csi-sanity ("NodeGetInfo should return appropriate values") requires a topology from
  // NodeGetInfo whenever the plugin advertises VOLUME_ACCESSIBILITY_CONSTRAINTS on that socket:
  // in mode all the node reports the controller's backends.
  test('advertised topology implies NodeGetInfo reports segments, even without an explicit backend-id list', async () => {
    const one = await startSanity({
      backends: [{ id: 'b2', url: b2.url, username: b2.username, password: b2.password, defaultCpg: 'SSD_r6' }],
    });
    try {
      const caps = await one.identity.call('GetPluginCapabilities');
      const advertised = caps.capabilities.some((c) => c.service?.type === 'VOLUME_ACCESSIBILITY_CONSTRAINTS');
      const info = await one.node.call('NodeGetInfo');
      if (advertised) expect(info.accessible_topology).not.toBeNull();
    } finally {
      await one.close();
    }
  });
});
