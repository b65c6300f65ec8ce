import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/log.js';
import { WsapiClient, WsapiError, WsapiProtocolError, WsapiCode, isWsapiCode } from '../../src/wsapi/index.js';
import { apiRequests, clientsOnFakes, reply, startFake, withSessions, type Handler } from './fake-array.js';

const setup = clientsOnFakes();

/** A chunked list that breaks off the way the array fails mid-stream (§1.6): no final chunk. */
const truncatedList: Handler = (req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
  res.write('{"total":3,"members":[{"name":"v1"},');
  res.write('"success":false,"message":{"code":1,"desc":"internal"}');
  setTimeout(() => res.socket?.destroy(), 5);
};

describe('malformed answers', () => {
  it('treats a chunked list that breaks off as an error, never a short list', async () => {
    const { c } = await setup(truncatedList);
    const err = await c.volumes.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiProtocolError);
    expect((err as WsapiProtocolError).reason).toBe('truncated');
  });

  it('retries a truncated GET list when retries are allowed', async () => {
    let n = 0;
    const { fake, c } = await setup(
      (req, res) => (n++ === 0 ? truncatedList(req, res) : reply(res, 200, { total: 1, members: [{ name: 'v1' }] })),
      { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } },
    );
    await expect(c.volumes.list()).resolves.toHaveLength(1);
    expect(apiRequests(fake)).toHaveLength(2);
  });

  it('treats a complete body carrying "success": false as an error with the code', async () => {
    const { c } = await setup((req, res) =>
      reply(res, 200, '{"total":2,"members":[{"name":"v1"}],"success":false,"message":{"code":1,"desc":"x"}}'),
    );
    const err = await c.vluns.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiProtocolError);
    expect((err as WsapiProtocolError).reason).toBe('success-false');
    expect((err as WsapiProtocolError).code).toBe(1);
  });

  it('treats broken JSON with the marker as success-false, and other broken JSON as invalid-json', async () => {
    const { c } = await setup((req, res) =>
      reply(
        res,
        200,
        req.url.includes('vluns') ? '{"members":[{"lun":1,"success":false,"message":{"code":7}' : '{"members":[',
      ),
    );
    expect(await c.vluns.list().catch((e: unknown) => (e as WsapiProtocolError).reason)).toBe('success-false');
    expect(await c.volumes.list().catch((e: unknown) => (e as WsapiProtocolError).reason)).toBe('invalid-json');
  });

  it('treats fewer members than total as a truncated list', async () => {
    const { c } = await setup((req, res) => reply(res, 200, { total: 5, members: [{ name: 'h1' }] }));
    expect(await c.hosts.list().catch((e: unknown) => (e as WsapiProtocolError).reason)).toBe('truncated');
  });

  it('rejects a list without members, and a member without the required fields', async () => {
    const { c } = await setup((req, res) =>
      reply(res, 200, req.url.endsWith('cpgs') ? { total: 0 } : { total: 1, members: [{ id: 1 }] }),
    );
    expect(await c.cpgs.list().catch((e: unknown) => (e as WsapiProtocolError).reason)).toBe('unexpected-shape');
    expect(await c.tasks.list().catch((e: unknown) => (e as WsapiProtocolError).reason)).toBe('unexpected-shape');
  });

  it('turns the error body into status, code, desc and ref; `message` stands in for desc', async () => {
    const { c } = await setup((req, res) =>
      req.url.includes('volumes')
        ? reply(res, 404, { code: 23, desc: 'volume does not exist', ref: 'v9' })
        : reply(res, 409, { code: 16, message: 'host exists' }),
    );
    const err = await c.volumes.get('v9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiError);
    expect(err).toMatchObject({
      status: 404,
      code: 23,
      desc: 'volume does not exist',
      ref: 'v9',
      op: 'volumes.get',
      backendId: 't',
    });
    expect(isWsapiCode(err, WsapiCode.NON_EXISTENT_VOL)).toBe(true);
    const err2 = await c.hosts.create({ name: 'h' }).catch((e: unknown) => e);
    expect(err2).toMatchObject({ status: 409, code: 16, desc: 'host exists' });
  });

  it('keeps an error status with an unreadable body as a WsapiError without a code', async () => {
    const { c } = await setup((req, res) => reply(res, 500, '<html>oops</html>'));
    const err = await c.system.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiError);
    expect((err as WsapiError).status).toBe(500);
    expect((err as WsapiError).code).toBeUndefined();
  });

  it('reads the LUN from the VLUN Location, and fails clearly without one', async () => {
    let withLocation = true;
    const { fake, c } = await setup((req, res) =>
      withLocation ? reply(res, 201, undefined, { Location: '/api/v1/vluns/vol-1,7,host-1' }) : reply(res, 201),
    );
    await expect(c.vluns.create({ volumeName: 'vol-1', hostname: 'host-1' })).resolves.toEqual({
      volumeName: 'vol-1',
      lun: 7,
      hostname: 'host-1',
    });
    expect(apiRequests(fake)[0]!.body).toEqual({
      volumeName: 'vol-1',
      hostname: 'host-1',
      lun: 0,
      autoLun: true,
      maxAutoLun: 0,
    });
    withLocation = false;
    expect(
      await c.vluns
        .create({ volumeName: 'vol-1', hostname: 'host-1', lun: 3 })
        .catch((e: unknown) => (e as WsapiProtocolError).reason),
    ).toBe('missing-location');
  });
});

describe('request log', () => {
  it('logs method, path, status, code, duration and attempt — never the key or the password', async () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ level: 'debug', destination: dest });
    const fake = await startFake(
      withSessions((req, res) => reply(res, 404, { code: 23, desc: 'nope' }), { password: 'secret-pw' }),
    );
    const c = new WsapiClient({ backendId: 't', url: fake.url, username: 'u', password: 'secret-pw', log });
    await c.volumes
      .get('v1')
      .catch(() => undefined)
      .finally(() => c.close())
      .finally(() => fake.close());
    const key = fake.requests.find((r) => r.key)!.key!;
    const all = lines.join('');
    expect(all).not.toContain(key);
    expect(all).not.toContain('secret-pw');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        op: 'volumes.get',
        method: 'GET',
        path: '/api/v1/volumes/v1',
        status: 404,
        code: 23,
        attempt: 1,
        durationMs: expect.any(Number),
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({ op: 'session.logout', path: '/api/v1/credentials/{key}', status: 200 }),
    );
  });
});

describe('VLUN queries (3.2.1 MU2+)', () => {
  /**
   * The wire form is python-3parclient's getVLUN/getHostVLUNs on builds >= 30201292:
   * `/vluns?query=` + the percent-encoded `"volumeName EQ <v>"` / `"hostname EQ <h>"`. The answer
   * is not trusted to hold only what was asked: an array that ignores the query, or matches it
   * loosely, must not hand another volume's or host's VLUN to a publish (refuseOthers, the attach
   * limit) or an unpublish (the VLUNs it deletes).
   */
  it('sends the query in python-3parclient’s form and keeps only the members asked for', async () => {
    const all = [
      { volumeName: 'vol-a', lun: 1, hostname: 'host-a', active: false },
      { volumeName: 'vol-a', lun: 1, hostname: 'host-a', active: true },
      { volumeName: 'vol-a', lun: 2, active: false, portPos: { node: 0, slot: 2, cardPort: 1 } },
      { volumeName: 'vol-ab', lun: 3, hostname: 'host-a', active: false },
      { volumeName: 'VOL-A', lun: 4, hostname: 'host-b', active: false },
      { volumeName: 'vol-b', lun: 5, hostname: 'host-A', active: false },
    ];
    const { fake, c } = await setup((req, res) =>
      req.url === '/api'
        ? reply(res, 200, { major: 1, minor: 5, build: 30201292 })
        : reply(res, 200, { total: all.length, members: all }),
    );
    expect((await c.vluns.list({ volumeName: 'vol-a' })).map((v) => `${v.volumeName}/${v.lun}`)).toEqual([
      'vol-a/1',
      'vol-a/1',
      'vol-a/2',
    ]);
    expect((await c.vluns.list({ hostname: 'host-a' })).map((v) => `${v.volumeName}/${v.lun}`)).toEqual([
      'vol-a/1',
      'vol-a/1',
      'vol-ab/3',
    ]);
    expect(apiRequests(fake).map((r) => r.url)).toEqual([
      '/api',
      '/api/v1/vluns?query=%22volumeName%20EQ%20vol-a%22',
      '/api/v1/vluns?query=%22hostname%20EQ%20host-a%22',
    ]);
  });
});
