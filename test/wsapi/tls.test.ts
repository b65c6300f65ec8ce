import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/log.js';
import { WsapiClient, WsapiConnectionError } from '../../src/wsapi/index.js';
import { clientOn, reply, selfSignedCert, startFake, withSessions, type FakeArray } from './fake-array.js';

let fake: FakeArray;
let cert: { key: string; cert: string };

beforeAll(async () => {
  cert = await selfSignedCert();
  fake = await startFake(
    withSessions((req, res) => reply(res, 200, { name: 'sys' })),
    { tls: cert },
  );
});
afterAll(async () => {
  await fake.close();
});

async function tryGet(extra: Partial<ConstructorParameters<typeof WsapiClient>[0]>): Promise<unknown> {
  const c = clientOn(fake.url, extra);
  try {
    return await c.system.get();
  } catch (err) {
    return err;
  } finally {
    await c.close();
  }
}

describe('TLS', () => {
  it('verifies by default: a self-signed certificate without a CA fails with a clear error', async () => {
    const err = await tryGet({});
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect((err as WsapiConnectionError).reason).toBe('tls');
    expect((err as Error).message).toMatch(/caCert/);
    expect((err as Error).message).not.toContain('secret');
  });

  it('passes with the right CA', async () => {
    await expect(tryGet({ caCert: cert.cert })).resolves.toEqual({ name: 'sys' });
  });

  it('fails with a different CA', async () => {
    const other = await selfSignedCert();
    const err = await tryGet({ caCert: other.cert });
    expect((err as WsapiConnectionError).reason).toBe('tls');
  });

  it('passes with insecureSkipVerify, warning once per client', async () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _e, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    await expect(tryGet({ insecureSkipVerify: true, log })).resolves.toEqual({ name: 'sys' });
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => /insecureSkipVerify/.test(l.msg));
    expect(warnings).toHaveLength(1);
  });
});
