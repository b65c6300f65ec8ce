/**
 * The listings keep each entry as its encoded bytes (src/csi/encoded.ts) and answer a page by
 * joining them: every page must be byte for byte what the RPC's serializer writes for the same
 * entries and next_token as one response object (the answer before the change), and decode to
 * those entries.
 */
import { describe, expect, test } from '@jest/globals';
import { Encoded, encodeEntry, encodePage, passEncoded } from '../../src/csi/encoded.js';
import { loadCsi } from '../../src/csi/proto.js';
import { ListingCache } from '../../src/csi/listing-cache.js';
import type { _csi_v1_ListVolumesResponse_Entry as VolumeEntry } from '../../src/gen/csi/v1/ListVolumesResponse.js';
import type { _csi_v1_ListSnapshotsResponse_Entry as SnapshotEntry } from '../../src/gen/csi/v1/ListSnapshotsResponse.js';

const service = loadCsi().csi.v1.Controller.service;

/** Entries of every shape a listing answers with, and a few it does not (yet). */
const volumes: VolumeEntry[] = [
  {
    volume: {
      volume_id: 'a/csv-1',
      capacity_bytes: '1073741824',
      volume_context: {},
      content_source: null,
      accessible_topology: [],
    },
    status: { published_node_ids: [], volume_condition: { abnormal: false, message: 'volume is normal' } },
  },
  {
    volume: {
      volume_id: 'b/csv-ümlaut-😀',
      capacity_bytes: '0',
      volume_context: { protocol: 'iscsi', 'k/ä': 'v' },
      content_source: { snapshot: { snapshot_id: 'b/css-1' } },
      accessible_topology: [{ segments: { 'topology.csi.example.com/b': 'true', zone: 'z1' } }, { segments: {} }],
    },
    status: {
      published_node_ids: ['node-1', 'node-2'],
      volume_condition: { abnormal: true, message: 'the array reports volume csv-x failed (states [9])' },
    },
  },
  {
    volume: {
      volume_id: 'a/' + 'x'.repeat(300),
      capacity_bytes: '9007199254740993',
      volume_context: {},
      content_source: null,
      accessible_topology: [{ segments: { 'topology.csi.example.com/a': 'true' } }],
    },
    status: { published_node_ids: ['n'], volume_condition: null },
  },
  { volume: { volume_id: 'a/csv-2', capacity_bytes: '5', accessible_topology: [] }, status: null },
];

const snapshots: SnapshotEntry[] = [
  {
    snapshot: {
      snapshot_id: 'a/css-1',
      source_volume_id: 'a/csv-1',
      size_bytes: '1073741824',
      creation_time: { seconds: '1764676800', nanos: 0 },
      ready_to_use: true,
      group_snapshot_id: '',
    },
  },
  {
    snapshot: {
      snapshot_id: 'b/css-ü',
      source_volume_id: '',
      size_bytes: '0',
      creation_time: null,
      ready_to_use: true,
      group_snapshot_id: 'b/csg-1',
    },
  },
];

const TOKENS = ['', '0123456789ab:2', 'ffffffffffff:123456789'];

describe('encoded listing pages', () => {
  test.each([
    ['ListVolumes', volumes],
    ['ListSnapshots', snapshots],
  ] as const)('a %s page is byte for byte the serializer’s answer for the same entries and token', (rpc, entries) => {
    const encoded = entries.map((e: VolumeEntry | SnapshotEntry) => encodeEntry(rpc, e));
    for (let start = 0; start <= entries.length; start++)
      for (let end = start; end <= entries.length; end++)
        for (const next_token of TOKENS) {
          const page = encodePage(rpc, encoded.slice(start, end), next_token);
          const whole = service[rpc].responseSerialize({ entries: entries.slice(start, end), next_token });
          expect(page.bytes.equals(whole)).toBe(true);
          expect(service[rpc].responseDeserialize(page.bytes)).toEqual(service[rpc].responseDeserialize(whole));
        }
  });

  test('pages served from the cache decode to the listing’s entries, in order, with their tokens', () => {
    const cache = new ListingCache<Buffer>();
    const many = Array.from({ length: 23 }, (_, i) => volumes[i % volumes.length]!);
    const first = cache.start(
      many.map((e) => encodeEntry('ListVolumes', e)),
      5,
    );
    const got: unknown[] = [];
    let page = first;
    for (;;) {
      const decoded = service.ListVolumes.responseDeserialize(encodePage('ListVolumes', page.items, page.next).bytes);
      expect(decoded.next_token).toBe(page.next);
      got.push(...decoded.entries);
      if (page.next === '') break;
      page = cache.continue(page.next, 5);
    }
    expect(got).toEqual(
      service.ListVolumes.responseDeserialize(service.ListVolumes.responseSerialize({ entries: many })).entries,
    );
    expect(cache.stats().listings).toBe(0);
  });

  test('passEncoded sends an Encoded answer as its bytes and serializes any other as before', () => {
    const passing = passEncoded(service);
    const bytes = Buffer.from([0x12, 0x01, 0x41]);
    expect(passing.ListVolumes!.responseSerialize(new Encoded(bytes))).toBe(bytes);
    const plain = { entries: volumes, next_token: 'x' };
    expect(passing.ListVolumes!.responseSerialize(plain).equals(service.ListVolumes.responseSerialize(plain))).toBe(
      true,
    );
    expect(passing.ListVolumes!.requestDeserialize).toBe(service.ListVolumes.requestDeserialize);
    expect(Object.keys(passing)).toEqual(Object.keys(service));
  });
});
