import type * as grpc from '@grpc/grpc-js';
import { loadCsi } from './proto.js';
import type { ListVolumesResponse } from '../gen/csi/v1/ListVolumesResponse.js';
import type { ListSnapshotsResponse } from '../gen/csi/v1/ListSnapshotsResponse.js';

/**
 * A response already encoded as protobuf bytes, which the server sends as they are (the
 * serializers of `passEncoded` let them through). `T` is the message the bytes encode.
 */
export class Encoded<T> {
  /** Only here for the type: an Encoded<A> is no Encoded<B>. */
  declare private readonly message: T;
  constructor(readonly bytes: Buffer) {}
}

/**
 * `def` with each response serializer sending an Encoded's bytes unchanged; any other answer
 * is serialized as before.
 */
export function passEncoded(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(def).map(([name, method]) => {
      const serialize = method.responseSerialize;
      const pass = (value: unknown): Buffer => (value instanceof Encoded ? value.bytes : serialize(value));
      return [name, { ...method, responseSerialize: pass }];
    }),
  );
}

/** The paged listings, by RPC: their response message. */
interface Listings {
  ListVolumes: ListVolumesResponse;
  ListSnapshots: ListSnapshotsResponse;
}
type ListRpc = keyof Listings;
type EntryOf<R extends ListRpc> = NonNullable<Listings[R]['entries']>[number];

function serializer(rpc: ListRpc): (value: object) => Buffer {
  return loadCsi().csi.v1.Controller.service[rpc].responseSerialize as (value: object) => Buffer;
}

/**
 * One entry of a listing as the bytes it takes in the response: the `entries` field (1), its
 * length and the entry, written by the RPC's own serializer (a response with this entry
 * alone and no next_token). A listing keeps its entries so, one small Buffer each, and makes
 * each one's objects just before encoding it: its objects are garbage before the next entry's,
 * instead of 10,000 entries' objects living through the listing and a page's protobufjs
 * writer state (some 3 KiB an entry) through its encoding, long enough to reach the old
 * generation of a small young generation (docs/performance.md, issue 21, fourth part).
 */
export function encodeEntry<R extends ListRpc>(rpc: R, entry: EntryOf<R>): Buffer {
  return serializer(rpc)({ entries: [entry] });
}

/**
 * A page: its entries as encodeEntry made them, in order, then `next_token` (field 2). These
 * are the bytes the RPC's serializer writes for `{ entries, next_token }` at once (protobufjs
 * writes fields in field order, each repeated entry as field 1, length, entry), which
 * test/unit/encoded-listing.test.ts checks byte for byte.
 */
export function encodePage<R extends ListRpc>(rpc: R, entries: readonly Buffer[], next: string): Encoded<Listings[R]> {
  const tail = serializer(rpc)({ next_token: next });
  return new Encoded(Buffer.concat([...entries, tail]));
}
