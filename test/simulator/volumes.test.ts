/** Volumes: create/modify/grow/delete, every invalid-input class with its code, and the guards. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { session, until, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

beforeAll(async () => {
  ({ sim, api } = await session({
    cpgs: [
      { name: 'SSD_r6', sizeMiB: 1024 * 1024 },
      { name: 'SMALL', sizeMiB: 2048 },
    ],
  }));
});
afterAll(async () => sim.close());

const base = { name: 'v', cpg: 'SSD_r6', sizeMiB: 1024 };

describe('create validation', () => {
  test.each([
    ['unknown member', { ...base, color: 'red' }, 12, 'color'],
    ['unknown nested member', { ...base, policies: { fast: true } }, 12, 'policies.fast'],
    ['wrong type', { ...base, sizeMiB: '1024' }, 39, 'sizeMiB'],
    ['wrong nested type', { ...base, policies: { oneHost: 'yes' } }, 39, 'policies.oneHost'],
    ['missing name', { cpg: 'SSD_r6', sizeMiB: 1 }, 40, 'name'],
    ['missing cpg', { name: 'v', sizeMiB: 1 }, 40, 'cpg'],
    ['missing size', { name: 'v', cpg: 'SSD_r6' }, 40, 'sizeMiB'],
    ['name of 32 characters', { ...base, name: 'a'.repeat(32) }, 57, 'name'],
    ['illegal character', { ...base, name: 'a b' }, 69, 'name'],
    ['leading dash', { ...base, name: '-a' }, 69, 'name'],
    ['empty name', { ...base, name: '' }, 45, 'name'],
    ['comment over 511', { ...base, comment: 'c'.repeat(512) }, 57, 'comment'],
    ['size zero', { ...base, sizeMiB: 0 }, 43, 'sizeMiB'],
    ['negative size', { ...base, sizeMiB: -1 }, 115, 'sizeMiB'],
    ['tdvv on 1.3', { ...base, tdvv: true }, 12, 'tdvv'],
  ])('%s', async (_what, body, code, ref) => {
    const r = await api('POST', '/volumes', body);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code, ref });
    expect(typeof r.body.desc).toBe('string');
  });

  test('business rules', async () => {
    expect((await api('POST', '/volumes', { ...base, sizeMiB: 16 * 1024 * 1024 + 1 })).body).toMatchObject({
      code: 28,
    });
    expect((await api('POST', '/volumes', { ...base, cpg: 'nope' })).body).toMatchObject({ code: 15, ref: 'cpg' });
    expect((await api('POST', '/volumes', { ...base, snapCPG: 'nope' })).body).toMatchObject({
      code: 15,
      ref: 'snapCPG',
    });
    expect((await api('POST', '/volumes', { ...base, policies: { caching: true } })).status).toBe(400);
    expect((await api('POST', '/volumes', { ...base, policies: { zeroDetect: true } })).body.code).toBe(91);
    expect((await api('POST', '/volumes', { ...base, usrSpcAllocLimitPct: 50 })).status).toBe(400);
    expect((await api('POST', '/volumes', { ...base, expirationHours: 1, retentionHours: 2 })).status).toBe(400);
    const space = await api('POST', '/volumes', { ...base, cpg: 'SMALL', sizeMiB: 4096 });
    expect([space.status, space.body.code]).toEqual([400, 24]);
    // Thin volumes take only their used space from the CPG.
    expect(
      (await api('POST', '/volumes', { ...base, name: 'thin-big', cpg: 'SMALL', sizeMiB: 4096, tpvv: true })).status,
    ).toBe(201);
    await api('DELETE', '/volumes/thin-big');
    // null means absent.
    expect((await api('POST', '/volumes', { ...base, name: 'nul', comment: null })).status).toBe(201);
    await api('DELETE', '/volumes/nul');
  });
});

describe('lifecycle', () => {
  test('create rounds up to 256 MiB; EXISTENT_VOL; get; explicit id', async () => {
    expect((await api('POST', '/volumes', { ...base, name: 'r1', sizeMiB: 1 })).status).toBe(201);
    expect((await api('GET', '/volumes/r1')).body.sizeMiB).toBe(256);
    const dup = await api('POST', '/volumes', { ...base, name: 'r1' });
    expect([dup.status, dup.body.code]).toEqual([409, 22]);
    expect((await api('POST', '/volumes', { ...base, name: 'r2', id: 900 })).status).toBe(201);
    expect((await api('GET', '/volumes/r2')).body.id).toBe(900);
    expect((await api('POST', '/volumes', { ...base, name: 'r3', id: 900 })).body.code).toBe(59);
    // The WWN carries the VV id (60002AC + 17 hex digits of the id + the system id) …
    const r2 = (await api('GET', '/volumes/r2')).body;
    expect(r2.wwn).toBe(`60002AC${(900).toString(16).toUpperCase().padStart(17, '0')}0000B69E`);
    // … but a reused id never reuses a WWN.
    await api('DELETE', '/volumes/r2');
    await api('POST', '/volumes', { ...base, name: 'r2b', id: 900 });
    expect((await api('GET', '/volumes/r2b')).body.wwn).not.toBe(r2.wwn);
    expect((await api('GET', '/volumes/a%20b')).body.code).toBe(69);
    expect((await api('GET', '/volumes/missing')).body.code).toBe(23);
  });

  test('volume object members and a unique, stable WWN', async () => {
    await api('POST', '/volumes', {
      name: 'obj',
      cpg: 'SSD_r6',
      sizeMiB: 2048,
      tpvv: true,
      snapCPG: 'SSD_r6',
      comment: 'k',
      policies: { oneHost: true },
    });
    const v = (await api('GET', '/volumes/obj')).body;
    expect(v).toMatchObject({
      name: 'obj',
      provisioningType: 2,
      copyType: 1,
      readOnly: false,
      state: 1,
      sizeMiB: 2048,
      userCPG: 'SSD_r6',
      snapCPG: 'SSD_r6',
      comment: 'k',
      policies: { oneHost: true, staleSS: true, zeroDetect: false, system: false, caching: true },
    });
    expect(v.baseId).toBe(v.id);
    expect(v.wwn).toMatch(/^60002AC[0-9A-F]{17}0000B69E$/);
    expect(v.creationTime8601).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(v).not.toHaveProperty('copyOf');
    const all = (await api('GET', '/volumes')).body.members as { wwn: string }[];
    expect(new Set(all.map((x) => x.wwn)).size).toBe(all.length);
    const q = await api(
      'GET',
      `/volumes?query=${encodeURIComponent(`"wwn==${v.wwn} OR wwn==60002AC00000000000000000000000FF"`)}`,
    );
    expect(q.body.total).toBe(1);
    expect(q.body.members[0].name).toBe('obj');
    expect((await api('GET', `/volumes?query=${encodeURIComponent('"copyOf EQ obj"')}`)).body.code).toBe(9030);
  });

  test('modify: rename, comment, policies, EXISTENT_VOL, thin user CPG refused', async () => {
    await api('POST', '/volumes', { ...base, name: 'm1', tpvv: true });
    const r = await api('PUT', '/volumes/m1', { newName: 'm2', comment: 'new', policies: { oneHost: true } });
    expect(r.status).toBe(200);
    expect(r.headers['location']).toBe('/api/v1/volumes/m2');
    expect((await api('GET', '/volumes/m2')).body).toMatchObject({ comment: 'new', policies: { oneHost: true } });
    expect((await api('PUT', '/volumes/m2', { newName: 'r1' })).body.code).toBe(22);
    expect((await api('PUT', '/volumes/m2', { userCPG: 'SSD_r6' })).status).toBe(403);
    expect((await api('PUT', '/volumes/m2', { bogus: 1 })).body).toMatchObject({ code: 12, ref: 'bogus' });
    expect((await api('PUT', '/volumes/m2', { comment: '' })).status).toBe(200);
    expect((await api('GET', '/volumes/m2')).body).not.toHaveProperty('comment');
  });

  test('grow adds a delta rounded to 256 MiB', async () => {
    await api('POST', '/volumes', { ...base, name: 'g1' });
    const r = await api('PUT', '/volumes/g1', { action: 3, sizeMiB: 100 });
    expect([r.status, r.headers['location']]).toEqual([200, '/api/v1/volumes/g1']);
    expect((await api('GET', '/volumes/g1')).body.sizeMiB).toBe(1280);
    expect((await api('PUT', '/volumes/g1', { action: 3, sizeMiB: 0 })).body.code).toBe(152);
    expect((await api('PUT', '/volumes/g1', { action: 3 })).body).toMatchObject({ code: 40, ref: 'sizeMiB' });
    expect((await api('PUT', '/volumes/g1', { action: 99 })).body.code).toBe(46);
    expect((await api('PUT', '/volumes/g1', { action: '3' })).body.code).toBe(39);
    expect((await api('PUT', '/volumes/g1', { action: 3, sizeMiB: 16 * 1024 * 1024 })).status).toBe(403);
  });

  test('delete guards: snapshots, exported, in a set, retention', async () => {
    await api('POST', '/volumes', { ...base, name: 'd1', snapCPG: 'SSD_r6' });
    await api('POST', '/volumes/d1', { action: 'createSnapshot', parameters: { name: 'd1-s', readOnly: true } });
    expect((await api('DELETE', '/volumes/d1')).body.code).toBe(32);
    expect((await api('PUT', '/volumes/d1', { action: 3, sizeMiB: 256 })).status).toBe(200);
    expect((await api('DELETE', '/volumes/d1-s')).status).toBe(200);
    await api('POST', '/hosts', { name: 'h-d' });
    await api('POST', '/vluns', { volumeName: 'd1', hostname: 'h-d', lun: 0, autoLun: true });
    expect((await api('DELETE', '/volumes/d1')).body).toMatchObject({ code: 34 });
    await api('DELETE', '/vluns/d1,0,h-d');
    await api('POST', '/volumesets', { name: 'set-d', setmembers: ['d1'] });
    expect((await api('DELETE', '/volumes/d1')).body.code).toBe(34);
    await api('DELETE', '/volumesets/set-d');
    expect((await api('DELETE', '/volumes/d1')).status).toBe(200);
    expect((await api('DELETE', '/volumes/d1')).status).toBe(404);
    await api('POST', '/volumes', { ...base, name: 'ret', retentionHours: 1, expirationHours: 2 });
    expect((await api('DELETE', '/volumes/ret')).status).toBe(409);
  });

  test('expired volumes vanish by themselves', async () => {
    await api('POST', '/volumes', { ...base, name: 'exp', expirationHours: 1 });
    // Move the expiry into the past instead of waiting an hour.
    sim.array.volumes.find((v) => v.name === 'exp')!.expirationTimeSec = 1;
    await until(async () => (await api('GET', '/volumes/exp')).status === 404);
  });
});
