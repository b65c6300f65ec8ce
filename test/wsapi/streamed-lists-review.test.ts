/**
 * A reviewer's checks of the streamed list reads through the client (see streamed-lists.test.ts
 * for the first ones): the full VLUN list a 1.3 array sends (no VLUN queries) decides whether a
 * host still exports a volume, so its filtered answers must equal a filter of the whole list
 * however the answer is chunked, and a list cut off right after a member must be an error; and
 * listSummaries must keep exactly the VolumeSummary members of every volume (the `comment`
 * ownership marker, copyOf, wwn, sizes, policies.oneHost), present or absent as the array sent them.
 */
import type http from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { WsapiProtocolError, WsapiConnectionError } from '../../src/wsapi/index.js';
import { reply, clientsOnFakes } from './fake-array.js';

const setup = clientsOnFakes();

/** Writes `text` as a chunked answer in pieces of `piece` bytes (`cutAt`: the socket dies after so many). */
async function stream(res: http.ServerResponse, text: string, piece: number, cutAt?: number): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
  const bytes = Buffer.from(text, 'utf8').subarray(0, cutAt);
  for (let at = 0; at < bytes.length; at += piece) {
    if (!res.write(bytes.subarray(at, at + piece))) await new Promise((r) => res.once('drain', r));
  }
  if (cutAt !== undefined) res.socket?.destroy();
  else res.end();
}

/** A 1.3.1 array: no VLUN queries (features.ts: vlunQueries from build 30201292). */
const API_13 = { major: 1, minor: 3, build: 30102422 };

/** VLUN templates and active paths of 400 volumes on 25 hosts, some with port positions (§8). */
const VLUNS = Array.from({ length: 3000 }, (_, i) => ({
  lun: i % 250,
  volumeName: `vol-${i % 400}`,
  ...(i % 11 !== 0 && { hostname: `host-${i % 25}` }),
  ...(i % 2 === 1 && { remoteName: `iqn.1994-05.com.redhat:node-${i % 25}` }),
  ...(i % 3 === 0 && { portPos: { node: i % 2, slot: 2, cardPort: 1 } }),
  type: i % 11 === 0 ? 2 : 3,
  volumeWWN: `60002AC0000000000000${String(i % 400).padStart(12, '0')}`,
  active: i % 2 === 1,
}));
const VLUN_BODY = JSON.stringify({ total: VLUNS.length, members: VLUNS });

describe('streamed lists, reviewed', () => {
  it('filters the full VLUN list of a 1.3 array exactly, however the answer is chunked', async () => {
    const urls: string[] = [];
    for (const piece of [7, 1460, 65536]) {
      const { c } = await setup((req, res) => {
        urls.push(req.url);
        return req.url === '/api' ? reply(res, 200, API_13) : stream(res, VLUN_BODY, piece);
      });
      expect(await c.vluns.list()).toEqual(VLUNS);
      expect(await c.vluns.list({ volumeName: 'vol-7' })).toEqual(VLUNS.filter((v) => v.volumeName === 'vol-7'));
      expect(await c.vluns.list({ hostname: 'host-3' })).toEqual(VLUNS.filter((v) => v.hostname === 'host-3'));
    }
    // No query on 1.3: every filtered answer came from the whole list.
    expect(urls.filter((u) => u.startsWith('/api/v1/vluns'))).toEqual(Array(9).fill('/api/v1/vluns'));
  });

  it('reports a VLUN list cut off right after a member (or its comma) as an error, never a shorter list', async () => {
    const ends = [VLUN_BODY.indexOf('},{', 200_000) + 1, VLUN_BODY.indexOf('},{', 250_000) + 2, VLUN_BODY.length - 2];
    for (const cutAt of ends) {
      const { c } = await setup((req, res) => stream(res, VLUN_BODY, 4096, cutAt));
      const err = await c.vluns.list().catch((e: unknown) => e);
      expect({ cutAt, error: err instanceof WsapiProtocolError || err instanceof WsapiConnectionError }).toEqual({
        cutAt,
        error: true,
      });
    }
  });

  it('keeps exactly the summary members of every volume, present or absent as sent', async () => {
    const volumes = Array.from({ length: 1200 }, (_, i) => volume(i));
    const body = JSON.stringify({ total: volumes.length, members: volumes });
    const { c } = await setup((req, res) => stream(res, body, 1460));
    const got = await c.volumes.listSummaries();
    expect(got).toEqual(volumes.map(summaryOf));
  });
});

const KEPT = [
  'name',
  'copyType',
  'copyOf',
  'comment',
  'readOnly',
  'state',
  'failedStates',
  'degradedStates',
  'additionalStates',
  'sizeMiB',
  'wwn',
  'creationTimeSec',
  'creationTime8601',
];

/** What VolumeSummary must hold of `v`: the kept members it has, and policies.oneHost alone. */
function summaryOf(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEPT) if (k in v) out[k] = v[k];
  const policies = v['policies'] as { oneHost?: boolean } | undefined;
  if (policies?.oneHost !== undefined) out['policies'] = { oneHost: policies.oneHost };
  return out;
}

/** Volumes whose optional members come and go, with markers and comments that could fool a scanner. */
function volume(i: number): Record<string, unknown> {
  const marker = JSON.stringify({ d: 'csi.hpe.com', c: 'k8s-1', n: `pvc-${i}`, x: '},{"n":"pvc-other"}' });
  return {
    id: i,
    name: i % 9 === 0 ? `tomb-${i}` : `pvc-${i}`,
    ...(i % 4 !== 0 && { copyType: (i % 3) + 1 }),
    ...(i % 5 === 0 && { copyOf: `pvc-${i - 1}` }),
    ...(i % 6 !== 0 && { comment: i % 2 === 0 ? marker : `admin note ${i} \\ "}]` }),
    readOnly: i % 7 === 0,
    state: (i % 3) + 1,
    failedStates: i % 13 === 0 ? [2] : [],
    degradedStates: [],
    additionalStates: i % 8 === 0 ? [13, 15] : [],
    userSpace: { reservedMiB: 1024, usedMiB: i },
    sizeMiB: 1024 * (1 + (i % 17)),
    wwn: `60002AC0000000000000${String(i).padStart(12, '0')}`,
    creationTimeSec: 1764000000 + i,
    creationTime8601: '2025-11-24T16:00:00+00:00',
    ...(i % 10 !== 0 && {
      policies: i % 10 === 1 ? { staleSS: true } : { staleSS: true, oneHost: i % 2 === 1, caching: true },
    }),
    userCPG: 'SSD_r6',
    links: [{ href: `/api/v1/volumes/pvc-${i}`, rel: 'self' }],
  };
}
