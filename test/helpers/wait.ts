import { jest } from '@jest/globals';

/**
 * Waiting for a state the test cannot be told about directly (an array task ending, a
 * background logout). The limit is a safety net against a hang, never a statement about speed:
 * it is long, and when it fires the error says it timed out and what it waited for.
 */

/** Default safety net: long enough for a loaded 2-core CI machine, under jest's 300 s test timeout. */
export const SAFETY_NET_MS = 120_000;

/** The safety net fired. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/** Polls `fn` until it returns a truthy value, which it returns. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  options: { safetyNetMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const safetyNetMs = options.safetyNetMs ?? SAFETY_NET_MS;
  const end = Date.now() + safetyNetMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end)
      throw new WaitTimeoutError(`timed out: still waiting for ${what} after the ${safetyNetMs / 1000} s safety net`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}

/** Every timer API but `Date`: sockets, timers and ticks run as usual while the clock is moved. */
const ALL_BUT_DATE = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

/**
 * Runs `fn` with `Date.now()` moved `ms` ahead (jest fakes `Date` only), for idle timeouts that
 * read the wall clock: the test jumps past one instead of sleeping through it, so a loaded
 * machine cannot make it land early or late. The real clock is back when `fn` settles.
 */
export async function withClockAhead<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const now = Date.now();
  jest.useFakeTimers({ doNotFake: [...ALL_BUT_DATE], now: now + ms });
  try {
    return await fn();
  } finally {
    jest.useRealTimers();
  }
}
