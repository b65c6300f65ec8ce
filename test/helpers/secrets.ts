/**
 * Secret scanning for tests: the credentials tests use, the shape of WSAPI session keys, and a
 * captured logger whose output is checked for them after every test of the file that uses it.
 *
 *   const cap = scannedLog({ secrets: [backend.password, 'my-chap-secret'] });
 *   startDriver({ ..., log: cap.log });   // afterEach fails the test if a secret was logged
 */
import { afterEach, expect } from '@jest/globals';
import { captureLog, type CapturedLog } from './logs.js';

/** Credentials that appear in tests' configuration: the simulator's default account, and the like. */
export const TEST_SECRETS: readonly string[] = ['3pardata'];

/** WSAPI session keys: `0-<32 hex>-<8 hex>` on the array and in the simulator. */
export const SESSION_KEY_PATTERN = /\b0-[0-9a-f]{32}-[0-9a-f]{8}\b/g;

/** What of `secrets` (and any session key) occurs in `text`; empty when clean. */
export function findSecrets(text: string, secrets: readonly string[] = TEST_SECRETS): string[] {
  const found = secrets
    .filter((s) => s.length >= 4 && text.includes(s))
    .map((s) => `secret "${s.slice(0, 2)}…" (${s.length} characters)`);
  const keys = text.match(SESSION_KEY_PATTERN) ?? [];
  for (const k of new Set(keys)) found.push(`session key ${k.slice(0, 6)}…`);
  return found;
}

/** Fails with a message naming where and which (never printing a whole secret). */
export function expectNoSecrets(text: string, where: string, secrets: readonly string[] = TEST_SECRETS): void {
  const found = findSecrets(text, secrets);
  if (found.length > 0) throw new Error(`${where} contains ${found.join(', ')}`);
  expect(found).toEqual([]);
}

/**
 * Call at the top level or in a describe block (it registers an afterEach hook).
 * A captured logger (debug level by default: the most verbose output a user can switch on)
 * whose text is scanned after each test for `TEST_SECRETS`, `secrets` and session keys.
 */
export function scannedLog(
  options: { secrets?: readonly string[]; level?: 'debug' | 'info' | 'trace' } = {},
): CapturedLog & { secrets: string[] } {
  const cap = captureLog(options.level ?? 'debug');
  const secrets = [...TEST_SECRETS, ...(options.secrets ?? [])];
  let scanned = 0;
  afterEach(() => {
    const text = cap.text().slice(scanned);
    scanned += text.length;
    expectNoSecrets(text, 'the captured log', secrets);
  });
  return { ...cap, secrets };
}
