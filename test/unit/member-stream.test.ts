/**
 * MemberStream (src/wsapi/member-stream.ts): a collection body read member by member from its
 * chunks must give exactly what JSON.parse of the whole body gives (members mapped by `read`),
 * however the body is cut into chunks, and must never turn a body that is not JSON into a list.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { MemberStream, type StreamedBody } from '../../src/wsapi/member-stream.js';

/**
 * The batch sizes every case runs with: the default (bodies here are mostly smaller: member by
 * member), and tiny ones that make MemberStream try a batch cut after every chunk.
 */
const BATCHES = [undefined, 1, 40];
let batchChars: number | undefined;

/** Feeds `body` cut at the given byte offsets, with the current batch size. */
function run(body: string | Buffer, cuts: number[] = [], read?: (m: unknown) => unknown): StreamedBody {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const s = new MemberStream(read ?? ((m) => m), batchChars);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    s.write(bytes.subarray(at, cut));
    at = cut;
  }
  return s.end();
}

/** JSON.parse's verdict on the same body, in MemberStream's terms. */
function reference(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false };
  }
}

function expectSameAsParse(body: string, cuts: number[] = []): void {
  const got = run(body, cuts);
  const want = reference(body);
  expect({ body, cuts, batchChars, ok: got.ok }).toEqual({ body, cuts, batchChars, ok: want.ok });
  if (got.ok && want.ok) expect(got.value).toEqual(want.value);
}

/** Bodies whose strings carry everything that could fool a scanner. */
const TRICKY = [
  '{"total":0,"members":[]}',
  '{"members":[],"total":0}',
  '{"total":2,"members":[{"name":"a[b]{c}","comment":"}]"},{"name":"q\\"uo\\\\te\\\\"}]}',
  '{"total":1,"members":[{"name":"esc\\\\\\"\\/\\b\\f\\n\\r\\t\\u0041\\u005d","x":[1,[2,{"y":"]"}]]}]}',
  '{"total":2,"members":[{"name":"été 日本 😀","comment":"ü\\u00fc"},{"name":"ok"}]}',
  ' \n\t{ "total" : 3 ,\r\n "members" : [ {"name":"a"} , {"name":"b"}\n,{"name":"c"} ] , "links":[{"href":"/x"}] }\n',
  '{"total":4,"members":["s,]",12.5e-3,true,null]}',
  '{"total":1,"members":[[{"name":"nested"}]],"success":true}',
  '{"memb\\u0065rs":[{"name":"escaped key"}]}',
  '{"members":[{"name":"first"}],"members":[{"name":"last wins"}]}',
  '{"members":[{"name":"first"}],"members":{"not":"an array"}}',
  '{"members":"text","total":"]"}',
  '{"a":{"members":[{"name":"deeper"}]},"members":[{"name":"top"}]}',
  '{"__proto__":{"polluted":true},"members":[{"__proto__":{"x":1},"name":"p"}]}',
  '[{"members":[1]}]',
  '{"total":3,"members":[{"name":"a","c":"x},{y"},{"name":"b","l":[{"h":1},{"h":2}],"o":{"p":{}}} , {"name":"c","c":"}, {"}]}',
  '{"total":3,"members":[{"name":"a"},"},{",{"name":"b"},{"n":["},{"]},{"name":"c"}]}',
  '"just a string"',
  '{}',
];

/** Bodies that are not JSON. */
const BROKEN = [
  '',
  '<html><body>Service Unavailable</body></html>',
  '{"total":1,"members":[{"name":"a"},]}',
  '{"total":1,"members":[,{"name":"a"}]}',
  '{"total":2,"members":[{"name":"a"} {"name":"b"}]}',
  '{"total":1,"members":[{"name":"a",}]}',
  '{"total":1,"members":[{"name":"a"}]',
  '{"total":1,"members":[{"name":"a"}]}x',
  '{"total":1,"members":[{"name":"a"}]}{"members":[]}',
  '{"total":1,"members":[tru]}',
  '{"total":1,"members":[{"name":"a"]]}',
  '{"total":1 "members":[]}',
  '{"total":1,"members":[{"name":"unterminated}]}',
  '{"total":1,"members":[{"name":"bad escape \\x"}]}',
  '{"total":3,"members":[{"name":"a"},{"name":"b",},{"name":"c"}]}',
  '{"total":3,"members":[{"name":"a"},{"name":"b"}},{"name":"c"}]}',
  '{"total":3,"members":[{"name":"a"},{"name":"b"},,{"name":"c"}]}',
];

describe.each(BATCHES)('MemberStream, batches of %p characters', (batch) => {
  beforeAll(() => {
    batchChars = batch;
  });

  it('reads each tricky body exactly as JSON.parse does, in one chunk', () => {
    for (const body of TRICKY) expectSameAsParse(body);
  });

  it('gives the same result whatever byte a chunk boundary falls on (two chunks, every offset)', () => {
    for (const body of TRICKY) {
      const n = Buffer.byteLength(body);
      for (let cut = 0; cut <= n; cut++) expectSameAsParse(body, [cut]);
    }
  });

  it('gives the same result fed one byte at a time (three-way splits of a small body too)', () => {
    for (const body of TRICKY) {
      const n = Buffer.byteLength(body);
      expectSameAsParse(
        body,
        Array.from({ length: n }, (_, i) => i),
      );
    }
    const small = TRICKY[2]!;
    const n = Buffer.byteLength(small);
    for (let a = 0; a <= n; a++) for (let b = a; b <= n; b++) expectSameAsParse(small, [a, b]);
  });

  it('hands each member of the top-level array to read, in order, and keeps what read returns', () => {
    const seen: unknown[] = [];
    const out = run('{"total":3,"members":[{"name":"a","big":"x"},{"name":"b"},7],"links":[]}', [9, 30], (m) => {
      seen.push(m);
      return typeof m === 'object' ? { kept: (m as { name: string }).name } : m;
    });
    expect(seen).toEqual([{ name: 'a', big: 'x' }, { name: 'b' }, 7]);
    expect(out).toEqual({ ok: true, value: { total: 3, members: [{ kept: 'a' }, { kept: 'b' }, 7], links: [] } });
  });

  it('does not read members of arrays that are not the top-level members', () => {
    const seen: unknown[] = [];
    run('{"a":{"members":[1,2]},"b":["members",[3]],"members":[4]}', [], (m) => (seen.push(m), m));
    expect(seen).toEqual([4]);
  });

  it('never turns a body that is not JSON into a list, at any chunk boundary', () => {
    for (const body of BROKEN) {
      expect(reference(body).ok).toBe(false);
      const n = Buffer.byteLength(body);
      for (let cut = 0; cut <= n; cut++)
        expect({ body, cut, ok: run(body, [cut]).ok }).toEqual({ body, cut, ok: false });
    }
  });

  it('treats every cut-off prefix of a list as not JSON', () => {
    const body = TRICKY[4]!;
    const bytes = Buffer.from(body, 'utf8');
    for (let end = 0; end < bytes.length; end++) expect(run(bytes.subarray(0, end)).ok).toBe(false);
  });

  it('keeps the text after the last member read for the error: the array\'s "success":false marker', () => {
    // §1.6: a list that fails part-way gets `"success":false,"message":{...}` appended.
    const body = '{"total":3,"members":[{"name":"v1"},{"name":"v2"},"success":false,"message":{"code":7,"desc":"x"}';
    for (let cut = 0; cut <= body.length; cut++) {
      const out = run(body, [cut]);
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.text).toContain('"success":false,"message":{"code":7');
    }
    const inside = run('{"members":[{"lun":1,"success":false,"message":{"code":7}');
    expect(inside.ok === false && inside.text.includes('"success":false')).toBe(true);
  });

  it('decodes UTF-8 split inside a character, and replaces invalid bytes as Buffer#toString does', () => {
    const body = '{"members":[{"name":"😀€é"}]}';
    const bytes = Buffer.from(body, 'utf8');
    for (let cut = 0; cut <= bytes.length; cut++)
      expect(run(bytes, [cut])).toEqual({ ok: true, value: JSON.parse(body) });
    const bad = Buffer.concat([Buffer.from('{"members":[{"name":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}]}')]);
    expect(run(bad, [23])).toEqual({ ok: true, value: JSON.parse(bad.toString('utf8')) });
  });

  it('reads a large list (many batches) exactly, chunked at random sizes', () => {
    const rand = lcg(7);
    const members = Array.from({ length: 600 }, (_, i) => ({ name: `v${i}`, x: randomValue(rand, 3), c: '},{"' }));
    const body = JSON.stringify({ total: 600, members, links: [{ href: '/api/v1/volumes' }] });
    for (let n = 0; n < 20; n++) {
      const cuts: number[] = [];
      for (let at = rand(3000); at < Buffer.byteLength(body); at += 1 + rand(20_000)) cuts.push(at);
      expectSameAsParse(body, cuts);
    }
  });

  it('matches JSON.parse on random documents, random chunking and random one-character damage', () => {
    const rand = lcg(20261202);
    for (let n = 0; n < 400; n++) {
      const doc = { total: 3, members: Array.from({ length: rand(5) }, () => randomValue(rand, 3)), tail: 'end' };
      let body = JSON.stringify(doc, null, rand(2) === 0 ? undefined : 1);
      if (n % 2 === 1) {
        const at = rand(body.length);
        const c = '{}[]",:\\ a1'[rand(11)]!;
        body = rand(2) === 0 ? body.slice(0, at) + c + body.slice(at) : body.slice(0, at) + body.slice(at + 1);
      }
      const len = Buffer.byteLength(body);
      const cuts = Array.from({ length: rand(6) }, () => rand(len + 1)).sort((a, b) => a - b);
      expectSameAsParse(body, cuts);
    }
  });
});

/** A small deterministic generator: rand(n) is an integer in [0, n). */
function lcg(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return n <= 0 ? 0 : x % n;
  };
}

const PIECES = ['a', '"', '\\', '[', ']', '{', '}', ',', ':', 'é', '😀', '\n', ' ', 'members'];

function randomValue(rand: (n: number) => number, depth: number): unknown {
  const kind = rand(depth > 0 ? 7 : 5);
  if (kind === 0) return Array.from({ length: rand(4) }, () => PIECES[rand(PIECES.length)]).join('');
  if (kind === 1) return rand(1000) / 8 - 50;
  if (kind === 2) return rand(2) === 0;
  if (kind === 3) return null;
  if (kind === 4) return { name: `v${rand(100)}` };
  if (kind === 5) return Array.from({ length: rand(3) }, () => randomValue(rand, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = rand(4); i > 0; i--) o[String(randomValue(rand, 0))] = randomValue(rand, depth - 1);
  return o;
}
