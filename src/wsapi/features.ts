import type { ApiVersion, FeatureGates } from './types.js';

/**
 * The one table of later-firmware features (issue 21): from which 3PAR OS build — `GET /api`
 * `build`, encoded `M mm mm bbb`, so 3.2.1 MU2 = 30201292 (REFERENCE §3) — or WSAPI version each
 * feature is there, and where the threshold comes from. HPE's clients compare the build only
 * [S PYC]; `reduce` is gated on the WSAPI version, as REFERENCE §6.1 has it.
 */
export const FIRMWARE_FEATURES = {
  /**
   * `GET /vluns?query="volumeName EQ v"` / `"hostname EQ h"`: 3.2.1 MU2 [S python-3parclient client.py
   * HP3PAR_WS_MIN_BUILD_VERSION_VLUN_QUERY].
   */
  vlunQueries: { build: 30201292 },
  /** Thin-dedup volumes (`tdvv`): 3.2.1 MU1 [S cinder hpe_3par_common.py DEDUP_API_VERSION]. */
  tdvv: { build: 30201120 },
  /** `compression` on create, copy and tune: 3.3.1 [S cinder hpe_3par_common.py COMPRESSION_API_VERSION]. */
  compression: { build: 30301215 },
  /** Data-reduction volumes (`reduce`): WSAPI 1.6 (3.3.1) [S PYC ~l.147, REFERENCE §6.1]. */
  reduce: { wsapi: { major: 1, minor: 6 } },
  /** `/api/v1/qos` rules: 3.2.1 (not in the 1.3.1 guide; REFERENCE §8) [U exact build]. */
  qos: { build: 30201000 },
} as const satisfies Record<keyof FeatureGates, { build: number } | { wsapi: { major: number; minor: number } }>;

/** What a version has, by FIRMWARE_FEATURES; an unknown version (not read yet) has nothing. */
export function featureGates(v: ApiVersion | undefined): FeatureGates {
  const build = v?.build ?? 0;
  const wsapiAtLeast = (w: { major: number; minor: number }): boolean =>
    v !== undefined && (v.major > w.major || (v.major === w.major && v.minor >= w.minor));
  const f = FIRMWARE_FEATURES;
  return {
    vlunQueries: build >= f.vlunQueries.build,
    tdvv: build >= f.tdvv.build,
    compression: build >= f.compression.build,
    reduce: wsapiAtLeast(f.reduce.wsapi),
    qos: build >= f.qos.build,
  };
}
