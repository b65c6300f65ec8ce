import { describe, expect, it } from '@jest/globals';
import { apiPath, featureGates, parseNameLocation, parseVlunLocation, vlunPath } from '../../src/wsapi/index.js';
import { queryParam } from '../../src/wsapi/path.js';

describe('paths', () => {
  it('encodes every interpolated segment', () => {
    expect(apiPath`/volumes/${'a/b?c#d'}`).toBe('/api/v1/volumes/a%2Fb%3Fc%23d');
    expect(apiPath`/tasks/${42}`).toBe('/api/v1/tasks/42');
  });

  it('builds VLUN ids with literal separators', () => {
    expect(vlunPath({ volumeName: 'v 1', lun: 3, hostname: 'h' })).toBe('/api/v1/vluns/v%201,3,h');
    expect(vlunPath({ volumeName: 'v', lun: 0, portPos: { node: 0, slot: 2, cardPort: 1 } })).toBe(
      '/api/v1/vluns/v,0,,0:2:1',
    );
  });

  it.each([
    ['/api/v1/vluns/vol,5,host', { volumeName: 'vol', lun: 5, hostname: 'host' }],
    ['api/v1/vluns/vol,5,host', { volumeName: 'vol', lun: 5, hostname: 'host' }],
    [
      '/api/v1/vluns/vol,12,host,1:2:3',
      { volumeName: 'vol', lun: 12, hostname: 'host', portPos: { node: 1, slot: 2, cardPort: 3 } },
    ],
    ['/api/v1/vluns/vol,0,,0:0:1', { volumeName: 'vol', lun: 0, portPos: { node: 0, slot: 0, cardPort: 1 } }],
    ['/api/v1/vluns/set%3Avs,1,set%3Ahs', { volumeName: 'set:vs', lun: 1, hostname: 'set:hs' }],
  ])('parses the VLUN Location %s', (loc, id) => {
    expect(parseVlunLocation(loc)).toEqual(id);
  });

  it.each([
    '/api/v1/volumes/v',
    '/api/v1/vluns/vol,x,host',
    '/api/v1/vluns/vol',
    '/api/v1/vluns/,1,h',
    '/api/v1/vluns/v,1,h,bad',
  ])('rejects %s as a VLUN Location', (loc) => {
    expect(parseVlunLocation(loc)).toBeUndefined();
  });

  it('parses object Locations with or without the leading slash', () => {
    expect(parseNameLocation('/api/v1/volumes/snap-1', 'volumes')).toBe('snap-1');
    expect(parseNameLocation('api/v1/volumesets/vs', 'volumesets')).toBe('vs');
    expect(parseNameLocation('/api/v1/hosts/h', 'volumes')).toBeUndefined();
  });

  it('quotes and encodes queries as HPE clients do', () => {
    expect(queryParam('wwn==AB OR wwn==CD')).toBe('query=%22wwn%3D%3DAB%20OR%20wwn%3D%3DCD%22');
  });
});

describe('feature gates', () => {
  it.each([
    // [S PYC] VLUN queries from 30201292; [S CIN] DEDUP_API_VERSION 30201120, COMPRESSION_API_VERSION 30301215.
    [
      { major: 1, minor: 3, build: 30103230 },
      { vlunQueries: false, tdvv: false, compression: false, reduce: false, qos: false },
    ],
    [
      { major: 1, minor: 4, build: 30201000 },
      { vlunQueries: false, tdvv: false, compression: false, reduce: false, qos: true },
    ],
    [
      { major: 1, minor: 4, build: 30201120 },
      { vlunQueries: false, tdvv: true, compression: false, reduce: false, qos: true },
    ],
    [
      { major: 1, minor: 4, build: 30201292 },
      { vlunQueries: true, tdvv: true, compression: false, reduce: false, qos: true },
    ],
    [
      { major: 1, minor: 6, build: 30301000 },
      { vlunQueries: true, tdvv: true, compression: false, reduce: true, qos: true },
    ],
    [
      { major: 1, minor: 6, build: 30301215 },
      { vlunQueries: true, tdvv: true, compression: true, reduce: true, qos: true },
    ],
  ])('%j → %j', (v, gates) => {
    expect(featureGates(v)).toEqual(gates);
  });
});
