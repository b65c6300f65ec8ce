/**
 * Where the simulator now answers as a real 3PAR does (issue 16; evidence in
 * src/simulator/README.md "Meeting the real array"): a read-only snapshot is no physical-copy
 * parent (switchable, [U] on older firmware); a read-write child of it is.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session({ copyRateMiBps: 1_000_000, tickMs: 10 }));
});
afterAll(async () => sim.close());

const vol = (name: string) =>
  api('POST', '/volumes', { name, cpg: 'SSD_r6', snapCPG: 'SSD_r6', sizeMiB: 1024, tpvv: true });
const snap = (src: string, parameters: Record<string, unknown>) =>
  api('POST', `/volumes/${src}`, { action: 'createSnapshot', parameters });
const copy = (src: string, destVolume: string) =>
  api('POST', `/volumes/${src}`, {
    action: 'createPhysicalCopy',
    parameters: { destVolume, online: true, destCPG: 'SSD_r6', tpvv: true },
  });

describe('a physical copy whose parent is a read-only snapshot', () => {
  test('is refused 403 (python-3parclient INV_OPERATION_VV_READONLY_SNAPSHOT); a read-write child of it is a parent', async () => {
    await vol('ro-base');
    await snap('ro-base', { name: 'ro-snap', readOnly: true });
    const refused = await copy('ro-snap', 'ro-copy');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe(9050);
    expect(sim.array.volume('ro-copy')).toBeUndefined();
    expect((await snap('ro-snap', { name: 'rw-child', readOnly: false, expirationHours: 1 })).status).toBe(201);
    expect((await copy('rw-child', 'rw-copy')).status).toBe(200);
    expect(sim.array.volume('rw-copy')).toBeDefined();
  });

  test("is accepted with copyFromReadOnlySnapshot: 'allow'", async () => {
    const lenient = await session({ copyRateMiBps: 1_000_000, tickMs: 10, copyFromReadOnlySnapshot: 'allow' });
    try {
      await lenient.api('POST', '/volumes', {
        name: 'l-base',
        cpg: 'SSD_r6',
        snapCPG: 'SSD_r6',
        sizeMiB: 1024,
        tpvv: true,
      });
      await lenient.api('POST', '/volumes/l-base', {
        action: 'createSnapshot',
        parameters: { name: 'l-snap', readOnly: true },
      });
      expect(
        (
          await lenient.api('POST', '/volumes/l-snap', {
            action: 'createPhysicalCopy',
            parameters: { destVolume: 'l-copy', online: true, destCPG: 'SSD_r6' },
          })
        ).status,
      ).toBe(200);
    } finally {
      await lenient.sim.close();
    }
  });
});

describe('tunes of a volume with snapshots', () => {
  test('a conversion needs keepVV (400/40 naming it); another snapshot CPG is refused (409, code [U])', async () => {
    await vol('t-base');
    await snap('t-base', { name: 't-snap', readOnly: true });
    const convert = await api('PUT', '/volumes/t-base', {
      action: 6,
      tuneOperation: 1,
      userCPG: 'SSD_r6',
      conversionOperation: 2,
    });
    expect([convert.status, convert.body.code, convert.body.ref]).toEqual([400, 40, 'keepVV']);
    expect((await api('PUT', '/volumes/t-base', { action: 6, tuneOperation: 2, snapCPG: 'FC_r6' })).status).toBe(409);
    expect((await api('PUT', '/volumes/t-base', { snapCPG: 'FC_r6' })).status).toBe(409);
    expect(
      (
        await api('PUT', '/volumes/t-base', {
          action: 6,
          tuneOperation: 1,
          userCPG: 'SSD_r6',
          conversionOperation: 2,
          keepVV: 't-kept',
        })
      ).status,
    ).toBe(200);
  });
});

describe('VLAN-tagged iSCSI ports (later firmware)', () => {
  test('3.3.1: iSCSIPortInfo with vlan and tcpPort; the tagged port’s address is on /ports/<n:s:p>/iSCSIVlans', async () => {
    const later = await session({ profile: '3.3.1' });
    try {
      const ports = (await later.api('GET', '/ports')).body.members as {
        portPos: { node: number };
        protocol: number;
        IPAddr?: string;
        iSCSIPortInfo?: { vlan: number; tcpPort: number };
      }[];
      const iscsi = ports.filter((p) => p.protocol === 2);
      expect(iscsi.map((p) => [p.portPos.node, p.iSCSIPortInfo?.vlan, p.iSCSIPortInfo?.tcpPort])).toEqual([
        [0, 2, 3260],
        [1, 1, 3260],
      ]);
      expect(iscsi[1]!.IPAddr).toBe('0.0.0.0');
      const vlans = await later.api('GET', '/ports/1:2:1/iSCSIVlans');
      expect(vlans.body.iSCSIVlans).toMatchObject([{ IPAddr: '127.0.0.5', vlanTag: 100, tcpPort: 3260 }]);
      expect((await later.api('GET', '/ports/0:1:1/iSCSIVlans')).status).toBe(404);
    } finally {
      await later.sim.close();
    }
    // 1.3.x has neither.
    expect((await api('GET', '/ports/1:2:1/iSCSIVlans')).body.code).toBe(11);
    expect(((await api('GET', '/ports/1:2:1')).body as Record<string, unknown>)['iSCSIPortInfo']).toBeUndefined();
  });
});
