import { describe, expect, it } from '@jest/globals';
import {
  WsapiAbortedError,
  WsapiClient,
  WsapiConnectionError,
  WsapiError,
  WsapiCode,
  isWsapiCode,
} from '../../src/wsapi/index.js';
import { createLogger } from '../../src/log.js';
import { apiRequests, clientsOnFakes, reply, startFake, type Handler } from './fake-array.js';

const setup = clientsOnFakes({ client: { retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 } } });

/** Fails the first `n` API calls with `fail`, then answers with `ok`. */
function failFirst(n: number, fail: Handler, ok: Handler): Handler {
  let seen = 0;
  return (req, res) => (seen++ < n ? fail(req, res) : ok(req, res));
}

const busy: Handler = (req, res) => reply(res, 503, { code: 270, desc: 'System is too busy' });
const drop: Handler = (req, res) => {
  res.socket?.destroy();
};
const volumes: Handler = (req, res) => reply(res, 200, { total: 1, members: [{ name: 'v1', sizeMiB: 1024 }] });
const created: Handler = (req, res) => reply(res, 201, undefined, { Location: '/api/v1/volumes/v1' });

describe('retries', () => {
  it('retries a GET on 503 with back-off and succeeds', async () => {
    const { fake, c } = await setup(failFirst(2, busy, volumes));
    await expect(c.volumes.list()).resolves.toHaveLength(1);
    expect(apiRequests(fake)).toHaveLength(3);
  });

  it('gives up on a GET after the configured number of tries, with the last error', async () => {
    const { fake, c } = await setup(busy);
    const err = await c.volumes.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiError);
    expect((err as WsapiError).status).toBe(503);
    expect(isWsapiCode(err, WsapiCode.TOO_BUSY)).toBe(true);
    expect(apiRequests(fake)).toHaveLength(4);
  });

  it('never retries a POST on 503', async () => {
    const { fake, c } = await setup(failFirst(1, busy, created));
    const err = await c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1 }).catch((e: unknown) => e);
    expect((err as WsapiError).status).toBe(503);
    expect(apiRequests(fake)).toHaveLength(1);
  });

  it('retries a GET whose connection dropped', async () => {
    const { fake, c } = await setup(failFirst(2, drop, volumes));
    await expect(c.volumes.list()).resolves.toHaveLength(1);
    expect(apiRequests(fake)).toHaveLength(3);
  });

  it('never retries a POST whose connection dropped (it may have been applied)', async () => {
    const { fake, c } = await setup(failFirst(1, drop, created));
    const err = await c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('reset');
    expect(apiRequests(fake)).toHaveLength(1);
  });

  it('retries the read-only POST of spacereporter like a GET', async () => {
    const { fake, c } = await setup(
      failFirst(1, busy, (req, res) => reply(res, 200, { rawFreeMiB: 10, usableFreeMiB: 5 })),
    );
    await expect(c.cpgs.freeSpace('c')).resolves.toEqual({ rawFreeMiB: 10, usableFreeMiB: 5 });
    expect(apiRequests(fake)).toHaveLength(2);
  });

  it('stops retrying when the caller aborts during the back-off', async () => {
    const ac = new AbortController();
    // The client logs "wsapi retry" as it starts a back-off that no test would wait out; abort then.
    const log = createLogger({
      level: 'debug',
      destination: { write: (line: string) => void (line.includes('wsapi retry') && ac.abort()) },
    });
    const { fake, c } = await setup(busy, { retry: { attempts: 10, baseDelayMs: 600_000, maxDelayMs: 600_000 }, log });
    await expect(c.volumes.list({ signal: ac.signal })).rejects.toBeInstanceOf(WsapiAbortedError);
    expect(apiRequests(fake)).toHaveLength(1);
  });

  it('cuts off a slow GET when the caller aborts', async () => {
    const ac = new AbortController();
    // Never answered: aborted once the array has it.
    const { c } = await setup(() => ac.abort());
    await expect(c.volumes.get('v', { signal: ac.signal })).rejects.toBeInstanceOf(WsapiAbortedError);
  });

  it('stops waiting for a slow POST on abort, but lets it complete on the array', async () => {
    let answered = false;
    let arrived!: () => void;
    const onArrival = new Promise<void>((r) => (arrived = r));
    let answer!: () => void;
    const gate = new Promise<void>((r) => (answer = r));
    const { c } = await setup((req, res) => {
      arrived();
      void gate.then(() => {
        reply(res, 201, undefined, { Location: '/api/v1/volumes/v1' });
        answered = true;
      });
    });
    const ac = new AbortController();
    const call = c.volumes.create({ name: 'v1', cpg: 'c', sizeMiB: 1 }, { signal: ac.signal });
    await onArrival;
    ac.abort();
    await expect(call).rejects.toBeInstanceOf(WsapiAbortedError);
    expect(answered).toBe(false);
    // close() waits for the POST still running on the array.
    const closed = c.close();
    answer();
    await closed;
    expect(answered).toBe(true);
  });

  it('times out a request the array never answers', async () => {
    const { c } = await setup(() => undefined, { timeoutMs: 150, retry: { attempts: 1 } });
    const err = await c.volumes.get('v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('timeout');
  });

  it('retries a POST whose connection was refused (it never left), within the budget', async () => {
    const fake = await startFake(() => undefined);
    const url = fake.url;
    await fake.close();
    const c = new WsapiClient({
      backendId: 't',
      url,
      username: 'u',
      password: 'secret',
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    });
    const err = await c.volumes
      .create({ name: 'v', cpg: 'c', sizeMiB: 1 })
      .catch((e: unknown) => e)
      .finally(() => c.close());
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('refused');
    expect((err as Error).message).toMatch(/refused/);
  });
});
