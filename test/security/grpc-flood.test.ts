/**
 * Issue #14 finding 7: the CSI socket is served by grpc-js (Node's HTTP/2, nghttp2) directly, with
 * no `:authority` rewriter in front that buffers header blocks. A HEADERS frame followed by
 * endless CONTINUATION frames (the "CONTINUATION flood") must end with the server closing the
 * connection after a bounded amount, and the driver must keep serving others. The rewriter this
 * replaces buffered the whole header block until END_HEADERS, so this client could write all
 * of its frames (379 → 1,026 MB RSS when found).
 */
import { connect } from 'node:net';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CsiServer } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { silentLogger } from '../../src/log.js';
import { CsiTestClient, tempSocket } from '../helpers/grpc.js';

/** One HTTP/2 frame (RFC 9113 §4.1): 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Complete HPACK "literal without indexing, new name" fields (RFC 7541 §6.2.2): x-a: aaa…, filling ~16 KiB. */
function fieldsPayload(): Buffer {
  const one = Buffer.concat([
    Buffer.from([0x00, 0x03]),
    Buffer.from('x-a'),
    Buffer.from([100]),
    Buffer.alloc(100, 'a'),
  ]);
  return Buffer.concat(Array.from({ length: 154 }, () => one));
}

describe('CONTINUATION flood on the CSI socket', () => {
  const sock = tempSocket('flood-');
  let server: CsiServer;
  beforeAll(async () => {
    const readiness = new Readiness();
    readiness.setReady();
    server = new CsiServer({
      endpoint: sock.endpoint,
      services: {
        identity: createIdentity({
          driverName: 'csi.flood.example.com',
          vendorVersion: 't',
          controller: false,
          groupController: false,
          topology: false,
          readiness,
        }),
      },
      log: silentLogger,
    });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop(100);
    rmSync(sock.dir, { recursive: true, force: true });
  });

  it('the server closes the connection long before 32 MiB of one header block, and keeps serving', async () => {
    const FRAMES = 2048;
    const c = connect(sock.path);
    await once(c, 'connect');
    let closed = false;
    const closing = new Promise<void>((resolve) =>
      c.on('close', () => {
        closed = true;
        resolve();
      }),
    );
    c.on('error', () => undefined);
    c.resume();
    // Each write waits for the kernel to take the previous one: a server that stops reading stops us.
    const write = (buf: Buffer): Promise<boolean> =>
      new Promise((resolve) => (closed || c.destroyed ? resolve(false) : c.write(buf, (err) => resolve(!err))));
    await write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]));
    // :method POST (static 3), :scheme http (static 6); no END_HEADERS: CONTINUATION frames follow.
    await write(frame(HEADERS, 0, 1, Buffer.from([0x83, 0x86])));
    const cont = frame(CONTINUATION, 0, 1, fieldsPayload());
    let sent = 0;
    for (let i = 0; i < FRAMES; i++) {
      if (!(await write(cont))) break;
      sent++;
    }
    if (!closed) c.destroy();
    await closing;
    process.stdout.write(
      `CONTINUATION flood: the server took ${sent} of ${FRAMES} frames (${Math.round((sent * cont.length) / 1024)} KiB) before closing\n`,
    );
    expect(sent).toBeLessThan(FRAMES);
    // At most what fills the socket buffers plus a few frames: far below the 32 MiB attempted.
    expect(sent * cont.length).toBeLessThan(4 * 1024 * 1024);

    const client = new CsiTestClient('Identity', sock.endpoint, { 'grpc.default_authority': 'localhost' });
    try {
      expect(await client.call('Probe')).toEqual({ ready: { value: true } });
    } finally {
      client.close();
    }
  });
});
