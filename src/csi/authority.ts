import { Duplex, Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';

/** RFC 7541 Appendix B Huffman code, as [bit length, code] per symbol (the table only). */
const HUFFMAN_CODES = (createRequire(import.meta.url)('hpack.js/lib/hpack/huffman.js') as { encode: [number, number][] }).encode;
const HUFFMAN_LOOKUP = new Map<string, number>(HUFFMAN_CODES.map(([bits, code], sym) => [`${bits}:${code}`, sym]));


/**
 * Kubelet and sidecars built with older grpc-go send the unix socket *path* as the HTTP/2
 * `:authority` (kubernetes/kubernetes#108254; fixed in 1.26 by sending "localhost"). Node's
 * HTTP/2 stack (nghttp2) rejects such a request with RST_STREAM PROTOCOL_ERROR before grpc-js
 * sees it, so an older kubelet could not call a Node.js driver at all.
 *
 * This rewriter sits between the unix socket and grpc-js. In each request's header block it
 * replaces every character of an `:authority` value that RFC 3986 does not allow with '-',
 * keeping the value's length: HPACK's dynamic table accounts entries by decoded length, so both
 * ends keep identical tables and later indexed references stay valid. A valid authority (such
 * as "localhost") is left byte for byte. The driver never uses the authority. Only the
 * client→server direction is parsed, and only far enough to find header-block representation
 * boundaries (RFC 7540 §4, RFC 7541 §5–6).
 */
const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** HPACK static table index of ":authority" (RFC 7541 Appendix A). */
const STATIC_AUTHORITY = 1;
/** Characters RFC 3986 allows in an authority (userinfo@host:port, IP literals, escapes). */
const AUTHORITY_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
/** The default SETTINGS_MAX_FRAME_SIZE, which the re-emitted frames never exceed. */
const MAX_FRAME = 16384;

/** Reads an HPACK integer with an N-bit prefix at `pos`; returns [value, next position]. */
function readInt(buf: Buffer, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = buf[pos]! & max;
  pos++;
  if (value < max) return [value, pos];
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new RangeError('truncated HPACK integer');
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
    if (shift > 28) throw new RangeError('HPACK integer too large');
  }
}

/** Encodes an HPACK integer with an N-bit prefix, keeping the high `flags` bits of the first byte. */
function writeInt(value: number, prefixBits: number, flags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const bytes = [flags | max];
  value -= max;
  while (value >= 128) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

/** Skips an HPACK string literal (H bit + 7-bit length prefix). */
function skipString(buf: Buffer, pos: number): [number, number, boolean] {
  const huffman = (buf[pos]! & 0x80) !== 0;
  const [length, start] = readInt(buf, pos, 7);
  const end = start + length;
  if (end > buf.length) throw new RangeError('truncated HPACK string');
  return [start, end, huffman];
}

/** Decodes an HPACK Huffman string (RFC 7541 §5.2); padding is the most significant bits of EOS. */
export function huffmanDecode(data: Buffer): string {
  let out = '';
  let code = 0;
  let bits = 0;
  for (const byte of data) {
    for (let i = 7; i >= 0; i--) {
      code = code * 2 + ((byte >> i) & 1);
      bits++;
      const sym = HUFFMAN_LOOKUP.get(`${bits}:${code}`);
      if (sym !== undefined) {
        if (sym === 256) throw new RangeError('EOS in a Huffman string');
        out += String.fromCharCode(sym);
        code = 0;
        bits = 0;
      } else if (bits > 30) throw new RangeError('invalid Huffman code');
    }
  }
  if (bits > 7 || code !== 2 ** bits - 1) throw new RangeError('invalid Huffman padding');
  return out;
}

/** A valid authority of the same length: every character RFC 3986 forbids becomes '-'. */
function sanitizeAuthority(value: string): string {
  return [...value].map((c) => (AUTHORITY_CHARS.test(c) ? c : '-')).join('');
}

/** Rewrites the value of every invalid `:authority` literal of a complete header block. */
export function rewriteHeaderBlock(block: Buffer): Buffer {
  const parts: Buffer[] = [];
  let copied = 0;
  let pos = 0;
  while (pos < block.length) {
    const b = block[pos]!;
    if (b & 0x80) {
      pos = readInt(block, pos, 7)[1]; // indexed field: refers to an entry already rewritten
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      pos = readInt(block, pos, 5)[1]; // dynamic table size update
      continue;
    }
    const [index, afterIndex] = readInt(block, pos, (b & 0xc0) === 0x40 ? 6 : 4);
    pos = afterIndex;
    let isAuthority = index === STATIC_AUTHORITY;
    if (index === 0) {
      const [nameStart, nameEnd, huffman] = skipString(block, pos);
      const name = block.subarray(nameStart, nameEnd);
      isAuthority = (huffman ? huffmanDecode(name) : name.toString('latin1')) === ':authority';
      pos = nameEnd;
    }
    const valueAt = pos;
    const [valueStart, valueEnd, huffman] = skipString(block, pos);
    pos = valueEnd;
    if (!isAuthority) continue;
    const raw = block.subarray(valueStart, valueEnd);
    const value = huffman ? huffmanDecode(raw) : raw.toString('latin1');
    if (AUTHORITY_CHARS.test(value)) continue;
    // Same decoded length, sent as a plain (non-Huffman) literal.
    parts.push(block.subarray(copied, valueAt), writeInt(value.length, 7, 0), Buffer.from(sanitizeAuthority(value), 'latin1'));
    copied = valueEnd;
  }
  if (copied === 0) return block;
  parts.push(block.subarray(copied));
  return Buffer.concat(parts);
}

/** Frames of one header block: HEADERS then CONTINUATIONs, each ≤ MAX_FRAME. */
function encodeHeaderFrames(streamId: number, flags: number, priority: Buffer | undefined, block: Buffer): Buffer[] {
  const first = priority ? Buffer.concat([priority, block]) : block;
  const frames: Buffer[] = [];
  let rest = first;
  let type = TYPE_HEADERS;
  // HEADERS keeps END_STREAM and PRIORITY; padding is dropped (it carries nothing).
  let frameFlags = flags & ~(FLAG_PADDED | FLAG_END_HEADERS);
  do {
    const chunk = rest.subarray(0, MAX_FRAME);
    rest = rest.subarray(chunk.length);
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUIntBE(chunk.length, 0, 3);
    header[3] = type;
    header[4] = frameFlags | (rest.length === 0 ? FLAG_END_HEADERS : 0);
    header.writeUInt32BE(streamId, 5);
    frames.push(header, chunk);
    type = TYPE_CONTINUATION;
    frameFlags = 0;
  } while (rest.length > 0);
  return frames;
}

/** The client→server byte transform. */
export class AuthorityRewriter extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LENGTH;
  /** A HEADERS frame waiting for its CONTINUATIONs. */
  private held: { streamId: number; flags: number; priority?: Buffer; fragments: Buffer[] } | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, this.pending.length);
        this.push(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.prefaceLeft -= n;
      }
      while (this.prefaceLeft === 0 && this.pending.length >= FRAME_HEADER) {
        const length = this.pending.readUIntBE(0, 3);
        if (this.pending.length < FRAME_HEADER + length) break;
        const frame = this.pending.subarray(0, FRAME_HEADER + length);
        this.pending = this.pending.subarray(FRAME_HEADER + length);
        this.onFrame(frame);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private onFrame(frame: Buffer): void {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER);
    if (type === TYPE_HEADERS) {
      let start = 0;
      let end = payload.length;
      if (flags & FLAG_PADDED) {
        end -= payload[0]!;
        start = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = Buffer.from(payload.subarray(start, start + 5));
        start += 5;
      }
      this.held = { streamId, flags, priority, fragments: [Buffer.from(payload.subarray(start, end))] };
    } else if (type === TYPE_CONTINUATION && this.held) {
      this.held.fragments.push(Buffer.from(payload));
    } else {
      this.push(frame);
      return;
    }
    if ((flags & FLAG_END_HEADERS) === 0) return;
    const held = this.held!;
    this.held = undefined;
    const block = rewriteHeaderBlock(Buffer.concat(held.fragments));
    for (const part of encodeHeaderFrames(held.streamId, held.flags, held.priority, block)) this.push(part);
  }
}

/** Wraps an accepted socket: reads pass through the rewriter, writes go straight to the socket. */
export function rewriteAuthority(socket: Socket): Duplex {
  const readable = socket.pipe(new AuthorityRewriter());
  const duplex = Duplex.from({ readable, writable: socket });
  socket.on('error', (err) => duplex.destroy(err));
  duplex.on('close', () => socket.destroy());
  return duplex;
}
