/**
 * The one abortable wait and race (src/util/abort.ts): each layer gets its own error when the
 * signal fires (WsapiAbortedError in wsapi/, a `cancelled` DriverError through sleep/abortable),
 * never Node's AbortError. Waits that would take minutes are aborted at once, so nothing here
 * depends on wall-clock time.
 */
import { describe, expect, it } from '@jest/globals';
import { abortable, raceAbort, sleep, wait } from '../../src/util/abort.js';
import { DriverError } from '../../src/errors.js';
import { WsapiAbortedError } from '../../src/wsapi/errors.js';

const LONG = 600_000;
const wsapiAbort = (): Error => new WsapiAbortedError('cancelled', { backendId: 't', op: 'x.y' });

describe('wait', () => {
  it('resolves after the delay when nothing aborts (also unreferenced)', async () => {
    await expect(wait(0, undefined, wsapiAbort)).resolves.toBeUndefined();
    await expect(wait(0, new AbortController().signal, wsapiAbort, { unref: true })).resolves.toBeUndefined();
  });

  it("rejects with the layer's error at once when the signal has fired, and when it fires during the wait", async () => {
    const fired = new AbortController();
    fired.abort();
    await expect(wait(LONG, fired.signal, wsapiAbort)).rejects.toBeInstanceOf(WsapiAbortedError);
    const ac = new AbortController();
    const waiting = wait(LONG, ac.signal, wsapiAbort, { unref: true });
    ac.abort(new Error('deadline'));
    await expect(waiting).rejects.toBeInstanceOf(WsapiAbortedError);
  });

  it('sleep gives a cancelled DriverError, or the DriverError the signal carries', async () => {
    const ac = new AbortController();
    const s = sleep(LONG, ac.signal);
    ac.abort(new Error('deadline'));
    const err = await s.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).kind).toBe('cancelled');
    const own = new DriverError('unavailable', 'the array is gone');
    const withReason = new AbortController();
    withReason.abort(own);
    await expect(sleep(LONG, withReason.signal)).rejects.toBe(own);
  });
});

describe('raceAbort / abortable', () => {
  it('passes the outcome through, or stops waiting with the layer error when the signal fires first', async () => {
    await expect(raceAbort(Promise.resolve(5), new AbortController().signal, wsapiAbort)).resolves.toBe(5);
    await expect(
      raceAbort(Promise.reject(new Error('boom')), new AbortController().signal, wsapiAbort),
    ).rejects.toThrow('boom');
    const ac = new AbortController();
    const never = new Promise<number>(() => undefined);
    const r = raceAbort(never, ac.signal, wsapiAbort);
    const a = abortable(never, ac.signal);
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(WsapiAbortedError);
    await expect(a).rejects.toBeInstanceOf(DriverError);
  });
});
