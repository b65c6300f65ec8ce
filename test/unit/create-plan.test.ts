/**
 * CreateVolume's plan (csi/create-plan.ts) and its placement (controller-deps chooseArray), with
 * no array: the plan is a pure function of the request and the class's parameters, and the
 * placement reads only the configured backend ids (the clients below fail every call).
 */
import { describe, expect, it } from '@jest/globals';
import { planCreateVolume } from '../../src/csi/create-plan.js';
import { chooseArray, type ControllerDeps } from '../../src/csi/controller-deps.js';
import { topologyKey } from '../../src/csi/context.js';
import { parseStorageClassParameters } from '../../src/csi/params.js';
import { ListingCache } from '../../src/csi/listing-cache.js';
import { BackendRegistry } from '../../src/array/registry.js';
import type { ArrayClient } from '../../src/array/client.js';
import { DriverError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { InFlight } from '../../src/util/inflight.js';
import type { CreateVolumeRequest__Output } from '../../src/gen/csi/v1/CreateVolumeRequest.js';
import type { VolumeCapability__Output } from '../../src/gen/csi/v1/VolumeCapability.js';
import type { TopologyRequirement__Output } from '../../src/gen/csi/v1/TopologyRequirement.js';

const MiB = 1024 * 1024;
const mount = (
  mode: 'SINGLE_NODE_WRITER' | 'MULTI_NODE_READER_ONLY' = 'SINGLE_NODE_WRITER',
  fsType = 'ext4',
): VolumeCapability__Output => ({
  mount: { fs_type: fsType, mount_flags: [], volume_mount_group: '' },
  access_mode: { mode },
  access_type: 'mount',
});

function request(over: Partial<CreateVolumeRequest__Output> = {}): CreateVolumeRequest__Output {
  return {
    name: 'pvc-1',
    capacity_range: null,
    volume_capabilities: [mount()],
    parameters: {},
    secrets: {},
    volume_content_source: null,
    accessibility_requirements: null,
    mutable_parameters: {},
    ...over,
  };
}

const plan = (over: Partial<CreateVolumeRequest__Output> = {}) => {
  const req = request(over);
  return planCreateVolume(req, parseStorageClassParameters(req.parameters, ['ext4']));
};

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof DriverError ? err.kind : `not a DriverError: ${String(err)}`;
  }
  return undefined;
};

describe('planCreateVolume: sizes', () => {
  it.each([
    ['no capacity_range: the default 1 GiB', null, 'ext4', 1024],
    ['1 byte rounds up to one 256 MiB step', { required_bytes: '1', limit_bytes: '0' }, 'ext4', 256],
    ['300 MiB rounds up to 512 MiB', { required_bytes: String(300 * MiB), limit_bytes: '0' }, 'ext4', 512],
    ['exactly 768 MiB stays', { required_bytes: String(768 * MiB), limit_bytes: '0' }, 'ext4', 768],
    ['xfs has a 512 MiB floor', { required_bytes: '1', limit_bytes: '0' }, 'xfs', 512],
  ])('%s', (_, range, fsType, sizeMiB) => {
    expect(plan({ capacity_range: range, volume_capabilities: [mount('SINGLE_NODE_WRITER', fsType)] }).sizeMiB).toBe(
      sizeMiB,
    );
  });

  it('a limit becomes the largest size a copy may have (whole MiB below it); none without a limit', () => {
    expect(plan({ capacity_range: { required_bytes: '1', limit_bytes: String(1000 * MiB + 5) } }).maxMiB).toBe(1000);
    expect(plan({ capacity_range: { required_bytes: '1', limit_bytes: '0' } })).not.toHaveProperty('maxMiB');
  });

  it('required above limit → OUT_OF_RANGE', () => {
    expect(codeOf(() => plan({ capacity_range: { required_bytes: String(2 * MiB), limit_bytes: String(MiB) } }))).toBe(
      'out-of-range',
    );
  });
});

describe('planCreateVolume: content source and access mode', () => {
  it('a snapshot, a volume, or nothing', () => {
    expect(plan({ volume_content_source: { type: 'snapshot', snapshot: { snapshot_id: 'b1/css-x' } } }).source).toEqual(
      { kind: 'snapshot', id: 'b1/css-x' },
    );
    expect(plan({ volume_content_source: { type: 'volume', volume: { volume_id: 'b1/csv-y' } } }).source).toEqual({
      kind: 'volume',
      id: 'b1/csv-y',
    });
    expect(plan()).not.toHaveProperty('source');
  });

  it('single-node only when every capability is single-node', () => {
    expect(plan().singleNode).toBe(true);
    expect(plan({ volume_capabilities: [mount(), mount('MULTI_NODE_READER_ONLY')] }).singleNode).toBe(false);
  });
});

describe('planCreateVolume: parameters', () => {
  it('the class as parsed: no protocol when the class names none (the backend default applies later)', () => {
    const spec = plan();
    expect(spec).not.toHaveProperty('protocol');
    expect(spec).toMatchObject({ provisioning: 'tpvv', compression: false, labels: {} });
    expect(plan({ parameters: { access_protocol: 'FC', cpg: 'SSD_r6', backend: 'b2' } })).toMatchObject({
      protocol: 'fc',
      cpg: 'SSD_r6',
      backend: 'b2',
    });
  });

  it('the VolumeAttributesClass overrides the class; "" for qosName means no VV set', () => {
    const spec = plan({
      parameters: { cpg: 'FC_r1', qosName: 'gold' },
      mutable_parameters: { cpg: 'SSD_r6', qosName: '', provisioningType: 'full' },
    });
    expect(spec).toMatchObject({ cpg: 'SSD_r6', provisioning: 'full' });
    expect(spec).not.toHaveProperty('qosName');
    expect(
      codeOf(() => plan({ parameters: { compression: 'true' }, mutable_parameters: { provisioningType: 'full' } })),
    ).toBe('invalid-argument');
  });

  it('the PVC/PV names and description go to the labels, not into the request identity', () => {
    const named = plan({
      parameters: {
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'ns',
        'csi.storage.k8s.io/pv/name': 'pv-1',
        description: 'db',
      },
    });
    expect(named.labels).toEqual({ claim: 'ns/data', content: 'pv-1', description: 'db' });
    expect(named.requestKey).toEqual(plan().requestKey);
    expect(plan({ parameters: { cpg: 'SSD_r6' } }).requestKey).not.toEqual(plan().requestKey);
  });

  it('does not change the parameters it is given', () => {
    const params = parseStorageClassParameters({ cpg: 'FC_r1' });
    planCreateVolume(request({ mutable_parameters: { cpg: 'SSD_r6' } }), params);
    expect(params.cpg).toBe('FC_r1');
  });
});

describe('chooseArray: placement by class, source and topology (no array call)', () => {
  const untouchable = new Proxy({} as ArrayClient, {
    get: (_, key) =>
      key === 'onStatus' || key === 'then'
        ? undefined
        : () => Promise.reject(new Error(`array call ${String(key)} during placement`)),
  });
  const deps = (topology: boolean): ControllerDeps => ({
    driverName: 'csi.test',
    registry: new BackendRegistry(
      ['b1', 'b2', 'b3'].map((id) => ({
        id,
        url: `https://${id}.invalid:8080`,
        username: 'u',
        password: 'p',
        ...(id === 'b1' && { default: true }),
      })),
      {
        log: silentLogger,
        owner: { driverName: 'csi.test', clusterId: 'c1' },
        maxVolumesPerNode: 0,
        clientFactory: () => untouchable,
      },
    ),
    log: silentLogger,
    inflight: new InFlight(),
    volumeListings: new ListingCache(),
    snapshotListings: new ListingCache(),
    topology,
  });
  const term = (...ids: string[]) => ({
    segments: Object.fromEntries(ids.map((id) => [topologyKey('csi.test', id), 'true'])),
  });

  it.each<[string, boolean, string | undefined, string | undefined, TopologyRequirement__Output | null, string]>([
    ['no topology: the default backend', false, undefined, undefined, null, 'b1'],
    ['no topology: the class backend', false, 'b2', undefined, null, 'b2'],
    ['the source backend when the class names none', true, undefined, 'b3', null, 'b3'],
    [
      'the first preferred that is requisite',
      true,
      undefined,
      undefined,
      { requisite: [term('b2'), term('b3')], preferred: [term('b1'), term('b3')] },
      'b3',
    ],
    [
      'the first requisite without preference',
      true,
      undefined,
      undefined,
      { requisite: [term('b2')], preferred: [] },
      'b2',
    ],
  ])('%s', (_, topology, classBackend, sourceBackend, req, expected) => {
    expect(chooseArray(deps(topology), classBackend, sourceBackend, req).id).toBe(expected);
  });

  it('a class backend outside the requisite topology → RESOURCE_EXHAUSTED; class and source on different backends → INVALID_ARGUMENT', () => {
    expect(codeOf(() => chooseArray(deps(true), 'b1', undefined, { requisite: [term('b2')], preferred: [] }))).toBe(
      'resource-exhausted',
    );
    expect(codeOf(() => chooseArray(deps(true), 'b1', 'b2', null))).toBe('invalid-argument');
  });
});
