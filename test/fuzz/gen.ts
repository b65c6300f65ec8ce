/**
 * Random CSI requests for the fuzz tests: a plausible request per RPC, then a few mutations
 * (fields removed, replaced by wrong types, absurd values). Paths always lie under `pools.base`.
 */
import type { Prng } from '../../src/soak/prng.js';
import type { CsiServiceName } from '../helpers/grpc.js';

export interface FuzzPools {
  volumeIds: string[];
  snapshotIds: string[];
  nodeIds: string[];
  /**
   * A temporary directory: every absolute path the fuzzer sends is inside it, but for a few host
   * paths (/proc, /etc/passwd) the driver must refuse before touching anything. `<base>/kubelet`
   * is the driver's kubelet root; `<base>/kubelet/escape` links to `<base>/outside`,
   * `<base>/kubelet/inner` to `<base>/kubelet/pods`, `<base>/kubelet/dangling` to nowhere.
   */
  base: string;
  /** Sent in secrets maps; must never reach a log. */
  chapSecret: string;
}

export const RPCS: { service: CsiServiceName; name: string }[] = [
  ...['GetPluginInfo', 'GetPluginCapabilities', 'Probe'].map((name) => ({ service: 'Identity' as const, name })),
  ...[
    'CreateVolume',
    'DeleteVolume',
    'ControllerPublishVolume',
    'ControllerUnpublishVolume',
    'ValidateVolumeCapabilities',
    'ListVolumes',
    'GetCapacity',
    'ControllerGetCapabilities',
    'CreateSnapshot',
    'DeleteSnapshot',
    'ListSnapshots',
    'ControllerExpandVolume',
    'ControllerGetVolume',
    'ControllerModifyVolume',
    'GetSnapshot',
  ].map((name) => ({ service: 'Controller' as const, name })),
  ...[
    'NodeStageVolume',
    'NodeUnstageVolume',
    'NodePublishVolume',
    'NodeUnpublishVolume',
    'NodeGetVolumeStats',
    'NodeExpandVolume',
    'NodeGetCapabilities',
    'NodeGetInfo',
  ].map((name) => ({ service: 'Node' as const, name })),
];

type Obj = Record<string, unknown>;

const UNICODE = [
  'vølume-名前',
  'ｐｖｃ',
  '🙂🙃',
  'a\u0301',
  '\u202ereversed',
  'zero\u200bwidth',
  'ß',
  'İ',
  '\uFFFD',
  'nul\u0000byte',
];

function str(rng: Prng): string {
  return rng.pick([
    '',
    'x',
    'pvc-' + rng.int(0, 1e9),
    'a'.repeat(rng.pick([31, 32, 63, 64, 128, 129, 256, 1000, 10_000])),
    rng.pick(UNICODE),
    '../../etc/passwd',
    'name with spaces',
    'line\nbreak',
    '-leading-dash',
    '%2e%2e%2f',
    "'; rm -rf / #",
    '$(reboot)',
    '`id`',
    rng.bytes(rng.int(1, 40)).toString('latin1'),
  ]);
}

function id(rng: Prng, pool: string[]): string {
  const real = pool.length > 0 ? rng.pick(pool) : 'sim/csv-a';
  return rng.pick([
    real,
    real,
    real.toUpperCase(),
    real + 'x',
    real.replace('/', '//'),
    'sim/csv-doesnotexist0000000000',
    'other/csv-aaaaaaaaaaaaaaaaaaaa',
    'sim/',
    '/csv-a',
    'sim',
    'SIM/csv-a',
    'sim/' + 'a'.repeat(200),
    'sim/..',
    'sim/-x',
    'sim/a b',
    'sim/' + rng.pick(UNICODE),
    'a'.repeat(129),
    str(rng),
  ]);
}

function size(rng: Prng): unknown {
  return rng.pick([
    '0',
    '1',
    '-1',
    '1073741824',
    '9223372036854775807',
    '-9223372036854775808',
    '18446744073709551615',
    '1099511627776000',
    '512',
    String(rng.int(0, 2 ** 31)),
    0,
    -5,
    1e30,
    'abc',
    '1.5',
    '',
  ] as unknown[]);
}

function mode(rng: Prng): unknown {
  return rng.pick([
    'SINGLE_NODE_WRITER',
    'SINGLE_NODE_READER_ONLY',
    'MULTI_NODE_READER_ONLY',
    'MULTI_NODE_SINGLE_WRITER',
    'MULTI_NODE_MULTI_WRITER',
    'SINGLE_NODE_SINGLE_WRITER',
    'SINGLE_NODE_MULTI_WRITER',
    'UNKNOWN',
    99,
    -1,
    'BOGUS',
  ] as unknown[]);
}

function capability(rng: Prng): unknown {
  const mount = {
    fs_type: rng.pick(['', 'ext4', 'xfs', 'ntfs', 'ext4 ', 'btrfs', str(rng)]),
    mount_flags: rng.pick([
      [],
      ['noatime'],
      ['bind'],
      ['rw', 'ro'],
      ['a b'],
      [''],
      ['loop'],
      [str(rng)],
      ['noatime,bind'],
      ['noatime,rw'],
      ['ro,remount'],
      ['defaults,loop=/dev/loop0'],
      ['noatime,,nodev'],
      [`noatime,${str(rng)}`],
    ]),
    volume_mount_group: rng.pick(['', '1000', 'x']),
  };
  return rng.pick<unknown>([
    { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
    { mount, access_mode: { mode: mode(rng) } },
    { block: {}, access_mode: { mode: mode(rng) } },
    { block: {}, mount, access_mode: { mode: mode(rng) } },
    { access_mode: { mode: mode(rng) } },
    { mount },
    {},
    null,
  ]);
}

function params(rng: Prng): unknown {
  return rng.pick<unknown>([
    {},
    { foo: 'bar' },
    { cpg: str(rng) },
    { CPG: 'SSD_r6', provisioning_type: 'tpvv' },
    { provisioningType: rng.pick(['tpvv', 'full', 'dedup', 'weird', '']) },
    { backend: rng.pick(['sim', 'nosuch', '', 'SIM']) },
    { accessProtocol: rng.pick(['loop', 'iscsi', 'fc', 'nvme', '']) },
    { compression: rng.pick(['true', 'maybe', '']) },
    { hostSeesVLUN: 'perhaps', fsMode: '99999', fsOwner: 'root:root' },
    { fsCreateOptions: rng.pick(['-m 0', '; reboot', '$(id)', '-E nodiscard']) },
    { description: 'd'.repeat(rng.pick([10, 600, 5000])) },
    Object.fromEntries(Array.from({ length: rng.int(50, 400) }, (_, i) => [`k${i}`, 'v'])),
    { [rng.pick(UNICODE)]: rng.pick(UNICODE) },
    { 'csi.storage.k8s.io/pvc/name': str(rng), 'csi.storage.k8s.io/pvc/namespace': str(rng) },
  ]);
}

function secrets(rng: Prng, pools: FuzzPools): unknown {
  return rng.pick<unknown>([
    {},
    { chapUser: 'u', chapSecret: pools.chapSecret },
    { password: pools.chapSecret },
    { [pools.chapSecret]: pools.chapSecret },
  ]);
}

function path(rng: Prng, pools: FuzzPools): unknown {
  const b = pools.base;
  return rng.pick<unknown>([
    `${b}/kubelet/pods/p${rng.int(0, 5)}/volumes/kubernetes.io~csi/pv/mount`,
    `${b}/kubelet/plugins/kubernetes.io/csi/d/s${rng.int(0, 5)}/globalmount`,
    `${b}/t${rng.int(0, 100)}`,
    // Outside the kubelet root, directly or through symlinks the fuzz set-up made inside it.
    `${b}/outside/o${rng.int(0, 3)}`,
    `${b}/kubelet/escape/s${rng.int(0, 3)}`,
    `${b}/kubelet/escape`,
    `${b}/kubelet/inner/p${rng.int(0, 3)}`,
    `${b}/kubelet/dangling/x`,
    `${b}/kubelet`,
    '/proc',
    '/etc/passwd',
    `${b}/../${b.split('/').pop()}/x`,
    `${b}/a/../../b`,
    'relative/path',
    '',
    `${b}/${'n'.repeat(rng.pick([255, 256, 5000]))}`,
    `${b}/nul\u0000byte`,
    `${b}/${rng.pick(UNICODE)}`,
    `${b}/space and 'quote'`,
  ]);
}

function contentSource(rng: Prng, pools: FuzzPools): unknown {
  return rng.pick<unknown>([
    { snapshot: { snapshot_id: id(rng, pools.snapshotIds) } },
    { volume: { volume_id: id(rng, pools.volumeIds) } },
    {},
    { snapshot: {} },
    { snapshot: { snapshot_id: id(rng, pools.snapshotIds) }, volume: { volume_id: id(rng, pools.volumeIds) } },
  ]);
}

function context(rng: Prng): unknown {
  return rng.pick<unknown>([
    {},
    { accessProtocol: 'loop' },
    { foo: 'bar', createdEmpty: 'maybe' },
    { lun: '-1', wwn: 'zz', protocol: 'loop' },
    { protocol: 'iscsi', lun: '99999', targets: '[not json' },
    { readonly: 'true' },
  ]);
}

function topology(rng: Prng): unknown {
  return rng.pick<unknown>([
    undefined,
    { requisite: [{ segments: { foo: 'bar' } }], preferred: [] },
    { requisite: [], preferred: [{ segments: { [str(rng)]: str(rng) } }] },
  ]);
}

/** A plausible request for `rpc`. */
function plausible(rpc: string, rng: Prng, p: FuzzPools): Obj {
  const vid = (): string => id(rng, p.volumeIds);
  const node = (): unknown =>
    rng.pick<unknown>([...p.nodeIds, '', 'fuzz-node;i=iqn.x', 'n'.repeat(300), 'node;w=zz', str(rng)]);
  const range = (): unknown =>
    rng.pick<unknown>([
      { required_bytes: size(rng) },
      { limit_bytes: size(rng) },
      { required_bytes: size(rng), limit_bytes: size(rng) },
      {},
      undefined,
    ]);
  switch (rpc) {
    case 'CreateVolume':
      return {
        name: str(rng),
        capacity_range: range(),
        volume_capabilities: rng.pick([[capability(rng)], [], [capability(rng), capability(rng)]]),
        parameters: params(rng),
        secrets: secrets(rng, p),
        volume_content_source: rng.chance(0.3) ? contentSource(rng, p) : undefined,
        accessibility_requirements: topology(rng),
        mutable_parameters: rng.chance(0.2) ? params(rng) : {},
      };
    case 'DeleteVolume':
      return { volume_id: vid(), secrets: secrets(rng, p) };
    case 'ControllerPublishVolume':
      return {
        volume_id: vid(),
        node_id: node(),
        volume_capability: capability(rng),
        readonly: rng.chance(0.3),
        secrets: secrets(rng, p),
        volume_context: context(rng),
      };
    case 'ControllerUnpublishVolume':
      return { volume_id: vid(), node_id: node(), secrets: secrets(rng, p) };
    case 'ValidateVolumeCapabilities':
      return {
        volume_id: vid(),
        volume_context: context(rng),
        volume_capabilities: [capability(rng)],
        parameters: params(rng),
        secrets: secrets(rng, p),
      };
    case 'ListVolumes':
    case 'ListSnapshots':
      return {
        max_entries: rng.pick<unknown>([0, 1, 2, -1, 2 ** 31 - 1, 'x']),
        starting_token: rng.pick([
          '',
          'garbage',
          '-1',
          '999999999',
          'ffffffffffff:1',
          '000000000000:0',
          'a'.repeat(1000),
          rng.pick(UNICODE),
        ]),
        ...(rpc === 'ListSnapshots'
          ? {
              source_volume_id: rng.chance(0.5) ? vid() : '',
              snapshot_id: rng.chance(0.3) ? id(rng, p.snapshotIds) : '',
              secrets: secrets(rng, p),
            }
          : {}),
      };
    case 'GetCapacity':
      return {
        volume_capabilities: [capability(rng)],
        parameters: params(rng),
        accessible_topology: rng.chance(0.3) ? { segments: { a: 'b' } } : undefined,
      };
    case 'CreateSnapshot':
      return { source_volume_id: vid(), name: str(rng), secrets: secrets(rng, p), parameters: params(rng) };
    case 'DeleteSnapshot':
    case 'GetSnapshot':
      return { snapshot_id: id(rng, [...p.snapshotIds, ...p.volumeIds]), secrets: secrets(rng, p) };
    case 'ControllerExpandVolume':
      return {
        volume_id: vid(),
        capacity_range: range(),
        secrets: secrets(rng, p),
        volume_capability: capability(rng),
      };
    case 'ControllerGetVolume':
      return { volume_id: vid() };
    case 'ControllerModifyVolume':
      return { volume_id: vid(), secrets: secrets(rng, p), mutable_parameters: params(rng) };
    case 'NodeStageVolume':
      return {
        volume_id: vid(),
        publish_context: context(rng),
        staging_target_path: path(rng, p),
        volume_capability: capability(rng),
        secrets: secrets(rng, p),
        volume_context: context(rng),
      };
    case 'NodeUnstageVolume':
      return { volume_id: vid(), staging_target_path: path(rng, p) };
    case 'NodePublishVolume':
      return {
        volume_id: vid(),
        publish_context: context(rng),
        staging_target_path: path(rng, p),
        target_path: path(rng, p),
        volume_capability: capability(rng),
        readonly: rng.chance(0.5),
        secrets: secrets(rng, p),
        volume_context: context(rng),
      };
    case 'NodeUnpublishVolume':
      return { volume_id: vid(), target_path: path(rng, p) };
    case 'NodeGetVolumeStats':
      return { volume_id: vid(), volume_path: path(rng, p), staging_target_path: path(rng, p) };
    case 'NodeExpandVolume':
      return {
        volume_id: vid(),
        volume_path: path(rng, p),
        capacity_range: range(),
        staging_target_path: path(rng, p),
        volume_capability: capability(rng),
        secrets: secrets(rng, p),
      };
    default:
      return {};
  }
}

/** Wrong types for a field: what a confused or hostile client might send. */
function wrongType(rng: Prng): unknown {
  return rng.pick<unknown>([
    42,
    -1,
    1.5,
    true,
    false,
    null,
    [],
    [1, 2],
    {},
    { nested: { deeper: 'x' } },
    'str',
    '',
    Number.MAX_SAFE_INTEGER,
  ]);
}

/** A request for `rpc`: plausible, then up to three fields removed or replaced by wrong types. */
export function requestFor(rpc: string, rng: Prng, pools: FuzzPools): Obj {
  const req = plausible(rpc, rng, pools);
  const keys = Object.keys(req);
  for (let m = rng.int(0, 3); m > 0 && keys.length > 0; m--) {
    const k = rng.pick(keys);
    // Removed (undefined is what protobuf encodes as absent) or replaced by a wrong type.
    req[k] = rng.chance(0.5) ? undefined : wrongType(rng);
  }
  if (rng.chance(0.1)) req['unknown_field_' + rng.int(0, 9)] = wrongType(rng);
  return req;
}
