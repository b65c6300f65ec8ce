import { StringDecoder } from 'node:string_decoder';
import { isRecord } from '../util/record.js';

/** What a collection body read by a MemberStream turned into. */
export type StreamedBody =
  /** Valid JSON: the top-level value, its `members` array holding what `read` returned per member. */
  | { ok: true; value: unknown }
  /**
   * Not valid JSON: the text kept of it (everything but the members read before the fault), for
   * the error (a `"success":false` marker the array appends when it fails part-way, §1.6).
   */
  | { ok: false; text: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** JSON's four whitespace characters. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** True when the backslashes that end at `j` (going down to `lo`) are an odd run: the next character is escaped. */
function oddBackslashes(s: string, j: number, lo: number): boolean {
  let n = 0;
  while (j >= lo && s.charCodeAt(j) === BACKSLASH) {
    n++;
    j--;
  }
  return (n & 1) === 1;
}

/** Characters of members gathered before a batch is parsed (see feedBulk). */
const BATCH = 16_384;

/** How many `}` lastBoundary looks at, from the end, before giving up on a batch. */
const BOUNDARY_TRIES = 256;

/**
 * The last `}`, `,`, `{` (whitespace allowed between) in `text`: where a batch of members may
 * end (`end`, after the `}`) and the next member begin (`next`, at the `{`).
 */
function lastBoundary(text: string): { end: number; next: number } | undefined {
  let p = text.length;
  for (let tries = 0; tries < BOUNDARY_TRIES; tries++) {
    p = text.lastIndexOf('}', p - 1);
    if (p <= 0) return undefined;
    let j = p + 1;
    while (j < text.length && isSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) !== COMMA) continue;
    j++;
    while (j < text.length && isSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === LBRACE) return { end: p + 1, next: j };
  }
  return undefined;
}

/**
 * The quote that closes a string whose text goes on at `i` (no escape pending there), or -1 when
 * it does not close in `s`.
 */
function closingQuote(s: string, i: number): number {
  for (;;) {
    const q = s.indexOf('"', i);
    if (q < 0 || !oddBackslashes(s, q - 1, i)) return q;
    i = q + 1;
  }
}

/**
 * Reads a WSAPI collection (`{"total": n, "members": [...]}`, §1.6) from its body's chunks as they
 * arrive, so that a 10,000-volume list never exists as one body string and one object graph at
 * once. The members of the top-level `members` array are parsed in batches of about BATCH
 * characters as their text arrives, and each is handed at once to `read` (which keeps only what
 * the caller needs); the chunks are dropped as they are read. Everything else (the top-level
 * object around the array, a `"success": false` marker) is kept as text and parsed at the end.
 *
 * The outcome equals `JSON.parse` of the whole body, members mapped by `read`: a body that is not
 * valid JSON (a member that does not parse, a stray comma, a cut-off end) is `ok: false`, never a
 * shorter list. Two readers share the work: the batches (feedBulk) cost no more than one
 * JSON.parse of the whole body; where a batch cannot be cut (see feedBulk), and for the top level
 * and the array's end, an exact scanner follows strings (quotes, escapes, a backslash or a
 * multi-byte character split across chunks) and bracket depth, cuts out each member, and leaves the
 * syntax inside it to JSON.parse. A body whose top level is not an object is kept whole and
 * parsed at the end.
 */
export class MemberStream {
  private readonly decoder = new StringDecoder('utf8');
  /** The body's text minus the members read (and their separators). */
  private readonly kept: string[] = [];
  private readonly members: unknown[] = [];
  /** `raw`: everything from here on is only kept (no top-level object, or the body broke). */
  private mode: 'scan' | 'raw' = 'scan';
  private broken = false;
  private started = false;
  private depth = 0;
  private inString = false;
  /** A backslash ended the previous piece inside a string: this piece's first character is escaped. */
  private escaped = false;
  /** Inside the top-level `members` array (whose own level is depth 2). */
  private inMembers = false;
  /** The last top-level `members` key had an array value, read here (JSON.parse: the last duplicate wins). */
  private extracted = false;
  /** A top-level string being read (its pieces), the last one read, and the key whose value comes next. */
  private strParts: string[] | undefined;
  private strFrom = 0;
  private lastString: string | undefined;
  private key: string | undefined;
  /** The member being read (its pieces from earlier chunks), and where it starts in this piece. */
  private elemParts: string[] | undefined;
  private elemFrom = 0;
  private scalar = false;
  /** A complete member waiting for the `,` or `]` after it. */
  private pending: string | undefined;
  /** A `,` was read: a member must follow. */
  private needMember = false;
  /** Inside the members array, read in batches: the text not read yet (it starts at a member). */
  private bulk: string | undefined;
  /** Where this piece's kept text starts (-1: inside the members array, nothing kept). */
  private keepFrom = 0;
  /** The waiting text's length from which all of it is searched for a cut again (see feedBulk). */
  private wideFrom = 0;

  /**
   * `read` gets each member's parsed JSON and returns what is kept of it. `batchChars`: the
   * members' text gathered before a batch is parsed (tests set it low to cut batches everywhere).
   */
  constructor(
    private readonly read: (member: unknown) => unknown,
    private readonly batchChars = BATCH,
  ) {}

  write(chunk: Buffer): void {
    const s = this.decoder.write(chunk);
    if (s !== '') this.feed(s);
  }

  /** The outcome, once the body has ended. */
  end(): StreamedBody {
    const rest = this.decoder.end();
    if (rest !== '') this.feed(rest);
    // A small list (nothing cut from it): one JSON.parse of the whole body, as for any answer.
    if (this.bulk !== undefined && this.members.length === 0) return this.whole();
    // The last members, the array's end and what follows: the exact scanner reads them.
    while (this.bulk !== undefined) this.toExact();
    // Cut off inside the array: the member in progress belongs to the text the error is read from.
    if (this.mode === 'scan' && this.inMembers) this.breakAt('', 0);
    const text = this.kept.join('');
    if (this.broken) return { ok: false, text };
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      return { ok: false, text };
    }
    if (this.extracted && isRecord(value)) value['members'] = this.members;
    return { ok: true, value };
  }

  /**
   * The body, none of whose members was read yet (it never reached a batch), parsed at once: the
   * cheap path of a small list. Its members then go through `read`.
   */
  private whole(): StreamedBody {
    const text = this.kept.join('') + this.bulk!;
    this.bulk = undefined;
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      return { ok: false, text };
    }
    if (isRecord(value) && Array.isArray(value['members']))
      value['members'] = (value['members'] as unknown[]).map((m) => this.read(m));
    return { ok: true, value };
  }

  private feed(s: string): void {
    if (this.bulk !== undefined) return this.feedBulk(s);
    if (this.mode === 'raw') {
      this.kept.push(s);
      return;
    }
    const n = s.length;
    this.keepFrom = this.inMembers ? -1 : 0;
    this.elemFrom = 0;
    this.strFrom = 0;
    let i = 0;
    while (i < n && this.mode === 'scan') {
      if (this.inString) i = this.string(s, i);
      else if (this.scalar) i = this.scalarEnd(s, i);
      else if (this.depth >= (this.inMembers ? 3 : 2)) i = this.nested(s, i);
      else if (this.inMembers) i = this.arrayLevel(s, i);
      else i = this.topLevel(s, i);
      // The members array began: its members are read in batches (nothing of this piece is kept).
      if (this.bulk !== undefined) return this.feedBulk(s.slice(i));
    }
    if (this.broken) return; // breakAt kept the rest of the piece
    if (this.keepFrom >= 0) this.kept.push(this.keepFrom === 0 ? s : s.slice(this.keepFrom));
    if (this.elemParts !== undefined) this.elemParts.push(s.slice(this.elemFrom));
    if (this.strParts !== undefined && this.inString) this.strParts.push(s.slice(this.strFrom));
  }

  /** Inside a string: finds its closing quote (escapes counted), or the piece's end. */
  private string(s: string, i: number): number {
    if (this.escaped) {
      this.escaped = false;
      i++;
    }
    const q = closingQuote(s, i);
    if (q < 0) {
      this.escaped = oddBackslashes(s, s.length - 1, i);
      return s.length;
    }
    this.inString = false;
    if (this.inMembers) {
      if (this.depth === 2) this.memberEnd(s, q + 1);
    } else if (this.depth === 1) this.topString(s, q);
    return q + 1;
  }

  /** A top-level string ended at `q`: remembered (decoded) as the key the next `:` may introduce. */
  private topString(s: string, q: number): void {
    const raw = this.strParts!.join('') + s.slice(this.strFrom, q);
    this.strParts = undefined;
    if (!raw.includes('\\')) {
      this.lastString = raw;
      return;
    }
    try {
      this.lastString = JSON.parse(`"${raw}"`) as string;
    } catch {
      // Not a valid string: the final JSON.parse of the kept text says so.
      this.lastString = undefined;
    }
  }

  /**
   * Inside a value below the top level (or inside a member): brackets until it closes. This is
   * the loop every byte of a big list goes through: its strings are skipped by `indexOf` to
   * their closing quote, without leaving the loop.
   */
  private nested(s: string, i: number): number {
    const base = this.inMembers ? 2 : 1;
    const n = s.length;
    let depth = this.depth;
    while (i < n) {
      const c = s.charCodeAt(i++);
      if (c === QUOTE) {
        const q = closingQuote(s, i);
        if (q < 0) {
          this.inString = true;
          this.escaped = oddBackslashes(s, n - 1, i);
          i = n;
        } else i = q + 1;
      } else if (c === LBRACE || c === LBRACKET) depth++;
      else if ((c === RBRACE || c === RBRACKET) && --depth === base) {
        this.depth = depth;
        if (this.inMembers) this.memberEnd(s, i);
        return i;
      }
    }
    this.depth = depth;
    return n;
  }

  /** Depth 0 and 1: the top-level object's keys and values, looking for `"members": [`. */
  private topLevel(s: string, i: number): number {
    for (const n = s.length; i < n; i++) {
      const c = s.charCodeAt(i);
      if (isSpace(c)) continue;
      if (this.depth === 0) {
        if (this.started) continue; // after the top value: the final JSON.parse judges the rest
        this.started = true;
        if (c !== LBRACE) {
          this.mode = 'raw';
          return n;
        }
        this.depth = 1;
        continue;
      }
      const key = this.key;
      this.key = undefined;
      if (key === 'members') {
        if (c === LBRACKET) return this.enterMembers(s, i);
        this.extracted = false;
      }
      if (c === COLON) this.key = this.lastString;
      this.lastString = undefined;
      if (c === QUOTE) {
        this.inString = true;
        this.strParts = [];
        this.strFrom = i + 1;
        return i + 1;
      }
      if (c === LBRACE || c === LBRACKET) {
        this.depth++;
        return i + 1;
      }
      if (c === RBRACE) this.depth = 0;
    }
    return s.length;
  }

  private enterMembers(s: string, i: number): number {
    this.kept.push(s.slice(this.keepFrom, i + 1));
    this.keepFrom = -1;
    this.inMembers = true;
    this.extracted = true;
    this.members.length = 0;
    this.needMember = false;
    this.depth = 2;
    this.bulk = '';
    return i + 1;
  }

  /**
   * The members array, in batches: once `batchChars` characters are waiting, the text up to the
   * last `}` that a `,` and a `{` follow is parsed as one array (`[` + text + `]`). When that parses,
   * the cut was between two members: a prefix of the members that ends inside one (inside a
   * string, or inside a nested object) never parses, as its first `{` or `"` is left open. When it
   * does not parse (a `},{` inside a string, or a broken body), the exact scanner takes over.
   */
  private feedBulk(s: string): void {
    const head = this.bulk!;
    const size = head.length + s.length;
    if (size < this.batchChars) {
      this.bulk = head + s;
      return;
    }
    // The cut is looked for in the new piece, so that the waiting text is copied once, into the
    // batch; in all the waiting text only when pieces are smaller than members.
    let text = s;
    let prefix = head;
    let cut = lastBoundary(s);
    if (cut === undefined && size >= Math.max(2 * this.batchChars, this.wideFrom)) {
      text = head + s;
      prefix = '';
      cut = lastBoundary(text);
      // Not again before another half batch has arrived: a member far bigger than a batch, in
      // small pieces, would have all the waiting text copied and searched once per piece.
      if (cut === undefined) this.wideFrom = size + (this.batchChars >> 1);
    }
    if (cut === undefined) {
      this.bulk = head + s;
      // Members that are no objects, or far bigger than a batch: member by member from here.
      if (size > 4 * Math.max(this.batchChars, BATCH)) this.toExact();
      return;
    }
    let batch: unknown[];
    try {
      batch = JSON.parse(`[${prefix}${text.slice(0, cut.end)}]`) as unknown[];
    } catch {
      this.bulk = head + s;
      return this.toExact();
    }
    for (const m of batch) this.members.push(this.read(m));
    this.needMember = true;
    this.wideFrom = 0;
    this.bulk = text.slice(cut.next);
  }

  /** Hands the waiting text to the exact scanner, which reads the rest of the body. */
  private toExact(): void {
    const text = this.bulk!;
    this.bulk = undefined;
    if (text !== '') this.feed(text);
  }

  /** The members array's own level: separators, its end, and the start of each member. */
  private arrayLevel(s: string, i: number): number {
    for (const n = s.length; i < n; i++) {
      const c = s.charCodeAt(i);
      if (isSpace(c)) continue;
      if (c === COMMA) {
        if (this.pending === undefined || !this.commit()) return this.breakAt(s, i);
        this.needMember = true;
        continue;
      }
      if (c === RBRACKET) {
        if (this.needMember || (this.pending !== undefined && !this.commit())) return this.breakAt(s, i);
        this.inMembers = false;
        this.depth = 1;
        this.keepFrom = i;
        return i + 1;
      }
      if (this.pending !== undefined) return this.breakAt(s, i);
      this.needMember = false;
      this.elemParts = [];
      this.elemFrom = i;
      if (c === QUOTE) this.inString = true;
      else if (c === LBRACE || c === LBRACKET) this.depth++;
      else {
        this.scalar = true;
        return this.scalarEnd(s, i);
      }
      return i + 1;
    }
    return s.length;
  }

  /** A number, `true`, `false` or `null` as a member: it ends before whitespace, `,` or `]`. */
  private scalarEnd(s: string, i: number): number {
    for (const n = s.length; i < n; i++) {
      const c = s.charCodeAt(i);
      if (isSpace(c) || c === COMMA || c === RBRACKET) {
        this.scalar = false;
        this.memberEnd(s, i);
        return i;
      }
    }
    return s.length;
  }

  /** The member in progress ends before `end`: it waits for its separator. */
  private memberEnd(s: string, end: number): void {
    const parts = this.elemParts!;
    const tail = s.slice(this.elemFrom, end);
    this.pending = parts.length === 0 ? tail : parts.join('') + tail;
    this.elemParts = undefined;
  }

  /** Parses the pending member and keeps what `read` returns; false when it is not valid JSON. */
  private commit(): boolean {
    let value: unknown;
    try {
      value = JSON.parse(this.pending!) as unknown;
    } catch {
      return false;
    }
    this.pending = undefined;
    this.members.push(this.read(value));
    return true;
  }

  /** The body is not valid JSON from here: the rest (and the member in progress) is kept as text. */
  private breakAt(s: string, i: number): number {
    if (this.pending !== undefined) this.kept.push(this.pending);
    if (this.elemParts !== undefined) this.kept.push(...this.elemParts, s.slice(this.elemFrom, i));
    this.kept.push(s.slice(i));
    this.pending = undefined;
    this.elemParts = undefined;
    this.mode = 'raw';
    this.broken = true;
    return s.length;
  }
}
