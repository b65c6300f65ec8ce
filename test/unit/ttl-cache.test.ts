/**
 * The one TTL cache with shared in-flight loads (src/util/ttl-cache.ts), as the array layer uses
 * it for ports and CPGs. Loads are held by the test and released by hand; the clock is injected,
 * so nothing here depends on wall-clock time.
 */
import { describe, expect, it } from '@jest/globals';
import { TtlCache } from '../../src/util/ttl-cache.js';

/** A load the test finishes by hand; records every start and the signal it got. */
function heldLoads<T>() {
  const started: { signal: AbortSignal; resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  const load = (signal: AbortSignal): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      started.push({ signal, resolve, reject });
    });
  return { started, load };
}

describe('TtlCache', () => {
  it('shares one load among concurrent callers and reuses its value until the TTL has passed', async () => {
    let now = 1_000;
    const { started, load } = heldLoads<string[]>();
    const cache = new TtlCache(load, 60_000, () => now);
    const a = cache.get();
    const b = cache.get();
    expect(started).toHaveLength(1);
    started[0]!.resolve(['p1']);
    expect(await a).toEqual(['p1']);
    expect(await b).toBe(await a);
    now += 60_000;
    expect(await cache.get()).toEqual(['p1']);
    expect(started).toHaveLength(1);
    now += 1;
    const c = cache.get();
    expect(started).toHaveLength(2);
    started[1]!.resolve(['p2']);
    expect(await c).toEqual(['p2']);
  });

  it('does not keep a failed load, and loads again after invalidate', async () => {
    const { started, load } = heldLoads<number>();
    const cache = new TtlCache(load, 60_000, () => 0);
    const first = cache.get();
    started[0]!.reject(new Error('array down'));
    await expect(first).rejects.toThrow('array down');
    const second = cache.get();
    expect(started).toHaveLength(2);
    started[1]!.resolve(7);
    expect(await second).toBe(7);
    cache.invalidate();
    const third = cache.get();
    expect(started).toHaveLength(3);
    started[2]!.resolve(8);
    expect(await third).toBe(8);
  });

  it("a caller's signal ends its own wait; the load is cut off only when every caller has left", async () => {
    const { started, load } = heldLoads<number>();
    const cache = new TtlCache(load, 60_000, () => 0);
    const quitter = new AbortController();
    const stayer = new AbortController();
    const q = cache.get(quitter.signal);
    const s = cache.get(stayer.signal);
    quitter.abort(new Error('deadline'));
    await expect(q).rejects.toThrow();
    expect(started[0]!.signal.aborted).toBe(false);
    stayer.abort(new Error('deadline'));
    await expect(s).rejects.toThrow();
    expect(started[0]!.signal.aborted).toBe(true);
    // The abandoned load is not joined: the next caller starts a new one.
    const next = cache.get();
    expect(started).toHaveLength(2);
    started[1]!.resolve(3);
    expect(await next).toBe(3);
  });
});
