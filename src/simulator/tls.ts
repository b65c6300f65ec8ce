import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

/** The certificate and key served: the ones given, or a self-signed pair made at start. */
export async function tlsMaterial(
  option: true | { cert: string; key: string },
  host: string,
): Promise<{ cert: string; key: string }> {
  if (option !== true) return option;
  const { generate } = await import('selfsigned');
  const altNames = [
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
    ...(/^[\d.]+$/.test(host) && host !== '127.0.0.1' ? [{ type: 7 as const, ip: host }] : []),
  ];
  const pems = await generate([{ name: 'commonName', value: 'hp3par-wsapi-simulator' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * The server's TLS protocol options (SimulatorOptions.tlsResumption, tlsMaxVersion; also used by
 * the bench's own array, src/bench/http-server.ts). Refusing resumption: no session tickets
 * (SSL_OP_NO_TICKET) and no session-ID cache (a Node server keeps none without `resumeSession`
 * listeners), so TLS 1.2 and 1.3 clients both get a full handshake every time.
 */
export function tlsServerOptions(o: { tlsResumption: boolean; tlsMaxVersion: '1.2' | '1.3' }): SecureContextOptions {
  return {
    maxVersion: o.tlsMaxVersion === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
    ...(!o.tlsResumption && { secureOptions: constants.SSL_OP_NO_TICKET }),
  };
}
