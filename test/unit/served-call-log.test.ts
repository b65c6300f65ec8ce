/**
 * The per-call wrapper's debug-only lines (src/csi/server.ts): at debug, the request is logged
 * with its secrets replaced and a caller giving up is logged; at info neither line exists (their
 * work, a redacted copy of every request and a listener per call, is not done on the hot path).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { wrapUnary } from '../../src/csi/server.js';
import { captureLog } from '../helpers/logs.js';

/** The parts of a grpc-js unary call the wrapper uses. */
class FakeCall extends EventEmitter {
  constructor(readonly request: unknown) {
    super();
  }
  getDeadline(): number {
    return Infinity;
  }
}

const request = { volume_id: 'b:csv-1', secrets: { chapSecret: 'hunter2-secret' } };

/** Serves one call through wrapUnary with `level`; `cancel` makes the caller give up first. */
async function serve(level: 'debug' | 'info', cancel: boolean): Promise<string[]> {
  const cap = captureLog(level);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const handler = wrapUnary('ControllerPublishVolume', () => held.then(() => ({})), { log: cap.log });
  const call = new FakeCall(request);
  const answered = new Promise<void>((resolve) => handler(call as never, () => resolve()));
  if (cancel) call.emit('cancelled');
  release();
  await answered;
  return cap.lines().map((l) => JSON.parse(l).msg as string);
}

describe('per-call debug lines', () => {
  it('at debug: the request line with secrets redacted, and the give-up line', async () => {
    const cap = captureLog('debug');
    const handler = wrapUnary('ControllerPublishVolume', async () => ({}), { log: cap.log });
    await new Promise<void>((resolve) => handler(new FakeCall(request) as never, () => resolve()));
    const line = cap.lines().find((l) => JSON.parse(l).msg === 'request')!;
    expect(line).toContain('[REDACTED]');
    expect(line).not.toContain('hunter2-secret');
    expect(JSON.parse(line).request.volume_id).toBe('b:csv-1');
    expect(await serve('debug', true)).toEqual(
      expect.arrayContaining([
        'request',
        'the caller gave up (deadline or cancel): waits and reads stop, a change already sent finishes',
      ]),
    );
  });

  it('at info: neither line, and the call is still logged as done', async () => {
    const msgs = await serve('info', true);
    expect(msgs).not.toContain('request');
    expect(msgs.some((m) => m.startsWith('the caller gave up'))).toBe(false);
    expect(msgs).toEqual(['finished after the caller gave up; its retry finds the result']);
    expect(await serve('info', false)).toEqual(['done']);
  });
});
