/**
 * A reviewer's attacks on the streamed list reader (src/wsapi/member-stream.ts) as the volume and
 * VLUN listings use it (parseResponse + readCollection): the driver deletes tombstones, copy
 * sources and exports from these lists, so a list that drops, duplicates, merges or re-orders a
 * member, or takes a cut-off body for a complete one, could delete what it must not. These cases
 * add to member-stream.test.ts: realistic batch sizes against pretty-printed bodies, batch cuts
 * placed on `},{` inside strings, a member bigger than any batch, every path's `total` check, and
 * 2xx bodies that are no collection.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { MemberStream, type StreamedBody } from '../../src/wsapi/member-stream.js';
import { parseResponse, readCollection } from '../../src/wsapi/response.js';
import { hasName } from '../../src/wsapi/response.js';
import { WsapiProtocolError } from '../../src/wsapi/errors.js';

const CTX = { backendId: 'b', op: 'volumes.list' };

/** Feeds `bytes` in pieces of `piece` bytes (or at the given offsets), counting read's calls. */
function feed(bytes: Buffer, cuts: number | number[], batch?: number): { out: StreamedBody; seen: unknown[] } {
  const seen: unknown[] = [];
  const s = new MemberStream((m) => (seen.push(m), m), batch);
  const at = typeof cuts === 'number' ? offsets(bytes.length, cuts) : cuts;
  let from = 0;
  for (const c of [...at, bytes.length]) {
    s.write(bytes.subarray(from, c));
    from = c;
  }
  return { out: s.end(), seen };
}

function offsets(length: number, piece: number): number[] {
  const out: number[] = [];
  for (let c = piece; c < length; c += piece) out.push(c);
  return out;
}

/** What the listing would get: the checked members, or the error's reason. */
function listed(out: StreamedBody): { names: string[] } | { reason: string } {
  try {
    const members = readCollection(parseResponse({ status: 200, streamed: out }, CTX), CTX, hasName);
    return { names: members.map((m) => m.name) };
  } catch (err) {
    if (err instanceof WsapiProtocolError) return { reason: err.reason };
    throw err;
  }
}

/** A volume-like member with the nested values and string content a scanner could trip on. */
function member(i: number, comment: string): Record<string, unknown> {
  return {
    id: i,
    name: `vol-${i}`,
    comment,
    policies: { staleSS: true, oneHost: i % 2 === 0 },
    userSpace: { reservedMiB: 1024, usedMiB: i },
    additionalStates: i % 3 === 0 ? [13] : [],
    links: [{ href: `/api/v1/volumes/vol-${i}` }, { rel: 'self' }],
  };
}

/** Comments that hold every separator shape a batch cut looks for, and escapes around them. */
const COMMENTS = [
  '{"o":"csi","n":"pvc-1"}',
  'a},{b',
  'a}, {b',
  'a},\n{b',
  'a}\t,\r\n{b',
  '"},{"',
  '\\},{\\',
  '\\"},{\\"',
  '😀},{é',
  '\u2028},{\u2029',
  '}]},{[{',
];

function body(count: number, indent?: number, top: 'first' | 'last' | 'none' = 'first'): string {
  const members = Array.from({ length: count }, (_, i) => member(i, COMMENTS[i % COMMENTS.length]!));
  const doc =
    top === 'first'
      ? { total: count, members, links: [{ href: '/a' }, { href: '/b' }] }
      : top === 'last'
        ? { links: [{ href: '/a' }, { href: '/b' }], members, total: count }
        : { members };
  return JSON.stringify(doc, null, indent);
}

describe('MemberStream under attack (review)', () => {
  it('reads every member exactly once, in order, at realistic and tiny batch sizes, however chunked', () => {
    for (const indent of [undefined, 2]) {
      for (const top of ['first', 'last', 'none'] as const) {
        const text = body(90, indent, top);
        const bytes = Buffer.from(text, 'utf8');
        const want = (JSON.parse(text) as { members: { name: string }[] }).members.map((m) => m.name);
        for (const batch of [undefined, 16, 300, 2048])
          for (const piece of [1, 3, 97, 1460, 16384]) {
            const { out, seen } = feed(bytes, piece, batch);
            expect({ indent, top, batch, piece, got: listed(out) }).toEqual({
              indent,
              top,
              batch,
              piece,
              got: { names: want },
            });
            // read saw each member once: no member is read twice across a failed batch and its fallback.
            expect(seen.map((m) => (m as { name: string }).name)).toEqual(want);
          }
      }
    }
  });

  it('never mistakes a `},{` inside a string for a cut between members, wherever the piece ends', () => {
    // Each piece ends right after a `},{` inside a comment, so the batch cut is looked for there first.
    for (const comment of COMMENTS.slice(1)) {
      const text = JSON.stringify({ total: 6, members: Array.from({ length: 6 }, (_, i) => member(i, comment)) });
      const bytes = Buffer.from(text, 'utf8');
      const cuts: number[] = [];
      for (let at = text.indexOf('{', 1); at >= 0; at = text.indexOf('{', at + 1))
        cuts.push(Buffer.byteLength(text.slice(0, at + 1)));
      for (const batch of [1, 40, 200]) {
        const { out, seen } = feed(bytes, cuts, batch);
        expect(out).toEqual({ ok: true, value: JSON.parse(text) });
        expect(seen).toHaveLength(6);
      }
    }
  });

  it('treats every cut-off prefix of a pretty-printed list as not JSON, never as a shorter list', () => {
    const text = body(14, 2);
    const bytes = Buffer.from(text, 'utf8');
    for (const batch of [64, 700]) {
      for (let end = 0; end < bytes.length; end++) {
        // The body ends in its closing brace: no proper prefix of it is a complete answer.
        const got = listed(feed(bytes.subarray(0, end), 1460, batch).out);
        expect({ end, batch, got }).toEqual({ end, batch, got: { reason: 'invalid-json' } });
      }
    }
  });

  it('reads a member far bigger than a batch (and than the 4-batch limit) exactly, with its neighbours', () => {
    const big = member(1, '},{'.repeat(30_000) + 'x'.repeat(100_000));
    const text = JSON.stringify({ total: 3, members: [member(0, 'a'), big, member(2, 'b')] });
    const bytes = Buffer.from(text, 'utf8');
    for (const batch of [undefined, 64])
      for (const piece of [7, 4096, 65536]) {
        const { out, seen } = feed(bytes, piece, batch);
        expect(out).toEqual({ ok: true, value: JSON.parse(text) });
        expect(seen).toHaveLength(3);
      }
  });

  it('enforces total on every path: a small list, batches, and the exact scanner after a failed batch', () => {
    // 3 members read whole (small), 90 in batches, and 90 whose strings hold `},{` (failed batches).
    const cases = [
      {
        text: JSON.stringify({ total: 4, members: [member(0, 'a'), member(1, 'b'), member(2, 'c')] }),
        batch: undefined,
      },
      {
        text: JSON.stringify({ total: 91, members: Array.from({ length: 90 }, (_, i) => member(i, 'p')) }),
        batch: 300,
      },
      { text: body(90).replace('"total":90', '"total":91'), batch: 300 },
    ];
    for (const { text, batch } of cases) {
      expect(listed(feed(Buffer.from(text), 97, batch).out)).toEqual({ reason: 'truncated' });
      // total equal to the count, or absent (arrays that omit it), reads the list.
      const exact = text.replace(/"total":\d+/, `"total":${(JSON.parse(text) as { members: [] }).members.length}`);
      expect(listed(feed(Buffer.from(exact), 97, batch).out)).toHaveProperty('names');
      const noTotal = text.replace(/"total":\d+,?/, '');
      expect(listed(feed(Buffer.from(noTotal), 97, batch).out)).toHaveProperty('names');
    }
  });

  it('refuses a 2xx body that is no collection, big or small, as unexpected-shape', () => {
    const many = Array.from({ length: 200 }, (_, i) => member(i, 'x'));
    const bodies = [
      JSON.stringify(many),
      JSON.stringify({ total: 200, member: many }),
      JSON.stringify({ total: 200, members: { 0: many[0] } }),
      JSON.stringify({ a: { members: many } }),
      'null',
      '200',
      '"members"',
    ];
    for (const text of bodies)
      for (const batch of [undefined, 300])
        expect({ text: text.slice(0, 40), got: listed(feed(Buffer.from(text), 1460, batch).out) }).toEqual({
          text: text.slice(0, 40),
          got: { reason: 'unexpected-shape' },
        });
  });

  it('searches the waiting text for a cut a bounded number of times while one huge member arrives in tiny pieces', () => {
    // A 200 KB member fed 16 bytes at a time: a search of all the waiting text (up to 64 KiB, a
    // copy of it to flatten) per piece made this 2,000+ searches (~0.2 s; 11 s at 1 byte a piece).
    const text = JSON.stringify({ total: 2, members: [member(0, 'x'.repeat(200_000)), member(1, 'y')] });
    const spy = jest.spyOn(String.prototype, 'lastIndexOf');
    try {
      const { out } = feed(Buffer.from(text), 16);
      expect(out.ok).toBe(true);
      const wide = spy.mock.contexts.filter((s) => (s as string).length > 20_000).length;
      expect(wide).toBeLessThanOrEqual(16);
    } finally {
      spy.mockRestore();
    }
  });
});
