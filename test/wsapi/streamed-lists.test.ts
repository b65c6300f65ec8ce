/**
 * Big volume lists are read member by member as they stream (src/wsapi/member-stream.ts): the
 * client must still give exactly the array's list, and every failure the whole-body reading
 * reported (§1.6: a cut-off stream, an appended `"success":false`, fewer members than `total`;
 * an error status with its code; a body that is not JSON) must still be reported the same way.
 */
import type http from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { WsapiError, WsapiProtocolError } from '../../src/wsapi/index.js';
import { clientsOnFakes } from './fake-array.js';

const setup = clientsOnFakes();

/** A volume as the array sends it (§5.2), with strings that could fool a scanner. */
function volume(i: number): Record<string, unknown> {
  return {
    id: i,
    uuid: `uuid-${i}`,
    name: `vol-${i}`,
    provisioningType: 2,
    copyType: i % 3 === 0 ? 3 : 1,
    ...(i % 3 === 0 && { copyOf: `vol-${i - 1}` }),
    readOnly: i % 2 === 0,
    state: 1,
    failedStates: [],
    degradedStates: [],
    additionalStates: i % 5 === 0 ? [13] : [],
    adminSpace: { reservedMiB: 256, rawReservedMiB: 512, usedMiB: 32, freeMiB: 224 },
    userSpace: { reservedMiB: 1024, rawReservedMiB: 2048, usedMiB: 0, freeMiB: 1024 },
    sizeMiB: 1024 + i,
    wwn: `60002AC00000000000000000${String(i).padStart(8, '0')}`,
    creationTimeSec: 1764000000 + i,
    creationTime8601: '2025-11-24T16:00:00+00:00',
    policies: { staleSS: true, oneHost: i % 2 === 1, zeroDetect: false, system: false, caching: true },
    userCPG: 'SSD_r6',
    snapCPG: 'SSD_r6',
    comment: JSON.stringify({ n: `pvc-${i}`, s: 'a "quoted" },{ [bracket] \\ é 日本 😀', l: [{ a: 1 }, { b: 2 }] }),
    links: [{ href: `/api/v1/volumes/vol-${i}`, rel: 'self' }],
  };
}

/** Writes `text` as a chunked answer in pieces of `piece` bytes, then ends it (or cuts the socket). */
async function stream(res: http.ServerResponse, text: string, piece: number, cut = false): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; at += piece) {
    if (!res.write(bytes.subarray(at, at + piece))) await new Promise((r) => res.once('drain', r));
  }
  if (cut) res.socket?.destroy();
  else res.end();
}

const COUNT = 1500;
const VOLUMES = Array.from({ length: COUNT }, (_, i) => volume(i));
const BODY = JSON.stringify({ total: COUNT, members: VOLUMES });

describe('streamed volume lists', () => {
  it('gives exactly the array list, however the answer is cut into chunks', async () => {
    for (const piece of [7, 1000, 65536]) {
      const { c } = await setup((req, res) => stream(res, BODY, piece));
      expect(await c.volumes.list()).toEqual(VOLUMES);
    }
  });

  it('keeps only the summary members in listSummaries, each with its own values', async () => {
    const { c } = await setup((req, res) => stream(res, BODY, 4096));
    const got = await c.volumes.listSummaries();
    expect(got).toHaveLength(COUNT);
    expect(got[3]).toEqual({
      name: 'vol-3',
      copyType: 3,
      copyOf: 'vol-2',
      comment: VOLUMES[3]!['comment'],
      readOnly: false,
      state: 1,
      failedStates: [],
      degradedStates: [],
      additionalStates: [],
      sizeMiB: 1027,
      wwn: VOLUMES[3]!['wwn'],
      creationTimeSec: 1764000003,
      creationTime8601: '2025-11-24T16:00:00+00:00',
      policies: { oneHost: true },
    });
    expect(got.every((v, i) => v.name === `vol-${i}` && !('userCPG' in v) && !('links' in v))).toBe(true);
  });

  it('reports a stream cut off after many members as truncated, never a short list', async () => {
    const { c } = await setup((req, res) => stream(res, BODY.slice(0, 300_000), 8192, true));
    const err = await c.volumes.listSummaries().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiProtocolError);
    expect((err as WsapiProtocolError).reason).toBe('truncated');
  });

  it('reports "success":false appended after many members with its code', async () => {
    const broken = BODY.slice(0, BODY.indexOf(',{"id":900,')) + ',"success":false,"message":{"code":18,"desc":"x"}';
    const { c } = await setup((req, res) => stream(res, broken, 8192));
    const err = await c.volumes.listSummaries().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiProtocolError);
    expect(err).toMatchObject({ reason: 'success-false', code: 18 });
  });

  it('reports a complete body with "success": false after the members', async () => {
    const marked = BODY.slice(0, -1) + ',"success":false,"message":{"code":1,"desc":"x"}}';
    const { c } = await setup((req, res) => stream(res, marked, 8192));
    expect(await c.volumes.listSummaries().catch((e: unknown) => e)).toMatchObject({
      reason: 'success-false',
      code: 1,
    });
  });

  it('reports fewer members than total as truncated, and a member with no name by its index', async () => {
    const short = JSON.stringify({ total: COUNT + 1, members: VOLUMES });
    const nameless = JSON.stringify({ total: COUNT, members: VOLUMES.map((v, i) => (i === 700 ? { id: 1 } : v)) });
    const answers = [short, nameless];
    const { c } = await setup((req, res) => stream(res, answers.shift()!, 8192));
    expect(await c.volumes.listSummaries().catch((e: unknown) => e)).toMatchObject({ reason: 'truncated' });
    const err = await c.volumes.listSummaries().catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'unexpected-shape' });
    expect((err as Error).message).toContain('member 700 ');
  });

  it('reports a member that is not JSON, and a body that is not JSON, as invalid-json', async () => {
    const badMember = BODY.replace(',{"id":800,', ',{"id":800,,');
    const { c } = await setup((req, res) =>
      req.url.endsWith('volumes') ? stream(res, badMember, 8192) : stream(res, '<html>busy</html>', 4),
    );
    expect(await c.volumes.listSummaries().catch((e: unknown) => e)).toMatchObject({ reason: 'invalid-json' });
    const html = await c
      .request({ op: 'volumes.list', method: 'GET', path: '/api/v1/volumes?html', members: (m) => m })
      .catch((e: unknown) => e);
    expect(html).toMatchObject({ reason: 'invalid-json' });
  });

  it('maps an error status to its WSAPI error with the array code and description', async () => {
    const { c } = await setup((req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify({ code: 1, desc: 'internal error, list not available' }));
    });
    const err = await c.volumes.listSummaries().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiError);
    expect(err).toMatchObject({ status: 500, code: 1, desc: 'internal error, list not available' });
  });
});
