/**
 * Every resource method against the simulator over loopback HTTP, with the exact WSAPI requests
 * each one makes (logins aside): no hidden extra GETs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import {
  CopyType,
  HostPersona,
  TaskStatus,
  TuneOperation,
  WsapiClient,
  WsapiCode,
  isWsapiCode,
  type VlunId,
} from '../../src/wsapi/index.js';

let sim: RunningSimulator;
let c: WsapiClient;

/** Runs `fn` and checks the API requests it made, as `METHOD /path[?query]`. */
async function exactly<T>(expected: string[], fn: () => Promise<T>): Promise<T> {
  sim.resetRequests();
  const out = await fn();
  const made = sim.requests
    .filter((r) => !r.path.startsWith('/api/v1/credentials'))
    .map((r) => `${r.method} ${r.path}${r.query ? `?${decodeURIComponent(r.query)}` : ''}`);
  expect(made).toEqual(expected);
  return out;
}

const IQN = 'iqn.1994-05.com.redhat:node-a';
const WWN = '10000000C9ABCDEF';

describe.each(['http', 'https'])('simulator over %s: every resource method, one request each', (scheme) => {
  beforeAll(async () => {
    sim = await startSimulator({ copyRateMiBps: 100_000, tickMs: 10, https: scheme === 'https' });
    c = new WsapiClient({
      backendId: 'sim',
      url: sim.url,
      username: sim.username,
      password: sim.password,
      ...(sim.caCert !== undefined && { caCert: sim.caCert }),
    });
    expect(sim.url.startsWith(`${scheme}:`)).toBe(true);
  });
  afterAll(async () => {
    await c.close();
    await sim.close();
  });

  it('version and feature gates: one GET /api, then cached', async () => {
    const v = await exactly(['GET /api'], () => c.apiVersion());
    expect(v).toEqual({ major: 1, minor: 3, build: 30103230 });
    await exactly([], () => c.features()).then((f) =>
      expect(f).toEqual({ vlunQueries: false, tdvv: false, compression: false, reduce: false, qos: false }),
    );
  });

  it('system and wsapiconfiguration', async () => {
    const s = await exactly(['GET /api/v1/system'], () => c.system.get());
    expect(typeof s.serialNumber).toBe('string');
    const w = await exactly(['GET /api/v1/wsapiconfiguration'], () => c.wsapiConfiguration.get());
    expect(w.sessionsInUse).toBeGreaterThanOrEqual(1);
  });

  it('cpgs: list, get, free space', async () => {
    const all = await exactly(['GET /api/v1/cpgs'], () => c.cpgs.list());
    expect(all.map((p) => p.name)).toContain('FC_r6');
    await exactly(['GET /api/v1/cpgs/FC_r6'], () => c.cpgs.get('FC_r6'));
    const free = await exactly(['POST /api/v1/spacereporter'], () => c.cpgs.freeSpace('FC_r6'));
    expect(free.usableFreeMiB).toBeGreaterThan(0);
    expect(isWsapiCode(await c.cpgs.get('nope').catch((e: unknown) => e), WsapiCode.NON_EXISTENT_CPG)).toBe(true);
  });

  it('volumes: create, get, list, modify, grow, delete', async () => {
    await exactly(['POST /api/v1/volumes'], () =>
      c.volumes.create({ name: 'vol-a', cpg: 'FC_r6', snapCPG: 'FC_r6', sizeMiB: 1024, tpvv: true, comment: 'c1' }),
    );
    const v = await exactly(['GET /api/v1/volumes/vol-a'], () => c.volumes.get('vol-a'));
    expect(v).toMatchObject({ name: 'vol-a', sizeMiB: 1024, comment: 'c1', copyType: CopyType.BASE });
    const all = await exactly(['GET /api/v1/volumes'], () => c.volumes.list());
    expect(all.map((x) => x.name)).toContain('vol-a');
    await exactly(['PUT /api/v1/volumes/vol-a'], () =>
      c.volumes.modify('vol-a', { comment: 'c2', policies: { oneHost: true } }),
    );
    await exactly(['PUT /api/v1/volumes/vol-a'], () => c.volumes.grow('vol-a', 1024));
    const after = await c.volumes.get('vol-a');
    expect(after).toMatchObject({ comment: 'c2', sizeMiB: 2048, policies: expect.objectContaining({ oneHost: true }) });
    await exactly(['POST /api/v1/volumes'], () => c.volumes.create({ name: 'vol-gone', cpg: 'FC_r6', sizeMiB: 256 }));
    await exactly(['DELETE /api/v1/volumes/vol-gone'], () => c.volumes.delete('vol-gone'));
    const err = await c.volumes.get('vol-gone').catch((e: unknown) => e);
    expect(isWsapiCode(err, WsapiCode.NON_EXISTENT_VOL)).toBe(true);
    expect(
      isWsapiCode(
        await c.volumes.create({ name: 'vol-a', cpg: 'FC_r6', sizeMiB: 256 }).catch((e: unknown) => e),
        WsapiCode.EXISTENT_VOL,
      ),
    ).toBe(true);
  });

  it('volumes: snapshot, online copy + task wait, offline copy, tune', async () => {
    // Read-write: a read-only snapshot is no physical-copy parent on a real array (issue 16 item 9).
    const snap = await exactly(['POST /api/v1/volumes/vol-a'], () =>
      c.volumes.createSnapshot('vol-a', { name: 'snap-a', readOnly: false, comment: 's' }),
    );
    expect(snap).toBe('snap-a');
    expect(await c.volumes.get('snap-a')).toMatchObject({
      copyOf: 'vol-a',
      copyType: CopyType.VIRTUAL_COPY,
      readOnly: false,
    });

    const copy = await exactly(['POST /api/v1/volumes/snap-a'], () =>
      c.volumes.createPhysicalCopy('snap-a', { destVolume: 'clone-a', online: true, destCPG: 'FC_r6', tpvv: true }),
    );
    expect(copy.destVolume).toBe('clone-a');
    const done = await c.waitForTask(copy.taskId, { intervalMs: 20, timeoutMs: 10_000 });
    expect(done.status).toBe(TaskStatus.DONE);
    expect((await c.volumes.get('clone-a')).copyType).toBe(CopyType.BASE);

    await c.volumes.create({ name: 'dest-b', cpg: 'FC_r6', sizeMiB: 2048 });
    const offline = await exactly(['POST /api/v1/volumes/vol-a'], () =>
      c.volumes.createPhysicalCopy('vol-a', { destVolume: 'dest-b', priority: 2 }),
    );
    expect((await c.waitForTask(offline.taskId, { intervalMs: 20, timeoutMs: 10_000 })).status).toBe(TaskStatus.DONE);

    const tune = await exactly(['PUT /api/v1/volumes/clone-a'], () =>
      c.volumes.tune('clone-a', { tuneOperation: TuneOperation.USR_CPG, userCPG: 'SSD_r6' }),
    );
    expect((await c.waitForTask(tune, { intervalMs: 20, timeoutMs: 10_000 })).status).toBe(TaskStatus.DONE);
  });

  it('volume sets: create, list, add/remove members, set snapshot, delete', async () => {
    await c.volumes.create({ name: 'gv-0', cpg: 'FC_r6', snapCPG: 'FC_r6', sizeMiB: 256 });
    await c.volumes.create({ name: 'gv-1', cpg: 'FC_r6', snapCPG: 'FC_r6', sizeMiB: 256 });
    await exactly(['POST /api/v1/volumesets'], () =>
      c.volumeSets.create('vs-a', { comment: 'g', setmembers: ['gv-0'] }),
    );
    await exactly(['PUT /api/v1/volumesets/vs-a'], () => c.volumeSets.addMembers('vs-a', ['gv-1']));
    const sets = await exactly(['GET /api/v1/volumesets'], () => c.volumeSets.list());
    expect(sets.find((s) => s.name === 'vs-a')?.setmembers).toEqual(['gv-0', 'gv-1']);
    await exactly(['POST /api/v1/volumesets/vs-a'], () =>
      c.volumeSets.createSnapshot('vs-a', { name: 'gs-@count@', readOnly: true }),
    );
    expect(await c.volumes.get('gs-1')).toMatchObject({ copyOf: 'gv-1', readOnly: true });
    await exactly(['PUT /api/v1/volumesets/vs-a'], () => c.volumeSets.removeMembers('vs-a', ['gv-0']));
    await exactly(['DELETE /api/v1/volumesets/vs-a'], () => c.volumeSets.delete('vs-a'));
    expect(isWsapiCode(await c.volumeSets.delete('vs-a').catch((e: unknown) => e), WsapiCode.NON_EXISTENT_SET)).toBe(
      true,
    );
  });

  it('hosts: create (iSCSI, FC, none), get, list, query by initiators, CHAP, modify, delete', async () => {
    await exactly(['POST /api/v1/hosts'], () =>
      c.hosts.create({
        name: 'host-a',
        iSCSINames: [IQN],
        persona: HostPersona.GENERIC_ALUA,
        descriptors: { comment: '{"v":1}' },
      }),
    );
    await exactly(['POST /api/v1/hosts'], () =>
      c.hosts.create({ name: 'host-f', FCWWNs: ['10:00:00:00:c9:ab:cd:ef'] }),
    );
    await exactly(['POST /api/v1/hosts'], () => c.hosts.create({ name: 'host-n' }));
    const h = await exactly(['GET /api/v1/hosts/host-a'], () => c.hosts.get('host-a'));
    expect(h).toMatchObject({ name: 'host-a', persona: 2, descriptors: { comment: '{"v":1}' } });
    expect((await exactly(['GET /api/v1/hosts'], () => c.hosts.list())).map((x) => x.name)).toEqual(
      expect.arrayContaining(['host-a', 'host-f', 'host-n']),
    );
    const found = await exactly([`GET /api/v1/hosts?query="iSCSIPaths[name==${IQN}] OR FCPaths[wwn==${WWN}]"`], () =>
      c.hosts.queryByInitiators({ iqns: [IQN], wwns: [WWN.toLowerCase()] }),
    );
    expect(found.map((x) => x.name).sort()).toEqual(['host-a', 'host-f']);
    expect(await c.hosts.queryByInitiators({ iqns: ['iqn.2000-01.com.example:none'] })).toEqual([]);
    await exactly(['PUT /api/v1/hosts/host-a'], () =>
      c.hosts.setInitiatorChap('host-a', { chapName: 'user', chapSecret: 'secret-12345' }),
    );
    expect((await c.hosts.get('host-a')).initiatorChapEnabled).toBe(true);
    await exactly(['PUT /api/v1/hosts/host-n'], () => c.hosts.modify('host-n', { descriptors: { comment: 'x' } }));
    await exactly(['DELETE /api/v1/hosts/host-n'], () => c.hosts.delete('host-n'));
    expect(
      isWsapiCode(
        await c.hosts.create({ name: 'host-x', iSCSINames: [IQN] }).catch((e: unknown) => e),
        WsapiCode.EXISTENT_PATH,
      ),
    ).toBe(true);
  });

  it('ports: list', async () => {
    const ports = await exactly(['GET /api/v1/ports'], () => c.ports.list());
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.every((p) => typeof p.portPos.node === 'number')).toBe(true);
  });

  it('vluns: create with an automatic LUN (from Location), list (client-side filter on 1.3), delete', async () => {
    const id: VlunId = await exactly(['POST /api/v1/vluns'], () =>
      c.vluns.create({ volumeName: 'vol-a', hostname: 'host-a' }),
    );
    expect(id).toMatchObject({ volumeName: 'vol-a', hostname: 'host-a', lun: expect.any(Number) });
    const fixed = await c.vluns.create({ volumeName: 'gv-0', hostname: 'host-a', lun: 42 });
    expect(fixed.lun).toBe(42);
    const mine = await exactly(['GET /api/v1/vluns'], () => c.vluns.list({ volumeName: 'vol-a' }));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((v) => v.volumeName === 'vol-a')).toBe(true);
    expect((await c.vluns.list({ hostname: 'host-a' })).map((v) => v.volumeName)).toEqual(
      expect.arrayContaining(['vol-a', 'gv-0']),
    );
    await exactly([`DELETE /api/v1/vluns/vol-a,${id.lun},host-a`], () => c.vluns.delete(id));
    await c.vluns.delete(fixed);
    expect(isWsapiCode(await c.vluns.delete(id).catch((e: unknown) => e), WsapiCode.NON_EXISTENT_VLUN)).toBe(true);
  });

  it('tasks: list, get, cancel', async () => {
    await c.volumes.create({ name: 'big', cpg: 'NL_r6', sizeMiB: 1024 * 1024 });
    const slow = await c.volumes.createPhysicalCopy('big', { destVolume: 'big-copy', online: true, destCPG: 'NL_r6' });
    const all = await exactly(['GET /api/v1/tasks'], () => c.tasks.list());
    expect(all.map((t) => t.id)).toContain(slow.taskId);
    const t = await exactly([`GET /api/v1/tasks/${slow.taskId}`], () => c.tasks.get(slow.taskId));
    expect(t).toMatchObject({ id: slow.taskId, name: 'big-copy' });
    await exactly([`PUT /api/v1/tasks/${slow.taskId}`], () => c.tasks.cancel(slow.taskId));
    const err = await c.waitForTask(slow.taskId, { intervalMs: 20, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WsapiTaskError', reason: 'cancelled' });
    expect(isWsapiCode(await c.tasks.get(999_999).catch((e: unknown) => e), WsapiCode.NON_EXISTENT_TASK)).toBe(true);
  });
});

describe('simulator with later firmware (3.2.2)', () => {
  it('asks the array to filter VLUNs (volumeName EQ / hostname EQ) and still filters the answer', async () => {
    const later = await startSimulator({ profile: '3.2.2' });
    const lc = new WsapiClient({
      backendId: 'later',
      url: later.url,
      username: later.username,
      password: later.password,
    });
    try {
      expect(await lc.features()).toMatchObject({ vlunQueries: true, tdvv: true, compression: false, qos: true });
      await lc.volumes.create({ name: 'lv-1', cpg: 'FC_r6', sizeMiB: 256 });
      await lc.volumes.create({ name: 'lv-2', cpg: 'FC_r6', sizeMiB: 256 });
      await lc.hosts.create({ name: 'lh', iSCSINames: [IQN] });
      await lc.vluns.create({ volumeName: 'lv-1', hostname: 'lh' });
      await lc.vluns.create({ volumeName: 'lv-2', hostname: 'lh' });
      later.resetRequests();
      const one = await lc.vluns.list({ volumeName: 'lv-1' });
      expect(one.map((v) => v.volumeName)).toEqual(one.map(() => 'lv-1'));
      expect(one.length).toBeGreaterThan(0);
      const byHost = await lc.vluns.list({ hostname: 'lh' });
      expect(new Set(byHost.map((v) => v.volumeName))).toEqual(new Set(['lv-1', 'lv-2']));
      const made = later.requests
        .filter((r) => !r.path.startsWith('/api/v1/credentials'))
        .map((r) => `${r.method} ${r.path}?${decodeURIComponent(r.query ?? '')}`);
      expect(made).toEqual([
        'GET /api/v1/vluns?query="volumeName EQ lv-1"',
        'GET /api/v1/vluns?query="hostname EQ lh"',
      ]);
    } finally {
      await lc.close();
      await later.close();
    }
  });
});
