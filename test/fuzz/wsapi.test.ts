/**
 * WSAPI client fuzzing: a loopback server answers every request with something broken — invalid
 * JSON, wrong types, missing members, truncated chunked streams, huge or endless bodies, slow or
 * missing answers, odd statuses and headers — and the client must answer each call with one of
 * its typed errors (or a value of the right shape) within a bounded time, never crash, and never
 * leave an unhandled rejection behind. FUZZ_SEED=<n> repeats a run.
 */
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WsapiBaseError, WsapiClient } from '../../src/wsapi/index.js';
import { Prng, seedFrom } from '../../src/soak/prng.js';
import { reply, startFake, type FakeArray, type FakeRequest } from '../wsapi/fake-array.js';
import { scannedLog } from '../helpers/secrets.js';
import { SAFETY_NET_MS } from '../helpers/wait.js';

const SEED = seedFrom(process.env['FUZZ_SEED']);
const PASSWORD = 'fuzz-wsapi-password';
const TIMEOUT_MS = 250;
const cap = scannedLog({ level: 'debug', secrets: [PASSWORD] });

const rng = new Prng(SEED);
let fake: FakeArray;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => void unhandled.push(err);

/** A volume as the array sends it, for lists to wrap and break. */
const volume = (i: number): Record<string, unknown> => ({
  id: i,
  name: `v${i}`,
  sizeMiB: 1024,
  wwn: '60002AC0000000000000000100000001',
  provisioningType: 2,
  copyType: 1,
  state: 1,
  uuid: 'u',
});

/** One broken (or, now and then, sound) answer. Most write and end; some never answer. */
function misbehave(req: FakeRequest, res: http.ServerResponse): void {
  const kind = rng.int(0, 21);
  const json = (status: number, body: string, headers: Record<string, string> = {}): void =>
    reply(res, status, body, headers);
  switch (kind) {
    case 0:
      return json(200, '{"members": [');
    case 1:
      return json(200, 'not json at all');
    case 2:
      return json(200, JSON.stringify({ total: 'three', members: 'none' }));
    case 3:
      return json(200, JSON.stringify({ total: 2, members: [1, 'two', null] }));
    case 4:
      return json(200, JSON.stringify({}));
    case 5:
      return json(200, JSON.stringify({ members: [{ nonsense: true }], total: 1 }));
    case 6:
      return json(200, JSON.stringify(null));
    case 7:
      return json(200, JSON.stringify([1, 2, 3]));
    case 8: {
      // A chunked list that breaks off mid-member.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`{"total":100,"members":[${JSON.stringify(volume(1))},{"id":2,"na`);
      setTimeout(() => res.socket?.destroy(), rng.int(0, 50));
      return;
    }
    case 9:
      // Huge: 8 MiB of members nobody asked for (or of nothing valid).
      return json(
        200,
        rng.chance(0.5) ? `{"total":1,"members":[${'9,'.repeat(4 * 1024 * 1024)}9]}` : 'x'.repeat(8 * 1024 * 1024),
      );
    case 10: {
      // Endless: a body that never ends; the client's own timeout must stop it.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"total":1,"members":[');
      const timer = setInterval(
        () => (res.writableEnded || res.destroyed ? clearInterval(timer) : res.write('0,'.repeat(1024))),
        5,
      );
      res.on('close', () => clearInterval(timer));
      return;
    }
    case 11:
      // Slow: answers after the client's timeout (if ever).
      setTimeout(() => (res.destroyed ? undefined : reply(res, 200, {})), TIMEOUT_MS * 3);
      return;
    case 12:
      res.socket?.destroy();
      return;
    case 13:
      return json(
        rng.pick([500, 502, 503, 400, 403, 404, 409]),
        rng.pick(['{"code":"x","desc":5}', '{"code":99999}', 'oops', '', '{"desc":null,"ref":[]}']),
      );
    case 14:
      return json(
        rng.pick([201, 202, 204, 206, 302, 418]),
        rng.pick(['', '{}', '{"key":5}']),
        rng.chance(0.5)
          ? {
              Location: rng.pick([
                '',
                'garbage',
                '/api/v1/vluns/x,y,z',
                '/api/v1/volumes/' + 'a'.repeat(5000),
                '\u00ff',
              ]),
            }
          : {},
      );
    case 15:
      return json(503, '{"code":270,"desc":"busy"}', { 'Retry-After': rng.pick(['0', '1', '-5', 'soon', '99999']) });
    case 16:
      return json(200, JSON.stringify({ members: [volume(1)], total: 1, success: false, message: { code: 1 } }));
    case 17:
      return json(200, '\u0000\u0001\u0002' + rng.bytes(64).toString('latin1'));
    case 18:
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>maintenance</html>');
      return;
    case 19:
      return json(
        200,
        JSON.stringify({ id: 'one', name: 7, sizeMiB: -1, wwn: null, taskid: 'x', status: 'done', key: 12 }),
      );
    default:
      // Now and then a sound answer, so later stages of multi-request methods run too.
      if (req.url.startsWith('/api/v1/credentials') && req.method === 'POST')
        return reply(res, 201, { key: `0-${'a'.repeat(32)}-${'b'.repeat(8)}` });
      if (req.url === '/api') return reply(res, 200, { major: 1, minor: 3, build: 30103230 });
      if (/^\/api\/v1\/volumes(\?|$)/.test(req.url) && req.method === 'GET')
        return reply(res, 200, { total: 1, members: [volume(1)] });
      return reply(res, 200, {});
  }
}

beforeAll(async () => {
  process.stdout.write(`WSAPI fuzz seed ${SEED} (repeat with FUZZ_SEED=${SEED})\n`);
  process.on('unhandledRejection', onUnhandled);
  fake = await startFake(misbehave);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await fake.close();
});

type Call = (c: WsapiClient) => Promise<unknown>;
const CALLS: [string, Call][] = [
  ['apiVersion', (c) => c.apiVersion()],
  ['system.get', (c) => c.system.get()],
  ['wsapiConfiguration.get', (c) => c.wsapiConfiguration.get()],
  ['volumes.list', (c) => c.volumes.list()],
  ['volumes.get', (c) => c.volumes.get('v1')],
  ['volumes.create', (c) => c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1024 })],
  ['volumes.delete', (c) => c.volumes.delete('v1')],
  ['volumes.grow', (c) => c.volumes.grow('v1', 1024)],
  ['volumes.createSnapshot', (c) => c.volumes.createSnapshot('v1', { name: 's1' })],
  [
    'volumes.createPhysicalCopy',
    (c) => c.volumes.createPhysicalCopy('v1', { destVolume: 'v2', destCPG: 'c', online: true }),
  ],
  ['hosts.list', (c) => c.hosts.list()],
  ['hosts.get', (c) => c.hosts.get('h1')],
  ['hosts.queryByInitiators', (c) => c.hosts.queryByInitiators({ iqns: ['iqn.x'], wwns: [] })],
  ['vluns.list', (c) => c.vluns.list()],
  ['vluns.create', (c) => c.vluns.create({ volumeName: 'v1', hostname: 'h1', autoLun: true, lun: 0 })],
  ['ports.list', (c) => c.ports.list()],
  ['cpgs.list', (c) => c.cpgs.list()],
  ['tasks.get', (c) => c.tasks.get(7)],
  ['volumeSets.list', (c) => c.volumeSets.list()],
];

describe('WSAPI client fuzzing', () => {
  it('answers every broken response with a typed error or a well-formed value, in bounded time', async () => {
    const outcomes = new Map<string, number>();
    const untyped: string[] = [];
    const slow: string[] = [];
    // A fresh client now and then (a fresh session pool and version cache), as after a restart.
    let client = newClient();
    try {
      for (let i = 0; i < 180; i++) {
        if (i % 25 === 0) {
          await client.close();
          client = newClient();
        }
        const [name, call] = rng.pick(CALLS);
        const started = Date.now();
        // Several at once now and then: the pool, the limiter and the shared login under stress.
        const n = rng.chance(0.2) ? rng.int(2, 6) : 1;
        const results = await Promise.allSettled(Array.from({ length: n }, () => call(client)));
        const ms = Date.now() - started;
        // Retries (4 tries with back-off up to 4 s) and a login in front bound a call; past the
        // safety net it hung (a limit on hangs, not on speed: a loaded machine is only slower).
        if (ms > SAFETY_NET_MS)
          slow.push(`timed out: ${name} took ${ms} ms, past the ${SAFETY_NET_MS / 1000} s safety net`);
        for (const r of results) {
          const key =
            r.status === 'fulfilled'
              ? `${name} ok`
              : r.reason instanceof WsapiBaseError
                ? `${(r.reason as Error).name}`
                : 'untyped';
          if (key === 'untyped') untyped.push(`${name}: ${String((r as PromiseRejectedResult).reason)}`);
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }
      }
    } finally {
      await client.close();
    }
    process.stdout.write(
      `WSAPI fuzz (seed ${SEED}): ${[...outcomes]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}\n`,
    );
    expect(untyped).toEqual([]);
    expect(slow).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('stops an endless body at its timeout', async () => {
    const endless = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const timer = setInterval(() => res.write('0,'.repeat(4096)), 2);
      res.on('close', () => clearInterval(timer));
    });
    const c = new WsapiClient({
      backendId: 'fz',
      url: endless.url,
      username: 'u',
      password: PASSWORD,
      timeoutMs: TIMEOUT_MS,
      retry: { attempts: 1 },
    });
    try {
      // The body never ends: only the client's timeout can end the call.
      const err = await c.apiVersion().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WsapiBaseError);
    } finally {
      await c.close();
      await endless.close();
    }
  });
});

function newClient(): WsapiClient {
  return new WsapiClient({
    backendId: 'fz',
    url: fake.url,
    username: 'u',
    password: PASSWORD,
    timeoutMs: TIMEOUT_MS,
    retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
    authFailureCooldownMs: 50,
    log: cap.log,
  });
}
