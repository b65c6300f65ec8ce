/**
 * Virtual domains as a real 3PAR applies them (evidence in src/simulator/README.md "Meeting the
 * real array"): CPGs, hosts and sets carry a domain, a volume takes its CPG's, a VLUN joins a
 * volume and a host of one domain (403/118 otherwise), a set holds members of its own domain.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { session, type CallOptions, type Res } from './helpers.js';

let sim: RunningSimulator;
let api: (method: string, path: string, body?: unknown, o?: CallOptions) => Promise<Res>;

const GiB = 1024 * 1024;
beforeAll(async () => {
  ({ sim, api } = await session({
    cpgs: [
      { name: 'A_r6', sizeMiB: 4 * GiB, domain: 'TENANT_A' },
      { name: 'B_r6', sizeMiB: 4 * GiB, domain: 'TENANT_B' },
      { name: 'FREE_r6', sizeMiB: 4 * GiB },
    ],
    domains: ['TENANT_C'],
  }));
});
afterAll(async () => sim.close());

const vol = (name: string, cpg: string, snapCPG = cpg) =>
  api('POST', '/volumes', { name, cpg, snapCPG, sizeMiB: 1024, tpvv: true });
const host = (name: string, iqn: string, domain?: string) =>
  api('POST', '/hosts', { name, iSCSINames: [iqn], ...(domain && { domain }) });
const vlun = (volumeName: string, hostname: string) =>
  api('POST', '/vluns', { volumeName, hostname, lun: 0, autoLun: true, maxAutoLun: 0 });

describe('objects carry their domain', () => {
  test('CPGs, volumes (their CPG’s, a snapshot its base’s), hosts and sets report it; none is omitted', async () => {
    expect((await api('GET', '/cpgs/A_r6')).body.domain).toBe('TENANT_A');
    expect((await api('GET', '/cpgs/FREE_r6')).body).not.toHaveProperty('domain');
    expect((await vol('d-a1', 'A_r6')).status).toBe(201);
    expect((await api('GET', '/volumes/d-a1')).body.domain).toBe('TENANT_A');
    expect(
      (
        await api('POST', '/volumes/d-a1', {
          action: 'createSnapshot',
          parameters: { name: 'd-a1-snap', readOnly: true },
        })
      ).status,
    ).toBe(201);
    expect((await api('GET', '/volumes/d-a1-snap')).body.domain).toBe('TENANT_A');
    expect((await vol('d-free', 'FREE_r6')).status).toBe(201);
    expect((await api('GET', '/volumes/d-free')).body).not.toHaveProperty('domain');
    expect((await host('d-host-a', 'iqn.1993-08.org.debian:01:da', 'TENANT_A')).status).toBe(201);
    expect((await api('GET', '/hosts/d-host-a')).body.domain).toBe('TENANT_A');
    expect(
      (await api('POST', '/volumesets', { name: 'd-set-a', domain: 'TENANT_A', setmembers: ['d-a1'] })).status,
    ).toBe(201);
    expect((await api('GET', '/volumesets/d-set-a')).body.domain).toBe('TENANT_A');
  });

  test('a domain that does not exist is 404/38; one from the options exists', async () => {
    const r = await host('d-host-x', 'iqn.1993-08.org.debian:01:dx', 'NOPE');
    expect([r.status, r.body.code]).toEqual([404, 38]);
    expect((await host('d-host-c', 'iqn.1993-08.org.debian:01:dc', 'TENANT_C')).status).toBe(201);
    expect((await api('POST', '/volumesets', { name: 'd-set-x', domain: 'NOPE' })).body.code).toBe(38);
  });
});

describe('a VLUN joins a volume and a host of one domain', () => {
  test('same domain: exported; a host in another domain or in none: 403/118 "Volume not in same domain"', async () => {
    await vol('d-a2', 'A_r6');
    expect((await vlun('d-a2', 'd-host-a')).status).toBe(201);
    await host('d-host-b', 'iqn.1993-08.org.debian:01:db', 'TENANT_B');
    await host('d-host-none', 'iqn.1993-08.org.debian:01:dn');
    for (const h of ['d-host-b', 'd-host-none']) {
      const r = await vlun('d-a2', h);
      expect([r.status, r.body.code]).toEqual([403, 118]);
      expect(r.body.desc).toMatch(/^Volume not in same domain/);
    }
    // A volume in no domain goes to hosts in none, not to a domain's.
    expect((await vlun('d-free', 'd-host-none')).status).toBe(201);
    expect((await vlun('d-free', 'd-host-a')).status).toBe(403);
    expect(sim.array.vlunsOfHost(sim.array.host('d-host-b')!.id)).toHaveLength(0);
  });

  test("domainExport 'hostWithoutDomain' lets a host in no domain see a domain's volume ([U] switch)", async () => {
    const lenient = await session({ cpgDomain: 'TENANT_A', domainExport: 'hostWithoutDomain' });
    try {
      expect(
        (
          await lenient.api('POST', '/volumes', {
            name: 'l-a',
            cpg: 'SSD_r6',
            snapCPG: 'SSD_r6',
            sizeMiB: 1024,
            tpvv: true,
          })
        ).status,
      ).toBe(201);
      expect((await lenient.api('GET', '/volumes/l-a')).body.domain).toBe('TENANT_A');
      await lenient.api('POST', '/hosts', { name: 'l-none', iSCSINames: ['iqn.1993-08.org.debian:01:ln'] });
      expect(
        (
          await lenient.api('POST', '/vluns', {
            volumeName: 'l-a',
            hostname: 'l-none',
            lun: 0,
            autoLun: true,
            maxAutoLun: 0,
          })
        ).status,
      ).toBe(201);
    } finally {
      await lenient.sim.close();
    }
  });
});

describe('sets and CPGs keep to one domain', () => {
  test('a set member of another domain is refused 409 (create and add); a volume’s CPGs share a domain (403)', async () => {
    await vol('d-b1', 'B_r6');
    const create = await api('POST', '/volumesets', {
      name: 'd-set-mixed',
      domain: 'TENANT_A',
      setmembers: ['d-a2', 'd-b1'],
    });
    expect([create.status, create.body.code]).toEqual([409, 9060]);
    expect(sim.array.volumeSet('d-set-mixed')).toBeUndefined();
    expect((await api('POST', '/volumesets', { name: 'd-set-none', setmembers: ['d-a2'] })).status).toBe(409);
    expect((await api('PUT', '/volumesets/d-set-a', { action: 1, setmembers: ['d-b1'] })).status).toBe(409);
    expect((await api('PUT', '/volumesets/d-set-a', { action: 1, setmembers: ['d-a2'] })).status).toBe(200);
    expect(
      (await api('POST', '/hostsets', { name: 'd-hset', domain: 'TENANT_B', setmembers: ['d-host-a'] })).status,
    ).toBe(409);
    const cpgs = await vol('d-mixed', 'A_r6', 'B_r6');
    expect([cpgs.status, cpgs.body.code]).toEqual([403, 9061]);
  });
});
