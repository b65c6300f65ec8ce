/** Hosts, host sets and VLUNs: paths, queries, CHAP, automatic LUNs, oneHost, guards. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session({ errorCodes: { VV_ONE_HOST_POLICY: { status: 409, code: 4242 } } }));
});
afterAll(async () => sim.close());

const IQN = 'iqn.1994-05.com.redhat:node-a';
const WWN = '10:00:00:00:c9:ab:cd:ef';

describe('hosts', () => {
  test('create with iSCSI, FC (colons accepted) or no paths; object members', async () => {
    const r = await api('POST', '/hosts', {
      name: 'h-iscsi',
      iSCSINames: [IQN],
      persona: 2,
      descriptors: { comment: '{"v":1}', os: 'Linux' },
    });
    expect([r.status, r.headers['location']]).toEqual([201, '/api/v1/hosts/h-iscsi']);
    expect((await api('POST', '/hosts', { name: 'h-fc', FCWWNs: [WWN] })).status).toBe(201);
    expect((await api('POST', '/hosts', { name: 'h-loop' })).status).toBe(201);
    const h = (await api('GET', '/hosts/h-iscsi')).body;
    expect(h).toMatchObject({
      name: 'h-iscsi',
      persona: 2,
      descriptors: { comment: '{"v":1}', os: 'Linux' },
      iSCSIPaths: [{ name: IQN }],
      FCPaths: [],
      initiatorChapEnabled: false,
      targetChapEnabled: false,
    });
    expect((await api('GET', '/hosts/h-fc')).body.FCPaths[0].wwn).toBe('10000000C9ABCDEF');
    expect((await api('GET', '/hosts/h-loop')).body).toMatchObject({ FCPaths: [], iSCSIPaths: [] });
  });

  test('create errors', async () => {
    expect((await api('POST', '/hosts', { name: 'h-iscsi' })).body.code).toBe(16);
    expect((await api('POST', '/hosts', { name: 'h2', iSCSINames: [IQN] })).body.code).toBe(73);
    expect((await api('POST', '/hosts', { name: 'h2', FCWWNs: ['10000000C9ABCDEF'] })).body.code).toBe(73);
    expect((await api('POST', '/hosts', { name: 'h2', FCWWNs: ['1000'], iSCSINames: ['iqn.x'] })).body.code).toBe(44);
    expect((await api('POST', '/hosts', { name: 'h2', FCWWNs: ['xyz'] })).body).toMatchObject({
      code: 39,
      ref: 'FCWWNs[0]',
    });
    expect((await api('POST', '/hosts', { name: 'h2', iSCSINames: ['iqn.a', 'iqn.a'] })).body.code).toBe(98);
    expect((await api('POST', '/hosts', { name: 'h2', persona: 12 })).body.code).toBe(46);
    expect((await api('POST', '/hosts', { name: 'h2', descriptors: { comment: 'c'.repeat(256) } })).body).toMatchObject(
      { code: 57, ref: 'descriptors.comment' },
    );
    expect((await api('POST', '/hosts', { name: 'h'.repeat(32) })).body.code).toBe(57);
    expect((await api('POST', '/hosts', { name: 'h2', domain: 'd' })).body.code).toBe(38);
    expect((await api('GET', '/hosts/nope')).body.code).toBe(17);
  });

  test('query by initiator (1.3 syntax), empty result is 200 with total 0', async () => {
    const q = (expr: string): Promise<Res> => api('GET', `/hosts?query=${encodeURIComponent(expr)}`);
    expect((await q(`"iSCSIPaths[name==${IQN}]"`)).body.members.map((h: { name: string }) => h.name)).toEqual([
      'h-iscsi',
    ]);
    expect(
      (
        await q('"FCPaths[wwn==10000000C9ABCDEF OR wwn==2000000000000000] OR iSCSIPaths[name==iqn.none]"')
      ).body.members.map((h: { name: string }) => h.name),
    ).toEqual(['h-fc']);
    expect((await q('"FCPaths[wwn==2000000000000000]"')).body).toEqual({ total: 0, members: [] });
    expect((await q('"name EQ x"')).status).toBe(400);
  });

  test('modify: paths, rename, persona, CHAP', async () => {
    expect((await api('PUT', '/hosts/h-loop', { pathOperation: 1, iSCSINames: ['iqn.loop'] })).status).toBe(200);
    expect((await api('PUT', '/hosts/h-loop', { pathOperation: 1, iSCSINames: [IQN] })).body.code).toBe(73);
    expect((await api('PUT', '/hosts/h-loop', { iSCSINames: ['iqn.z'] })).body.code).toBe(78);
    expect((await api('PUT', '/hosts/h-loop', { pathOperation: 2, iSCSINames: ['iqn.z'] })).body.code).toBe(80);
    expect((await api('PUT', '/hosts/h-loop', { pathOperation: 2, iSCSINames: ['iqn.loop'] })).status).toBe(200);
    expect(
      (
        await api('PUT', '/hosts/h-loop', {
          chapOperation: 1,
          chapOperationMode: 1,
          chapName: 'u',
          chapSecret: 'short',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api('PUT', '/hosts/h-loop', {
          chapOperation: 1,
          chapOperationMode: 1,
          chapName: 'u',
          chapSecret: 'secret-123456',
        })
      ).status,
    ).toBe(200);
    expect((await api('GET', '/hosts/h-loop')).body).toMatchObject({
      initiatorChapEnabled: true,
      initiatorChapName: 'u',
    });
    expect((await api('GET', '/hosts/h-loop')).raw).not.toContain('secret-123456');
    expect((await api('PUT', '/hosts/h-loop', { newName: 'h-fc' })).body.code).toBe(16);
    const r = await api('PUT', '/hosts/h-loop', { newName: 'h-loop2', descriptors: { comment: 'x' } });
    expect(r.headers['location']).toBe('/api/v1/hosts/h-loop2');
    expect((await api('PUT', '/hosts/h-loop2', { newName: 'h-loop' })).status).toBe(200);
  });
});

describe('VLUNs', () => {
  beforeAll(async () => {
    await api('POST', '/volumes', { name: 'vl-1', cpg: 'SSD_r6', sizeMiB: 256 });
    await api('POST', '/volumes', { name: 'vl-2', cpg: 'SSD_r6', sizeMiB: 256 });
    await api('POST', '/volumes', { name: 'vl-one', cpg: 'SSD_r6', sizeMiB: 256, policies: { oneHost: true } });
  });

  test('autoLun picks the lowest free LUN; the LUN is reported in Location only', async () => {
    const a = await api('POST', '/vluns', {
      volumeName: 'vl-1',
      hostname: 'h-iscsi',
      lun: 0,
      autoLun: true,
      maxAutoLun: 0,
    });
    expect([a.status, a.headers['location'], a.raw]).toEqual([201, '/api/v1/vluns/vl-1,0,h-iscsi', '']);
    const b = await api('POST', '/vluns', { volumeName: 'vl-2', hostname: 'h-iscsi', lun: 0, autoLun: true });
    expect(b.headers['location']).toBe('/api/v1/vluns/vl-2,1,h-iscsi');
    expect((await api('POST', '/vluns', { volumeName: 'vl-2', hostname: 'h-loop', lun: 5 })).headers['location']).toBe(
      '/api/v1/vluns/vl-2,5,h-loop',
    );
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', hostname: 'h-iscsi', lun: 1 })).body.code).toBe(18);
  });

  test('create errors', async () => {
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', hostname: 'h-iscsi' })).body).toMatchObject({
      code: 40,
      ref: 'lun',
    });
    expect((await api('POST', '/vluns', { hostname: 'h-iscsi', lun: 0 })).body).toMatchObject({
      code: 40,
      ref: 'volumeName',
    });
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', lun: 0 })).body.code).toBe(12);
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', hostname: 'h-iscsi', lun: 16384 })).body.code).toBe(28);
    expect((await api('POST', '/vluns', { volumeName: 'nope', hostname: 'h-iscsi', lun: 0 })).body.code).toBe(23);
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', hostname: 'nope', lun: 0 })).body.code).toBe(17);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-1',
          hostname: 'h-fc',
          lun: 0,
          portPos: { node: 5, slot: 5, cardPort: 4 },
        })
      ).body.code,
    ).toBe(20);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-1',
          hostname: 'h-fc',
          lun: 0,
          portPos: { node: 9, slot: 9, cardPort: 9 },
        })
      ).body.code,
    ).toBe(55);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-1',
          hostname: 'h-fc',
          lun: 0,
          portPos: { node: 0, slot: 0, cardPort: 1 },
        })
      ).body.code,
    ).toBe(21);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-1',
          lun: 0,
          overrideLowerPriority: true,
          portPos: { node: 0, slot: 1, cardPort: 1 },
        })
      ).body.code,
    ).toBe(44);
  });

  test('matched set and port-presents VLUNs carry the port in their id', async () => {
    const m = await api('POST', '/vluns', {
      volumeName: 'vl-1',
      hostname: 'h-fc',
      lun: 3,
      portPos: { node: 0, slot: 1, cardPort: 1 },
    });
    expect(m.headers['location']).toBe('/api/v1/vluns/vl-1,3,h-fc,0:1:1');
    const p = await api('POST', '/vluns', { volumeName: 'vl-2', lun: 7, portPos: { node: 1, slot: 1, cardPort: 1 } });
    expect(p.headers['location']).toBe('/api/v1/vluns/vl-2,7,,1:1:1');
    expect((await api('GET', '/vluns/vl-2,7,,1:1:1')).body).toMatchObject({
      type: 2,
      lun: 7,
      volumeName: 'vl-2',
      active: false,
    });
    expect((await api('DELETE', '/vluns/vl-2,7,,1:1:1')).status).toBe(200);
    // A host sees LUNs per port: the same LUN through another port is another matched set.
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-1',
          hostname: 'h-fc',
          lun: 3,
          portPos: { node: 1, slot: 1, cardPort: 1 },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-2',
          hostname: 'h-fc',
          lun: 3,
          portPos: { node: 1, slot: 1, cardPort: 1 },
        })
      ).body.code,
    ).toBe(18);
    expect((await api('POST', '/vluns', { volumeName: 'vl-2', hostname: 'h-fc', lun: 3 })).body.code).toBe(18);
    expect((await api('DELETE', '/vluns/vl-1,3,h-fc,1:1:1')).status).toBe(200);
    expect((await api('DELETE', '/vluns/vl-1,3,h-fc')).body.code).toBe(19);
    expect((await api('DELETE', '/vluns/vl-1,3,h-fc,0:1:1')).status).toBe(200);
  });

  test('list: templates plus active paths (host × target ports), get one, delete', async () => {
    const l = (await api('GET', '/vluns')).body;
    const rows = l.members.filter((r: { volumeName: string }) => r.volumeName === 'vl-1');
    const tpl = rows.filter((r: { active: boolean }) => !r.active);
    expect(tpl).toEqual([expect.objectContaining({ lun: 0, hostname: 'h-iscsi', type: 3, multipathing: 1 })]);
    expect(tpl[0]).not.toHaveProperty('remoteName');
    const active = rows.filter((r: { active: boolean }) => r.active);
    expect(active.length).toBe(2);
    expect(active[0]).toMatchObject({
      remoteName: IQN,
      portPos: { node: 0, slot: 2, cardPort: 1 },
      volumeWWN: expect.stringMatching(/^60002AC/),
    });
    const g = await api('GET', '/vluns/vl-1,0,h-iscsi');
    expect(g.body).toMatchObject({ lun: 0, volumeName: 'vl-1', hostname: 'h-iscsi', active: false });
    expect((await api('GET', '/vluns/vl-1,9,h-iscsi')).body.code).toBe(19);
    expect((await api('GET', '/vluns/vl-1,x,h-iscsi')).status).toBe(400);
    expect((await api('GET', '/vluns/vl-1,0,nope')).body.code).toBe(17);
    expect((await api('GET', `/vluns?query=${encodeURIComponent('"volumeName EQ vl-1"')}`)).body.code).toBe(9030);
  });

  test('oneHost: a VLUN to a second host is refused (configured code), the same host may get more', async () => {
    expect(
      (await api('POST', '/vluns', { volumeName: 'vl-one', hostname: 'h-iscsi', lun: 0, autoLun: true })).status,
    ).toBe(201);
    const r = await api('POST', '/vluns', { volumeName: 'vl-one', hostname: 'h-fc', lun: 0, autoLun: true });
    expect([r.status, r.body.code]).toEqual([409, 4242]);
    expect(
      (
        await api('POST', '/vluns', {
          volumeName: 'vl-one',
          hostname: 'h-iscsi',
          lun: 0,
          autoLun: true,
          portPos: { node: 0, slot: 2, cardPort: 1 },
        })
      ).status,
    ).toBe(201);
  });

  test('host guards: exported → 26, in a host set → 77', async () => {
    expect((await api('DELETE', '/hosts/h-iscsi')).body.code).toBe(26);
    expect((await api('PUT', '/hosts/h-iscsi', { persona: 1 })).body.code).toBe(26);
    await api('POST', '/hosts', { name: 'h-set-member' });
    expect((await api('POST', '/hostsets', { name: 'hs', setmembers: ['h-set-member'] })).status).toBe(201);
    expect((await api('DELETE', '/hosts/h-set-member')).body.code).toBe(77);
    expect((await api('GET', '/hostsets/hs')).body.setmembers).toEqual(['h-set-member']);
    const v = await api('POST', '/vluns', { volumeName: 'vl-2', hostname: 'set:hs', lun: 0, autoLun: true });
    expect(v.headers['location']).toBe('/api/v1/vluns/vl-2,0,set:hs');
    expect((await api('DELETE', '/hostsets/hs')).body.code).toBe(26);
    expect((await api('DELETE', '/vluns/vl-2,0,set:hs')).status).toBe(200);
    expect((await api('DELETE', '/hostsets/hs')).status).toBe(200);
    expect((await api('DELETE', '/hosts/h-set-member')).status).toBe(200);
  });
});

describe('VLUN names', () => {
  test('volume and host names are name31, set names Name27', async () => {
    expect((await api('POST', '/vluns', { volumeName: 'v'.repeat(32), hostname: 'h-fc', lun: 0 })).body).toMatchObject({
      code: 57,
      ref: 'volumeName',
    });
    expect((await api('POST', '/vluns', { volumeName: 'vl-1', hostname: 'a b', lun: 0 })).body).toMatchObject({
      code: 69,
      ref: 'hostname',
    });
    expect(
      (await api('POST', '/vluns', { volumeName: `set:${'s'.repeat(28)}`, hostname: 'h-fc', lun: 0 })).body.code,
    ).toBe(57);
    expect((await api('POST', '/vluns', { volumeName: 'set:none', hostname: 'h-fc', lun: 0 })).body.code).toBe(102);
  });
});
