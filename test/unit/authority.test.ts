import { describe, expect, test } from '@jest/globals';
import { createRequire } from 'node:module';
import { huffmanDecode, rewriteHeaderBlock } from '../../src/csi/authority.js';

const CODES = (createRequire(import.meta.url)('hpack.js/lib/hpack/huffman.js') as { encode: [number, number][] }).encode;

/** HPACK Huffman encoding (RFC 7541 §5.2), for building test header blocks. */
function huffmanEncode(text: string): Buffer {
  let bits = '';
  for (const ch of Buffer.from(text, 'latin1')) {
    const [len, code] = CODES[ch]!;
    bits += code.toString(2).padStart(len, '0');
  }
  while (bits.length % 8 !== 0) bits += '1';
  return Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
}

function str(value: string, huffman: boolean): Buffer {
  const data = huffman ? huffmanEncode(value) : Buffer.from(value, 'latin1');
  if (data.length >= 127) throw new Error('test strings stay short');
  return Buffer.concat([Buffer.from([(huffman ? 0x80 : 0) | data.length]), data]);
}

const PATH = '/var/lib/kubelet/plugins/csi.3par/csi.sock';
const CLEAN = '-var-lib-kubelet-plugins-csi.3par-csi.sock';

describe(':authority rewriting', () => {
  test('Huffman decoding round-trips', () => {
    expect(huffmanDecode(huffmanEncode(PATH))).toBe(PATH);
    expect(huffmanDecode(huffmanEncode('localhost'))).toBe('localhost');
  });

  test.each([
    ['incremental indexing, Huffman value', 0x41, true],
    ['incremental indexing, plain value', 0x41, false],
    ['without indexing', 0x01, true],
    ['never indexed', 0x11, false],
  ])('%s: a socket path becomes a same-length valid authority', (_name, first, huffman) => {
    const method = Buffer.from([0x83]); // :method POST (static 3)
    const block = Buffer.concat([method, Buffer.from([first]), str(PATH, huffman), Buffer.from([0x86])]);
    const out = rewriteHeaderBlock(block);
    expect(out.subarray(0, 2)).toEqual(Buffer.from([0x83, first]));
    expect(out.subarray(2, 3)[0]).toBe(CLEAN.length);
    expect(out.subarray(3, 3 + CLEAN.length).toString('latin1')).toBe(CLEAN);
    expect(out.subarray(3 + CLEAN.length)).toEqual(Buffer.from([0x86]));
    expect(CLEAN.length).toBe(PATH.length);
  });

  test('a literal ":authority" name (not indexed) is recognised too', () => {
    const block = Buffer.concat([Buffer.from([0x40]), str(':authority', true), str(PATH, false)]);
    expect(rewriteHeaderBlock(block).toString('latin1')).toContain(CLEAN);
  });

  test('valid authorities and other headers are left byte for byte', () => {
    const block = Buffer.concat([Buffer.from([0x41]), str('localhost', true), Buffer.from([0x44]), str(PATH, true), Buffer.from([0xbe, 0x3f, 0xe1, 0x1f])]);
    expect(rewriteHeaderBlock(block)).toBe(block);
  });
});
