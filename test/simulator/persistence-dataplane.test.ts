/** Persistence across restarts (and a corrupt file) and the data plane (sparse files, exports). */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimulatorError, startSimulator } from '../../src/simulator/index.js';
import { call, login, until } from './helpers.js';

const MiB = 1024 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sim-test-'));
});
afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

/** A client of the simulator running now, logged in with `key`. */
function client(key: string): (m: string, p: string, b?: unknown) => ReturnType<typeof call> {
  return (m, p, b) => call(running!, m, `/api/v1${p}`, b, { key });
}
let running: Awaited<ReturnType<typeof startSimulator>> | undefined;

describe('persistence', () => {
  test('a restart resumes the same objects and running tasks; WWNs are never reused', async () => {
    const stateFile = path.join(dir, 'state.json');
    running = await startSimulator({ stateFile, copyRateMiBps: 1024, tickMs: 10 });
    let api = client(await login(running));
    await api('POST', '/volumes', {
      name: 'p1',
      cpg: 'SSD_r6',
      snapCPG: 'SSD_r6',
      sizeMiB: 20480,
      tpvv: true,
      comment: 'kept',
    });
    await api('POST', '/hosts', { name: 'ph', iSCSINames: ['iqn.p'] });
    await api('POST', '/vluns', { volumeName: 'p1', hostname: 'ph', lun: 0, autoLun: true });
    await api('POST', '/volumesets', { name: 'pset', setmembers: ['p1'] });
    const taskId = (
      await api('POST', '/volumes/p1', {
        action: 'createPhysicalCopy',
        parameters: { destVolume: 'p1-copy', destCPG: 'SSD_r6', online: true, tpvv: true },
      })
    ).body.taskid as number;
    const wwn = (await api('GET', '/volumes/p1')).body.wwn as string;
    await running.close();
    expect((await fs.readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);

    running = await startSimulator({ stateFile, copyRateMiBps: 1024, tickMs: 10 });
    api = client(await login(running));
    expect((await api('GET', '/volumes/p1')).body).toMatchObject({ wwn, comment: 'kept' });
    expect((await api('GET', '/vluns/p1,0,ph')).status).toBe(200);
    expect((await api('GET', '/volumesets/pset')).body.setmembers).toEqual(['p1']);
    expect((await api('GET', '/hosts/ph')).body.iSCSIPaths[0].name).toBe('iqn.p');
    await until(async () => (await api('GET', `/tasks/${taskId}`)).body.status === 1);
    expect((await api('GET', '/volumes/p1-copy')).body.copyType).toBe(1);
    await api('DELETE', '/vluns/p1,0,ph');
    await api('PUT', '/volumesets/pset', { action: 2, setmembers: ['p1'] });
    await api('DELETE', '/volumes/p1');
    await api('POST', '/volumes', { name: 'p2', cpg: 'SSD_r6', sizeMiB: 256 });
    const wwns = ((await api('GET', '/volumes')).body.members as { wwn: string }[]).map((v) => v.wwn);
    expect(wwns).not.toContain(wwn);
    await running.close();
    running = undefined;
  });

  test('a corrupt state file is an error, never a silent reset', async () => {
    const stateFile = path.join(dir, 'corrupt.json');
    await fs.writeFile(stateFile, '{"version":1,"volumes":[');
    await expect(startSimulator({ stateFile })).rejects.toMatchObject({ code: 'SIM_STATE_CORRUPT' });
    await fs.writeFile(stateFile, '{"version":1}');
    const err = await startSimulator({ stateFile }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulatorError);
    expect(await fs.readFile(stateFile, 'utf8')).toBe('{"version":1}');
  });
});

describe('data plane', () => {
  test('sparse files: snapshots keep content, copies copy it sparsely, grow extends, exports follow VLUNs', async () => {
    const dataDir = path.join(dir, 'data');
    running = await startSimulator({ dataDir, copyRateMiBps: 100000, tickMs: 10 });
    const api = client(await login(running));
    await api('POST', '/volumes', { name: 'd1', cpg: 'SSD_r6', snapCPG: 'SSD_r6', sizeMiB: 1024, tpvv: true });
    const wwn = (await api('GET', '/volumes/d1')).body.wwn as string;
    const file = path.join(dataDir, 'volumes', `${wwn}.img`);
    expect((await fs.stat(file)).size).toBe(1024 * MiB);
    const link = path.join(dataDir, 'exports', wwn);
    await expect(fs.lstat(link)).rejects.toThrow();
    await api('POST', '/hosts', { name: 'loop-node' });
    await api('POST', '/vluns', { volumeName: 'd1', hostname: 'loop-node', lun: 0, autoLun: true });
    expect(await fs.readlink(link)).toBe(file);
    // Write 1 MiB of data through the export, as the node's loop device would.
    const data = Buffer.alloc(MiB, 0xab);
    const fh = await fs.open(link, 'r+');
    await fh.write(data, 0, MiB, 512 * MiB);
    await fh.close();
    await api('POST', '/volumes/d1', { action: 'createSnapshot', parameters: { name: 'd1-snap', readOnly: true } });
    const snapFile = path.join(dataDir, 'volumes', `${(await api('GET', '/volumes/d1-snap')).body.wwn}.img`);
    const read = async (f: string, at: number): Promise<Buffer> => {
      const h = await fs.open(f, 'r');
      const b = Buffer.alloc(16);
      await h.read(b, 0, 16, at);
      await h.close();
      return b;
    };
    expect((await read(snapFile, 512 * MiB)).every((x) => x === 0xab)).toBe(true);
    const st = await fs.stat(snapFile);
    expect(st.size).toBe(1024 * MiB);
    expect(st.blocks * 512).toBeLessThan(8 * MiB);
    // Later writes to the base do not reach the snapshot.
    const fh2 = await fs.open(link, 'r+');
    await fh2.write(Buffer.alloc(16, 0xcd), 0, 16, 512 * MiB);
    await fh2.close();
    expect((await read(snapFile, 512 * MiB))[0]).toBe(0xab);
    // Thin volumes report what their files hold (measured in the background).
    await until(async () => (await api('GET', '/volumes/d1')).body.userSpace.usedMiB >= 1);
    // A volume from the snapshot (online copy, through a read-write child: a read-only snapshot is
    // no copy parent on a real array) holds the snapshot's content, sparsely.
    expect(
      (
        await api('POST', '/volumes/d1-snap', {
          action: 'createSnapshot',
          parameters: { name: 'd1-snap-rw', readOnly: false },
        })
      ).status,
    ).toBe(201);
    const r = await api('POST', '/volumes/d1-snap-rw', {
      action: 'createPhysicalCopy',
      parameters: { destVolume: 'd1-clone', destCPG: 'SSD_r6', online: true, tpvv: true },
    });
    expect(r.status).toBe(200);
    const clone = (await api('GET', '/volumes/d1-clone')).body;
    const cloneFile = path.join(dataDir, 'volumes', `${clone.wwn}.img`);
    expect((await read(cloneFile, 512 * MiB))[0]).toBe(0xab);
    expect((await fs.stat(cloneFile)).blocks * 512).toBeLessThan(8 * MiB);
    await until(async () => (await api('GET', `/tasks/${r.body.taskid}`)).body.status === 1);
    expect((await api('DELETE', '/volumes/d1-snap-rw')).status).toBe(200);
    // Grow extends the file; the content stays.
    await api('PUT', '/volumes/d1', { action: 3, sizeMiB: 1024 });
    expect((await fs.stat(file)).size).toBe(2048 * MiB);
    expect((await read(file, 512 * MiB))[0]).toBe(0xcd);
    // Promote restores the snapshot's content onto the base.
    const p = await api('PUT', '/volumes/d1-snap', { action: 4, online: true });
    await until(async () => (await api('GET', `/tasks/${p.body.taskid}`)).body.status === 1);
    expect((await read(file, 512 * MiB))[0]).toBe(0xab);
    expect((await fs.stat(file)).size).toBe(2048 * MiB);
    // The link goes with the last VLUN; the file goes with the volume.
    await api('DELETE', '/vluns/d1,0,loop-node');
    await expect(fs.lstat(link)).rejects.toThrow();
    await api('DELETE', '/volumes/d1-snap');
    await api('DELETE', '/volumes/d1');
    await expect(fs.stat(file)).rejects.toThrow();
    await expect(fs.stat(snapFile)).rejects.toThrow();
    await running.close();
    running = undefined;
  });
});
