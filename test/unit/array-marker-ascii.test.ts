import { describe, expect, test } from '@jest/globals';
import { formatVolumeMarker, parseVolumeMarker, VOLUME_COMMENT_MAX } from '../../src/array/marker.js';

describe('volume markers are printable ASCII (WSAPI print511)', () => {
  test.each([['ô\u0018\u0001þ®é'], ['名前-ボリューム'], ['emoji 𝒳 and \u007f DEL'], ['x'.repeat(600) + 'é']])(
    'a CSI name %j round-trips through an ASCII comment',
    (name) => {
      const text = formatVolumeMarker({ v: 1, d: 'csi.example.com', c: 'cluster-a', n: name, r: 'abc' });
      expect(text).toMatch(/^[\x20-\x7e]*$/);
      expect(text.length).toBeLessThanOrEqual(VOLUME_COMMENT_MAX);
      const back = parseVolumeMarker(text);
      expect(back?.c).toBe('cluster-a');
      if (name.length < 100) expect(back?.n).toBe(name);
    },
  );
});
