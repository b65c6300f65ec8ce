/** Later-firmware profiles: tdvv, compression, EQ queries, QoS, sessionType. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { call, session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session({ profile: '3.2.2' }));
});
afterAll(async () => sim.close());

const q = (expr: string): string => `query=${encodeURIComponent(`"${expr}"`)}`;

describe('profile 3.2.2', () => {
  test('version, tdvv, EQ queries on volumes and VLUNs', async () => {
    expect((await call(sim, 'GET', '/api')).body).toEqual({ major: 1, minor: 5, build: 30202390 });
    expect(
      (await api('POST', '/volumes', { name: 'dd', cpg: 'SSD_r6', sizeMiB: 256, tdvv: true, snapCPG: 'SSD_r6' }))
        .status,
    ).toBe(201);
    expect((await api('GET', '/volumes/dd')).body).toMatchObject({ provisioningType: 6, links: [{ rel: 'self' }] });
    expect(
      (await api('POST', '/volumes', { name: 'x', cpg: 'SSD_r6', sizeMiB: 256, tdvv: true, tpvv: true })).body.code,
    ).toBe(44);
    expect(
      (await api('POST', '/volumes', { name: 'x', cpg: 'SSD_r6', sizeMiB: 256, compression: true })).body.code,
    ).toBe(12);
    await api('POST', '/volumes/dd', { action: 'createSnapshot', parameters: { name: 'dd-s' } });
    expect(
      (await api('GET', `/volumes?${q('copyOf EQ dd')}`)).body.members.map((v: { name: string }) => v.name),
    ).toEqual(['dd-s']);
    await api('POST', '/hosts', { name: 'qh' });
    await api('POST', '/vluns', { volumeName: 'dd', hostname: 'qh', lun: 0, autoLun: true });
    expect((await api('GET', `/vluns?${q('volumeName EQ dd')}`)).body.total).toBe(1);
    expect((await api('GET', `/vluns?${q('hostname EQ other')}`)).body.total).toBe(0);
  });

  test('a VLUN query answers what the full list holds for it, sets and port presents included', async () => {
    for (const name of ['qa', 'qb', 'qc']) await api('POST', '/volumes', { name, cpg: 'SSD_r6', sizeMiB: 256 });
    await api('POST', '/hosts', { name: 'hq1', iSCSINames: ['iqn.1994-05.com.example:hq1'] });
    await api('POST', '/hosts', { name: 'hq2', iSCSINames: ['iqn.1994-05.com.example:hq2'] });
    await api('POST', '/hostsets', { name: 'hsq', setmembers: ['hq2'] });
    await api('POST', '/volumesets', { name: 'vsq', setmembers: ['qa', 'qb'] });
    const made = [
      await api('POST', '/vluns', { volumeName: 'qa', hostname: 'hq1', lun: 0, autoLun: true }),
      await api('POST', '/vluns', { volumeName: 'set:vsq', hostname: 'hq1', lun: 7 }),
      await api('POST', '/vluns', { volumeName: 'qc', hostname: 'set:hsq', lun: 0, autoLun: true }),
      await api('POST', '/vluns', {
        volumeName: 'qb',
        lun: 9,
        portPos: { node: 1, slot: 1, cardPort: 1 },
      }),
    ];
    expect(made.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    type Row = Record<string, unknown>;
    const all = (await api('GET', '/vluns')).body.members as Row[];
    const wwn = (all.find((r) => r['volumeName'] === 'qb' && r['volumeWWN']) ?? {})['volumeWWN'] as string;
    const exprs = [
      ['volumeName', 'qa'],
      ['volumeName', 'qb'],
      ['volumeName', 'qc'],
      ['volumeName', 'set:vsq'],
      ['hostname', 'hq1'],
      ['hostname', 'hq2'],
      ['hostname', 'set:hsq'],
      ['volumeWWN', wwn],
    ] as const;
    for (const [k, v] of exprs) {
      const got = (await api('GET', `/vluns?${q(`${k} EQ ${v}`)}`)).body.members as Row[];
      const want = all.filter((r) => r[k] === v);
      expect(want.length).toBeGreaterThan(0);
      expect({ expr: `${k} EQ ${v}`, rows: got }).toEqual({ expr: `${k} EQ ${v}`, rows: want });
    }
    const either = (await api('GET', `/vluns?${q('volumeName EQ qc OR hostname EQ hq1')}`)).body.members;
    expect(either).toEqual(all.filter((r) => r['volumeName'] === 'qc' || r['hostname'] === 'hq1'));
  });

  test('object key/values on volumes', async () => {
    const c = await api('POST', '/volumes/dd/objectKeyValues', { key: 'k1', value: 'v1' });
    expect([c.status, c.headers['location']]).toEqual([201, '/api/v1/volumes/dd/objectKeyValues/k1']);
    expect((await api('POST', '/volumes/dd/objectKeyValues', { key: 'k1', value: 'v2' })).body.code).toBe(181);
    expect((await api('PUT', '/volumes/dd/objectKeyValues/k1', { value: 'v3' })).status).toBe(200);
    expect((await api('GET', '/volumes/dd/objectKeyValues/k1')).body).toEqual({ key: 'k1', value: 'v3' });
    expect((await api('GET', '/volumes/dd/objectKeyValues')).body).toEqual({
      total: 1,
      members: [{ key: 'k1', value: 'v3' }],
    });
    expect((await api('DELETE', '/volumes/dd/objectKeyValues/k1')).status).toBe(200);
    expect((await api('GET', '/volumes/dd/objectKeyValues/k1')).body.code).toBe(180);
  });

  test('QoS rules on VV sets', async () => {
    await api('POST', '/volumesets', { name: 'qset', setmembers: ['dd'] });
    expect((await api('POST', '/qos', { name: 'nope', type: 1, ioMaxLimit: 100 })).body.code).toBe(117);
    const c = await api('POST', '/qos', { name: 'qset', type: 1, ioMaxLimit: 1000, priority: 2, enable: true });
    expect([c.status, c.headers['location']]).toEqual([201, '/api/v1/qos/vvset:qset']);
    expect((await api('POST', '/qos', { name: 'qset', type: 1 })).body.code).toBe(114);
    expect((await api('GET', '/qos/vvset:qset')).body).toMatchObject({
      name: 'qset',
      type: 1,
      enabled: true,
      ioMaxLimit: 1000,
    });
    expect((await api('DELETE', '/volumesets/qset')).status).toBe(409);
    expect((await api('PUT', '/qos/vvset:qset', { bwMaxLimitKB: 2048 })).status).toBe(200);
    expect((await api('GET', '/qos')).body.members[0].bwMaxLimitKB).toBe(2048);
    expect((await api('DELETE', '/qos/vvset:qset')).status).toBe(200);
    expect((await api('GET', '/qos/vvset:qset')).body.code).toBe(100);
  });
});

describe('profiles 3.1.3 MU1 and 3.3.1', () => {
  test('no QoS on 1.3; compression and sessionType on 3.3.1', async () => {
    const old = await startSimulator();
    const later = await startSimulator({ profile: '3.3.1' });
    try {
      const k = (await call(old, 'POST', '/api/v1/credentials', { user: old.username, password: old.password })).body
        .key;
      expect((await call(old, 'GET', '/api/v1/qos', undefined, { key: k })).body.code).toBe(11);
      await call(old, 'POST', '/api/v1/volumes', { name: 'o', cpg: 'SSD_r6', sizeMiB: 256 }, { key: k });
      expect((await call(old, 'GET', '/api/v1/volumes/o/objectKeyValues', undefined, { key: k })).body.code).toBe(11);
      const r = await call(later, 'POST', '/api/v1/credentials', {
        user: later.username,
        password: later.password,
        sessionType: 1,
      });
      expect(r.status).toBe(201);
      const key = r.body.key as string;
      expect(
        (
          await call(
            later,
            'POST',
            '/api/v1/volumes',
            { name: 'c', cpg: 'SSD_r6', sizeMiB: 256, tpvv: true, compression: true },
            { key },
          )
        ).status,
      ).toBe(201);
      expect((await call(later, 'GET', '/api/v1/volumes/c', undefined, { key })).body.compressionState).toBe(1);
    } finally {
      await old.close();
      await later.close();
    }
  });

  test('unknown profile is an error', async () => {
    await expect(startSimulator({ profile: '9.9' })).rejects.toMatchObject({ code: 'SIM_BAD_OPTIONS' });
  });
});
