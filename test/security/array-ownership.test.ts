/**
 * Issue 14 finding 6: the ownership gate cannot be bypassed through snapshots or copies. A
 * volume on the array without this cluster's marker (another cluster's, or an admin's) is
 * read by no CSI call: CreateSnapshot, CreateVolume from it (as a clone source) and a group
 * snapshot of it answer FAILED_PRECONDITION and leave the array as it was; after an explicit
 * import (a static PV with import: "true") the same calls work. Also finding 5 seen from the
 * attacker's side: a host a tenant prepared without CHAP never receives a VLUN.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { WsapiClient } from '../../src/wsapi/client.js';
import { arrayNameFor } from '../../src/array/names.js';
import { codeOf, grpcStatus } from '../helpers/grpc.js';
import { CLUSTER, GiB, iscsiNode, mountCap, type Driver, startOnSim } from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let d: Driver;
let wsapi: WsapiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ sim, d, wsapi, stop } = await startOnSim({ backend: { chap: { user: 'chapuser', secret: 'chapsecret12' } } }));
  // Someone else's data: another cluster's marker, and an admin's volume with no marker at all.
  await wsapi.volumes.create({
    name: 'other-cluster-db',
    cpg: 'CPG1',
    sizeMiB: 1024,
    tpvv: true,
    snapCPG: 'CPG1',
    comment: JSON.stringify({ v: 1, d: 'csi.3par.test.example.com', c: 'cluster-b', n: 'pvc-db' }),
  });
  await wsapi.volumes.create({
    name: 'admin-payroll',
    cpg: 'CPG1',
    sizeMiB: 1024,
    tpvv: true,
    snapCPG: 'CPG1',
    comment: 'payroll',
  });
});
afterAll(() => stop());

const names = () => sim.array.volumes.map((v) => v.name).sort();
const createFrom = (name: string, source: Record<string, unknown>) =>
  d.client.call('CreateVolume', {
    name,
    volume_capabilities: [mountCap()],
    capacity_range: { required_bytes: String(GiB) },
    parameters: { cpg: 'CPG1' },
    volume_content_source: source,
  });

describe.each(['other-cluster-db', 'admin-payroll'])('a volume without this cluster’s marker (%s)', (victim) => {
  test('CreateSnapshot of it → FAILED_PRECONDITION, no snapshot made', async () => {
    const before = names();
    expect(
      await codeOf(d.client.call('CreateSnapshot', { name: `steal-${victim}`, source_volume_id: `sim/${victim}` })),
    ).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(names()).toEqual(before);
  });

  test('CreateVolume cloning it → FAILED_PRECONDITION, no copy made', async () => {
    const before = names();
    expect(await codeOf(createFrom(`pvc-steal-${victim}`, { volume: { volume_id: `sim/${victim}` } }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(names()).toEqual(before);
    expect(sim.array.volume(arrayNameFor('volume', CLUSTER, `pvc-steal-${victim}`))).toBeUndefined();
  });

  test('CreateVolume from a snapshot an admin took of it → FAILED_PRECONDITION', async () => {
    const snapName = `${victim.slice(0, 20)}-snap`;
    await wsapi.volumes.createSnapshot(victim, { name: snapName, readOnly: true });
    const before = names();
    expect(await codeOf(createFrom(`pvc-from-${victim}`, { snapshot: { snapshot_id: `sim/${snapName}` } }))).toBe(
      grpcStatus.FAILED_PRECONDITION,
    );
    expect(names()).toEqual(before);
  });

  test('a group snapshot including it → FAILED_PRECONDITION, no member, no VV set left', async () => {
    const own = (
      await d.client.call('CreateVolume', {
        name: `pvc-own-${victim}`,
        volume_capabilities: [mountCap()],
        capacity_range: { required_bytes: String(GiB) },
        parameters: { cpg: 'CPG1' },
      })
    ).volume!;
    const before = names();
    const sets = sim.array.volumeSets.length;
    expect(
      await codeOf(
        d.group.call('CreateVolumeGroupSnapshot', {
          name: `group-${victim}`,
          source_volume_ids: [own.volume_id, `sim/${victim}`],
        }),
      ),
    ).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(names()).toEqual(before);
    expect(sim.array.volumeSets.length).toBe(sets);
    await d.client.call('DeleteVolume', { volume_id: own.volume_id });
  });
});

test('after an explicit import the same calls work', async () => {
  await wsapi.volumes.create({ name: 'legacy-import', cpg: 'CPG1', sizeMiB: 1024, tpvv: true });
  const node = iscsiNode('import-node');
  await d.client.call('ControllerPublishVolume', {
    volume_id: 'sim/legacy-import',
    node_id: node,
    volume_capability: mountCap(),
    readonly: false,
    volume_context: { import: 'true' },
  });
  await d.client.call('ControllerUnpublishVolume', { volume_id: 'sim/legacy-import', node_id: node });
  const snap = (await d.client.call('CreateSnapshot', { name: 'snap-imported', source_volume_id: 'sim/legacy-import' }))
    .snapshot!;
  const restored = (await createFrom('pvc-restored-import', { snapshot: { snapshot_id: snap.snapshot_id } })) as {
    volume: { volume_id: string };
  };
  await d.client.call('DeleteVolume', { volume_id: restored.volume.volume_id });
  await d.client.call('DeleteSnapshot', { snapshot_id: snap.snapshot_id });
});
