/**
 * The request identity (`r` of the volume marker) is what makes a retried CreateVolume find the
 * volume an earlier attempt made: it must not change across driver versions, or a retry after an
 * upgrade answers ALREADY_EXISTS for the volume it created. The values below were computed with
 * the code before the StorageArray front door (commit 6bf80de^: parseStorageClassParameters with
 * accessProtocol 'iscsi' by default, the backend's defaultAccessProtocol when the class names
 * none, requestIdentity({ p, b, s, one })). A change here is a compatibility break: migrate.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { parseVolumeMarker } from '../../src/array/marker.js';
import { backendOf, mountCap, startDriver, startSim, type Driver } from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let plain: Driver;
let loopDefault: Driver;

beforeAll(async () => {
  sim = await startSim();
  plain = await startDriver([backendOf(sim, 'sim')]);
  loopDefault = await startDriver([backendOf(sim, 'sim', { defaultAccessProtocol: 'loop' })], {
    clusterId: 'cluster-loop',
  });
});
afterAll(async () => {
  await plain.stop();
  await loopDefault.stop();
  await sim.close();
});

const cases: { what: string; drv: () => Driver; parameters: Record<string, string>; mode: string; identity: string }[] =
  [
    {
      what: 'a class naming only a CPG, no backend default protocol (iscsi)',
      drv: () => plain,
      parameters: { cpg: 'CPG1' },
      mode: 'SINGLE_NODE_WRITER',
      identity: 'ff97a12e72da',
    },
    {
      what: 'a class naming the protocol (over the backend default), with PVC metadata, multi-node',
      drv: () => loopDefault,
      parameters: {
        cpg: 'CPG1',
        accessProtocol: 'fc',
        provisioningType: 'full',
        'csi.storage.k8s.io/pvc/name': 'claim-b',
        'csi.storage.k8s.io/pvc/namespace': 'ns',
      },
      mode: 'MULTI_NODE_READER_ONLY',
      identity: '48dea3498605',
    },
    {
      what: 'a class naming no protocol on a backend whose default is loop',
      drv: () => loopDefault,
      parameters: { cpg: 'CPG1' },
      mode: 'SINGLE_NODE_WRITER',
      identity: 'f7e4b040535e',
    },
  ];

describe('CreateVolume request identity', () => {
  test.each(cases.map((c, i) => [c.what, i] as const))(
    '%s: the marker records the identity older drivers computed',
    async (_what, i) => {
      const c = cases[i]!;
      const res = await c.drv().client.call<{ volume: { volume_id: string } }>('CreateVolume', {
        name: `pvc-ident-${i}`,
        volume_capabilities: [mountCap(c.mode)],
        parameters: c.parameters,
      });
      const name = res.volume.volume_id.split('/')[1]!;
      expect(parseVolumeMarker(sim.array.volume(name)?.comment)?.r).toBe(c.identity);
      await c.drv().client.call('DeleteVolume', { volume_id: res.volume.volume_id });
    },
  );
});
