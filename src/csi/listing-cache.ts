import { randomBytes } from 'node:crypto';
import { busy } from '../errors.js';

/**
 * CSI pagination (ListVolumes, ListSnapshots): a listing is read once from the arrays and its
 * pages are served from here, so `next_token` is a CSI concept that lives in this layer.
 */

/** How long a listing stays valid for its next_token (the CO pages through it within this). */
export const LISTING_TTL_MS = 5 * 60_000;
/** Listings kept at once; the oldest is dropped beyond this. */
export const LISTINGS_MAX = 32;
/**
 * Estimated bytes of all listings kept at once; the oldest are dropped beyond this. A page entry
 * of ListVolumes (its encoded bytes, encoded.ts) is some 200 bytes by estimateBytes, so this
 * holds over 100,000 entries: several 10,000-volume listings paged at once.
 */
export const LISTINGS_MAX_BYTES = 32 * 1024 * 1024;

/**
 * A rough size in bytes of what a cached page entry keeps alive: strings at one byte a
 * character plus a header, numbers and booleans as a slot, a Buffer as its bytes plus a header,
 * objects and arrays as a header plus a slot per member. An estimate for bounding the cache,
 * not an exact figure.
 */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'string') return 16 + value.length;
  if (value === null || typeof value !== 'object') return 8;
  if (value instanceof Uint8Array) return 80 + value.byteLength;
  let n = 32;
  if (Array.isArray(value)) {
    for (const v of value) n += 8 + estimateBytes(v);
  } else {
    // for…in, not Object.entries: no array of pairs per object (12 MiB per 10,000-entry listing).
    for (const k in value)
      if (Object.hasOwn(value, k)) n += 8 + k.length + estimateBytes((value as Record<string, unknown>)[k]);
  }
  return n;
}

export interface ListingCacheOptions<T> {
  /** Listings kept at once (default LISTINGS_MAX). */
  maxListings?: number;
  /** Estimated bytes of all listings kept (default LISTINGS_MAX_BYTES). */
  maxBytes?: number;
  /** The size of one item (default estimateBytes). */
  sizeOf?: (item: T) => number;
  /** The clock (tests). */
  now?: () => number;
}

/** One page of a listing: its items and the token of the next page ("" after the last). */
export interface Page<T> {
  items: T[];
  next: string;
}

/**
 * Listings cached for pagination: next_token is `<listing id>:<offset>`, so paging walks one
 * consistent snapshot of the arrays. Callers store the page entries they answer with (the
 * listings: each entry's encoded bytes, not the arrays' volume objects). A listing is kept only while pages remain:
 * it is dropped when its last page is served, after LISTING_TTL_MS, and oldest first when the
 * cache would hold more than `maxListings` listings or more than `maxBytes` (estimated; the
 * newest listing is kept even when it alone is larger). An unknown, expired, dropped or
 * malformed token → ABORTED (the CO restarts the listing), as the CSI spec asks.
 */
export class ListingCache<T> {
  private readonly listings = new Map<string, { at: number; items: T[]; bytes: number }>();
  private readonly maxListings: number;
  private readonly maxBytes: number;
  private readonly sizeOf: (item: T) => number;
  private readonly now: () => number;
  private total = 0;

  constructor(options: ListingCacheOptions<T> = {}) {
    this.maxListings = options.maxListings ?? LISTINGS_MAX;
    this.maxBytes = options.maxBytes ?? LISTINGS_MAX_BYTES;
    this.sizeOf = options.sizeOf ?? estimateBytes;
    this.now = options.now ?? Date.now;
  }

  /** The first page of a new listing (`max` 0 = all); the listing is kept only when pages remain. */
  start(items: T[], max: number): Page<T> {
    const end = max > 0 ? Math.min(items.length, max) : items.length;
    if (end >= items.length) return { items, next: '' };
    const id = randomBytes(6).toString('hex');
    let bytes = 0;
    for (const item of items) bytes += this.sizeOf(item);
    this.prune(bytes);
    this.listings.set(id, { at: this.now(), items, bytes });
    this.total += bytes;
    return { items: items.slice(0, end), next: `${id}:${end}` };
  }

  /** The page `token` names; ABORTED when it is not valid. The last page drops the listing. */
  continue(token: string, max: number): Page<T> {
    const m = /^([0-9a-f]{12}):(\d{1,9})$/.exec(token);
    const id = m?.[1];
    const entry = id !== undefined ? this.listings.get(id) : undefined;
    const offset = Number(m?.[2]);
    if (id === undefined || !entry || this.now() - entry.at > LISTING_TTL_MS || offset > entry.items.length) {
      throw busy(
        `starting_token "${token}" is not valid (unknown, already served to its end, or expired after ${LISTING_TTL_MS / 1000} s); list again from the start`,
      );
    }
    const end = max > 0 ? Math.min(entry.items.length, offset + max) : entry.items.length;
    const items = entry.items.slice(offset, end);
    if (end < entry.items.length) return { items, next: `${id}:${end}` };
    this.drop(id);
    return { items, next: '' };
  }

  /** Listings and estimated bytes held now. */
  stats(): { listings: number; bytes: number } {
    return { listings: this.listings.size, bytes: this.total };
  }

  private drop(id: string): void {
    const e = this.listings.get(id);
    if (!e) return;
    this.total -= e.bytes;
    this.listings.delete(id);
  }

  /** Makes room for a listing of `incoming` bytes: expired ones first, then the oldest. */
  private prune(incoming: number): void {
    const now = this.now();
    for (const [id, e] of this.listings) if (now - e.at > LISTING_TTL_MS) this.drop(id);
    while (
      this.listings.size > 0 &&
      (this.listings.size >= this.maxListings || this.total + incoming > this.maxBytes)
    ) {
      const oldest = this.listings.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }
}
