import { describe, expect, it } from '@jest/globals';
import { conditionOf, toDriverError } from '../../src/array/errors.js';
import { exportsOf, selectTargets } from '../../src/array/exports.js';
import { judgeHost } from '../../src/array/hosts.js';
import { publishedNodeIds } from '../../src/array/listing.js';
import { estimateBytes, LISTING_TTL_MS, ListingCache } from '../../src/csi/listing-cache.js';
import { conditionOfVolume } from '../../src/array/ops.js';
import { DriverError } from '../../src/errors.js';
import { WsapiAbortedError, WsapiConnectionError, WsapiError } from '../../src/wsapi/errors.js';
import type { Host, Port, Vlun } from '../../src/wsapi/types.js';

const ctx = { backendId: 'b1', op: 'test' };
const wsapiErr = (status: number, code: number) => new WsapiError(status, { code, desc: 'x' }, ctx);

describe('WSAPI errors → array conditions → driver kinds', () => {
  it.each([
    [wsapiErr(404, 23), 'no-volume', 'not-found'],
    [wsapiErr(404, 17), 'no-host', 'not-found'],
    [wsapiErr(409, 22), 'volume-exists', 'already-exists'],
    [wsapiErr(409, 73), 'path-exists', 'failed-precondition'],
    [wsapiErr(409, 32), 'has-children', 'failed-precondition'],
    [wsapiErr(409, 34), 'in-use', 'failed-precondition'],
    [wsapiErr(400, 29), 'copy-busy', 'busy'],
    [wsapiErr(409, 151), 'copy-busy', 'busy'],
    [wsapiErr(400, 24), 'no-space', 'resource-exhausted'],
    [wsapiErr(400, 28), 'too-large', 'out-of-range'],
    [wsapiErr(503, 31), 'unavailable', 'unavailable'],
    [wsapiErr(503, 270), 'unavailable', 'unavailable'],
    // Any other 503 code is a limit (VV_LIMIT_REACHED, SNAPSHOT_LIMIT_REACHED, …: issue 16 item 13).
    [wsapiErr(503, 9999), 'limit', 'resource-exhausted'],
    [wsapiErr(404, 15), 'no-cpg', 'invalid-argument'],
    [wsapiErr(400, 12), 'other', 'internal'],
    [new WsapiConnectionError('refused', 'ECONNREFUSED', 'no', ctx), 'unavailable', 'unavailable'],
    [new WsapiAbortedError('stop', ctx), 'aborted', 'cancelled'],
  ])('%s → %s → %s', (err, condition, kind) => {
    expect(conditionOf(err)).toBe(condition);
    expect(toDriverError(err, 'b1', 'testing').kind).toBe(kind);
  });

  it('names the backend and never the password on bad credentials', () => {
    const e = toDriverError(wsapiErr(403, 5), 'array-7', 'creating a volume');
    expect(e.kind).toBe('unavailable');
    expect(e.message).toContain('array-7');
  });

  it('passes DriverErrors through unchanged', () => {
    const e = new DriverError('busy', 'x');
    expect(toDriverError(e, 'b', 'y')).toBe(e);
  });
});

describe('exportsOf', () => {
  const v = (o: Partial<Vlun>): Vlun => ({ lun: 0, volumeName: 'vol', ...o });
  it('keeps templates, one per (host, LUN, port)', () => {
    const list = [
      v({ hostname: 'h1', active: false }),
      v({ hostname: 'h1', active: true, remoteName: 'iqn.a', portPos: { node: 0, slot: 2, cardPort: 1 } }),
      v({ hostname: 'h2', lun: 3, active: false, portPos: { node: 0, slot: 2, cardPort: 1 } }),
      v({ hostname: 'h2', lun: 3, active: false, portPos: { node: 1, slot: 2, cardPort: 1 } }),
      v({ volumeName: 'other', hostname: 'h1', active: false }),
    ];
    expect(exportsOf(list, 'vol').map((l) => `${l.hostname}:${l.lun}`)).toEqual(['h1:0', 'h2:3', 'h2:3']);
  });
  it('falls back to live paths, one per (host, LUN), when the array lists no templates', () => {
    const list = [
      v({ hostname: 'h1', active: true, portPos: { node: 0, slot: 2, cardPort: 1 } }),
      v({ hostname: 'h1', active: true, portPos: { node: 1, slot: 2, cardPort: 1 } }),
    ];
    expect(exportsOf(list, 'vol')).toHaveLength(1);
  });
  it('maps hosts to the node ids in their markers', () => {
    const list = [v({ hostname: 'h1', active: false }), v({ hostname: 'foreign', lun: 1, active: false })];
    expect(publishedNodeIds('vol', list, new Map([['h1', 'node-1']]))).toEqual(['node-1']);
  });
});

describe('selectTargets', () => {
  const port = (o: Partial<Port>): Port => ({
    portPos: { node: 0, slot: 2, cardPort: 1 },
    mode: 2,
    linkState: 4,
    ...o,
  });
  const ports = [
    port({ protocol: 2, type: 8, IPAddr: '10.0.0.1', iSCSIName: 'iqn.t1' }),
    port({ portPos: { node: 1, slot: 2, cardPort: 1 }, protocol: 2, type: 8, IPAddr: '10.0.0.2', iSCSIName: 'iqn.t2' }),
    port({ protocol: 2, type: 8, IPAddr: '0.0.0.0', iSCSIName: 'iqn.unset' }),
    port({ protocol: 2, type: 7, IPAddr: '10.0.0.9', iSCSIName: 'iqn.rcip' }),
    port({ protocol: 2, type: 8, IPAddr: '10.0.0.3', iSCSIName: 'iqn.down', linkState: 5 }),
    port({ portPos: { node: 0, slot: 1, cardPort: 1 }, protocol: 1, type: 3, portWWN: '20210002AC000001' }),
    port({ portPos: { node: 0, slot: 1, cardPort: 2 }, protocol: 1, type: 2, portWWN: '20220002AC000001' }),
  ];
  it('chooses ready iSCSI targets, honouring iscsiPortalIps', () => {
    expect(selectTargets(ports, 'iscsi')).toMatchObject({
      iqns: ['iqn.t1', 'iqn.t2'],
      portals: ['10.0.0.1:3260', '10.0.0.2:3260'],
    });
    expect(selectTargets(ports, 'iscsi', ['10.0.0.2']).iqns).toEqual(['iqn.t2']);
  });
  it('chooses FC target ports (free ones too, never disk ports), honouring fcPortsList', () => {
    expect(selectTargets(ports, 'fc').wwns).toEqual(['20210002ac000001']);
    expect(selectTargets(ports, 'fc', undefined, ['1:1:1']).wwns).toEqual([]);
  });
  it('has no targets for the loop protocol', () => {
    expect(selectTargets(ports, 'loop')).toEqual({ iqns: [], portals: [], wwns: [], positions: [] });
  });
});

describe('judgeHost', () => {
  const ref = { nodeId: 'n1;i=iqn.x:n1', node: { hostName: 'n1', iqns: ['iqn.x:n1'], wwpns: [] } };
  const tag = '0123456789abcdef';
  const host = (o: Partial<Host>): Host => ({ name: 'h', iSCSIPaths: [{ name: 'iqn.x:n1' }], ...o });
  it.each([
    [
      'ours for this node',
      host({ descriptors: { comment: JSON.stringify({ v: 1, o: tag, n: 'n1;i=iqn.x:n1' }) } }),
      'owned',
    ],
    [
      'ours for another node',
      host({ descriptors: { comment: JSON.stringify({ v: 1, o: tag, n: 'n2' }) } }),
      'failed-precondition',
    ],
    [
      'another cluster',
      host({ descriptors: { comment: JSON.stringify({ v: 1, o: 'ffffffffffffffff', n: 'n1' }) } }),
      'failed-precondition',
    ],
    ['foreign with exactly these initiators', host({}), 'foreign'],
    // A superset is fine (issue 16 item 2): the node's initiators are all on the host.
    ['foreign with more initiators', host({ iSCSIPaths: [{ name: 'iqn.x:n1' }, { name: 'iqn.x:other' }] }), 'foreign'],
    ['foreign with other initiators only', host({ iSCSIPaths: [{ name: 'iqn.x:other' }] }), 'failed-precondition'],
    ['foreign, IQN in another case', host({ iSCSIPaths: [{ name: 'IQN.X:N1' }] }), 'foreign'],
  ])('%s', (_what, h, outcome) => {
    let got: string;
    try {
      got = judgeHost(h, ref, tag).owned ? 'owned' : 'foreign';
    } catch (err) {
      got = (err as DriverError).kind;
    }
    expect(got).toBe(outcome);
  });
});

describe('judgeHost per protocol (issue 16 item 2)', () => {
  const ref = {
    nodeId: 'n1;i=iqn.x:n1;w=10000000c9000001',
    node: { hostName: 'n1', iqns: ['iqn.x:n1'], wwpns: ['10000000c9000001'] },
  };
  const tag = '0123456789abcdef';
  it.each([
    ['an iSCSI-only host for iscsi', { name: 'iqn-n1', iSCSIPaths: [{ name: 'iqn.x:n1' }] }, 'iscsi', 'foreign'],
    ['an FC-only host for fc', { name: 'wwn-n1', FCPaths: [{ wwn: '10000000C9000001' }] }, 'fc', 'foreign'],
    [
      'an FC-only host for iscsi',
      { name: 'wwn-n1', FCPaths: [{ wwn: '10000000C9000001' }] },
      'iscsi',
      'failed-precondition',
    ],
    [
      'a host with the IQN but another WWN, for iscsi',
      { name: 'mixed', iSCSIPaths: [{ name: 'iqn.x:n1' }], FCPaths: [{ wwn: '10000000C9FFFFFF' }] },
      'iscsi',
      'foreign',
    ],
  ] as [string, Host, 'iscsi' | 'fc', string][])('%s', (_what, h, family, outcome) => {
    let got: string;
    try {
      got = judgeHost(h, ref, tag, family).owned ? 'owned' : 'foreign';
    } catch (err) {
      got = (err as DriverError).kind;
    }
    expect(got).toBe(outcome);
  });
});

describe('ListingCache', () => {
  it('pages through a listing and refuses bad tokens', () => {
    const cache = new ListingCache<number>();
    const p1 = cache.start([1, 2, 3, 4, 5], 2);
    expect(p1.items).toEqual([1, 2]);
    const id = p1.next.split(':')[0]!;
    expect(p1.next).toBe(`${id}:2`);
    expect(cache.continue(p1.next, 0)).toEqual({ items: [3, 4, 5], next: '' });
    for (const bad of ['', 'x', `${id}:9`, 'aaaaaaaaaaaa:1']) expect(() => cache.continue(bad, 1)).toThrow(DriverError);
  });

  it('keeps nothing for a listing served in one page', () => {
    const cache = new ListingCache<number>();
    expect(cache.start([1, 2, 3], 0)).toEqual({ items: [1, 2, 3], next: '' });
    expect(cache.start([1, 2, 3], 3)).toEqual({ items: [1, 2, 3], next: '' });
    expect(cache.stats()).toEqual({ listings: 0, bytes: 0 });
  });

  it('drops a listing when its last page is served: its tokens are then refused', () => {
    const cache = new ListingCache<number>({ sizeOf: () => 10 });
    const p1 = cache.start([1, 2, 3, 4, 5], 2);
    expect(cache.stats()).toEqual({ listings: 1, bytes: 50 });
    const p2 = cache.continue(p1.next, 2);
    expect(p2.items).toEqual([3, 4]);
    expect(cache.stats().listings).toBe(1);
    const p3 = cache.continue(p2.next, 2);
    expect(p3).toEqual({ items: [5], next: '' });
    expect(cache.stats()).toEqual({ listings: 0, bytes: 0 });
    // Neither the last page's token nor an earlier one names a listing any more.
    expect(() => cache.continue(p2.next, 2)).toThrow(DriverError);
    expect(() => cache.continue(p1.next, 2)).toThrow(DriverError);
  });

  it('drops the oldest listings to stay within its byte bound, keeping the newest', () => {
    const cache = new ListingCache<number>({ maxBytes: 100, sizeOf: () => 10 });
    const a = cache.start([1, 2, 3, 4], 1); // 40 bytes
    const b = cache.start([1, 2, 3, 4], 1); // 80
    expect(cache.stats()).toEqual({ listings: 2, bytes: 80 });
    const c = cache.start([1, 2, 3, 4], 1); // 120 > 100: a goes
    expect(cache.stats()).toEqual({ listings: 2, bytes: 80 });
    expect(() => cache.continue(a.next, 1)).toThrow(DriverError);
    expect(cache.continue(b.next, 1).items).toEqual([2]);
    expect(cache.continue(c.next, 1).items).toEqual([2]);
    // One listing larger than the bound alone is still kept (it is the one being paged).
    const big = cache.start(
      Array.from({ length: 20 }, (_, i) => i),
      5,
    );
    expect(cache.stats()).toEqual({ listings: 1, bytes: 200 });
    expect(cache.continue(big.next, 5).items).toEqual([5, 6, 7, 8, 9]);
  });

  it('drops the oldest beyond its count bound and expired listings', () => {
    let now = 1_000;
    const cache = new ListingCache<number>({ maxListings: 2, now: () => now });
    const a = cache.start([1, 2], 1);
    const b = cache.start([1, 2], 1);
    const c = cache.start([1, 2], 1);
    expect(cache.stats().listings).toBe(2);
    expect(() => cache.continue(a.next, 1)).toThrow(DriverError);
    now += LISTING_TTL_MS + 1;
    expect(() => cache.continue(b.next, 1)).toThrow(DriverError);
    cache.start([1, 2], 1);
    expect(cache.stats().listings).toBe(1);
    expect(() => cache.continue(c.next, 1)).toThrow(DriverError);
  });

  it('estimates bytes from the strings and members an entry holds', () => {
    const small = estimateBytes({ volume: { volume_id: 'b1/pvc-1', capacity_bytes: '1073741824' } });
    const large = estimateBytes({ volume: { volume_id: `b1/${'x'.repeat(1000)}`, capacity_bytes: '1073741824' } });
    expect(small).toBeGreaterThan(0);
    expect(large - small).toBe(1000 - 'pvc-1'.length);
    expect(estimateBytes([1, 2])).toBe(estimateBytes([]) + 2 * (8 + 8));
  });
});

describe('volume condition', () => {
  it.each([
    [{ name: 'v', state: 1 }, false],
    [{ name: 'v', state: 2 }, true],
    [{ name: 'v', state: 3 }, true],
    [{ name: 'v', state: 1, failedStates: [9] }, true],
  ])('%j abnormal: %p', (v, abnormal) => {
    expect(conditionOfVolume(v).abnormal).toBe(abnormal);
  });
});
