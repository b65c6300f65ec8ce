/**
 * How a transport failure becomes a WsapiConnectionError, for the two forms got's stream emits:
 * its own RequestError wrapping the socket error, and the socket's error unwrapped. Node 24 emits
 * the second for a TLS client that gets a plain-HTTP answer while writing a request body (a
 * login): `write EPROTO … wrong version number`. It was reported as an unknown failure instead of
 * "answered in plain HTTP" (CI's Node 24 pass of service/backend-status); Node 20 wraps it.
 */
import { describe, expect, it } from '@jest/globals';
import * as got from 'got';
import { classifyTransportError } from '../../src/wsapi/http.js';
import { WsapiConnectionError } from '../../src/wsapi/index.js';

const ctx = { backendId: 'b', op: 'session.login' };
const epr = (): NodeJS.ErrnoException => {
  const e: NodeJS.ErrnoException = new Error(
    'write EPROTO 407D2A011E7F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number',
  );
  e.code = 'EPROTO';
  return e;
};

describe('classifyTransportError', () => {
  it.each([
    ['unwrapped (Node 24)', () => epr()],
    ['wrapped in a got RequestError (Node 20)', () => new got.RequestError(epr().message, epr(), {} as never)],
  ])('a plain-HTTP answer on an https:// URL, %s, says so', (_how, make) => {
    const err = classifyTransportError(got, make(), 'https://array:8080', ctx);
    expect(err).toBeInstanceOf(WsapiConnectionError);
    expect(err).toMatchObject({ reason: 'tls', code: 'EPROTO' });
    expect(err.message).toMatch(/answered in plain HTTP, not TLS/);
  });

  it('an unwrapped reset is a reset, and an error without a code stays unknown', () => {
    const reset: NodeJS.ErrnoException = new Error('read ECONNRESET');
    reset.code = 'ECONNRESET';
    expect(classifyTransportError(got, reset, 'https://array:8080', ctx)).toMatchObject({ reason: 'reset' });
    expect(classifyTransportError(got, new Error('odd'), 'https://array:8080', ctx)).toMatchObject({
      reason: 'other',
      code: 'EUNKNOWN',
    });
  });
});
