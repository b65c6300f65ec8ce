import { describe, expect, it } from '@jest/globals';
import {
  HPE_ONLY_PARAMETERS,
  parseSnapshotClassParameters,
  parseStorageClassParameters,
  STORAGE_CLASS_PARAMETERS,
  SNAPSHOT_CLASS_PARAMETERS,
} from '../../src/csi/params.js';
import { DriverError } from '../../src/errors.js';

function kindOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof DriverError ? err.kind : 'other';
  }
}

describe('parseStorageClassParameters', () => {
  it('applies defaults', () => {
    expect(parseStorageClassParameters({})).toEqual({
      provisioningType: 'tpvv',
      compression: false,
      hostSeesVLUN: true,
    });
  });

  it.each([
    [{ cpg: 'SSD_r6' }, { cpg: 'SSD_r6' }],
    [{ CPG: 'FC_r5' }, { cpg: 'FC_r5' }],
    [{ snap_cpg: 'FC_r1' }, { snapCpg: 'FC_r1' }],
    [{ SnapCPG: 'FC_r1' }, { snapCpg: 'FC_r1' }],
    [{ provisioning_type: 'FULL' }, { provisioningType: 'full' }],
    [{ provisioningType: 'dedup' }, { provisioningType: 'dedup' }],
    [{ accessProtocol: 'fc' }, { accessProtocol: 'fc' }],
    [{ accessprotocol: 'LOOP' }, { accessProtocol: 'loop' }],
    [{ hostSeesVLUN: 'false' }, { hostSeesVLUN: false }],
    [{ compression: 'true' }, { compression: true }],
    [{ qosName: 'gold' }, { qosName: 'gold' }],
    [{ iscsiPortalIps: '10.0.0.1, 10.0.0.2' }, { iscsiPortalIps: ['10.0.0.1', '10.0.0.2'] }],
    [{ fcPortsList: '0:1:1,1:1:1' }, { fcPortsList: ['0:1:1', '1:1:1'] }],
    [
      { fsOwner: '1000:2000', fsMode: '0770' },
      { fsOwner: '1000:2000', fsMode: '0770' },
    ],
    [{ fsCreateOptions: '-b 4096 -E lazy_itable_init=1' }, { fsCreateOptions: '-b 4096 -E lazy_itable_init=1' }],
    [
      {
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'ns',
        'csi.storage.k8s.io/pv/name': 'pvc-1',
      },
      { pvcName: 'data', pvcNamespace: 'ns', pvName: 'pvc-1' },
    ],
    [
      { backend: 'array-2', description: 'team A' },
      { backend: 'array-2', description: 'team A' },
    ],
  ])('parses %j', (input, expected) => {
    expect(parseStorageClassParameters(input)).toMatchObject(expected);
  });

  it.each([
    [{ unknownKey: 'x' }, 'unknownKey'],
    [{ 'csi.storage.k8s.io/other': 'x' }, 'csi.storage.k8s.io/other'],
    [{ provisioningType: 'thick' }, 'provisioningType'],
    [{ accessProtocol: 'nvme' }, 'accessProtocol'],
    [{ hostSeesVLUN: 'yes' }, 'hostSeesVLUN'],
    [{ cpg: 'a'.repeat(32) }, 'cpg'],
    [{ cpg: '-bad' }, 'cpg'],
    [{ qosName: 'q'.repeat(28) }, 'qosName'],
    [{ iscsiPortalIps: '10.0.0.300' }, 'iscsiPortalIps'],
    [{ fcPortsList: '0-1-1' }, 'fcPortsList'],
    [{ fsOwner: 'root' }, 'fsOwner'],
    [{ fsMode: '999' }, 'fsMode'],
    [{ fsCreateOptions: '-O ^has_journal; rm -rf /' }, 'fsCreateOptions'],
    [{ description: 'x'.repeat(121) }, 'description'],
    [{ backend: 'Bad_Id' }, 'backend'],
    [{ snapCpg: 'a', snap_cpg: 'b' }, 'snap_cpg'],
  ])('refuses %j naming the key', (input, key) => {
    let caught: unknown;
    try {
      parseStorageClassParameters(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DriverError);
    expect((caught as DriverError).kind).toBe('invalid-argument');
    expect((caught as DriverError).message).toContain(key);
  });

  it('refuses compression on a fully provisioned volume', () => {
    expect(kindOf(() => parseStorageClassParameters({ compression: 'true', provisioningType: 'full' }))).toBe(
      'invalid-argument',
    );
  });
});

describe('parseSnapshotClassParameters', () => {
  it.each([
    [{}, { readOnly: true }],
    [{ readOnly: 'false' }, { readOnly: false }],
    [
      { allowExpiry: 'true', expirationHours: '24' },
      { readOnly: true, expirationHours: 24 },
    ],
    [
      {
        'csi.storage.k8s.io/volumesnapshot/name': 's',
        'csi.storage.k8s.io/volumesnapshot/namespace': 'n',
        'csi.storage.k8s.io/volumesnapshotcontent/name': 'c',
      },
      { readOnly: true, snapshotName: 's', snapshotNamespace: 'n', contentName: 'c' },
    ],
  ])('parses %j', (input, expected) => {
    expect(parseSnapshotClassParameters(input)).toEqual(expected);
  });

  it.each([
    [{ expirationHours: '24' }],
    [{ allowExpiry: 'true', expirationHours: '0' }],
    [{ allowExpiry: 'true', expirationHours: '43801' }],
    [{ retentionHours: '1' }],
    [{ readOnly: 'maybe' }],
  ])('refuses %j', (input) => {
    expect(kindOf(() => parseSnapshotClassParameters(input))).toBe('invalid-argument');
  });
});

describe('parameter descriptors', () => {
  it('document every key with a description and default', () => {
    for (const d of [...STORAGE_CLASS_PARAMETERS, ...SNAPSHOT_CLASS_PARAMETERS]) {
      expect(d.description.length).toBeGreaterThan(5);
      expect(d.default.length).toBeGreaterThan(0);
      expect(d.values.length).toBeGreaterThan(0);
    }
    expect(STORAGE_CLASS_PARAMETERS.map((d) => d.key)).toEqual(
      expect.arrayContaining([
        'cpg',
        'snapCpg',
        'provisioningType',
        'accessProtocol',
        'hostSeesVLUN',
        'qosName',
        'iscsiPortalIps',
        'fcPortsList',
        'fsOwner',
        'fsMode',
        'fsCreateOptions',
        'description',
        'compression',
        'backend',
      ]),
    );
  });
});

describe('classes copied from HPE’s CSI driver (issue 19, item 9)', () => {
  it.each(Object.entries(HPE_ONLY_PARAMETERS))(
    '%s → INVALID_ARGUMENT naming the key and what to use instead',
    (key, instead) => {
      let err: unknown;
      try {
        parseStorageClassParameters({ [key]: 'x' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DriverError);
      expect((err as DriverError).kind).toBe('invalid-argument');
      expect((err as Error).message).toContain(`"${key}"`);
      expect((err as Error).message).toContain(instead);
    },
  );

  it('the keys both drivers share are taken as they are', () => {
    expect(
      parseStorageClassParameters({
        accessProtocol: 'iscsi',
        cpg: 'SSD_r6',
        snapCpg: 'SSD_r6',
        provisioningType: 'tpvv',
        hostSeesVLUN: 'true',
        compression: 'false',
        qosName: 'gold',
        iscsiPortalIps: '10.0.0.1',
        description: 'Volume created by the HPE CSI Driver for Kubernetes',
        fsOwner: '1000:1000',
        fsMode: '0770',
      }),
    ).toMatchObject({ cpg: 'SSD_r6', hostSeesVLUN: true });
    expect(parseSnapshotClassParameters({ read_only: 'false' }).readOnly).toBe(false);
  });
});

describe('messages a cluster user reads in a PVC’s events', () => {
  it('an unknown key names the accepted keys, not a file of the repository', () => {
    let message = '';
    try {
      parseStorageClassParameters({ provisionType: 'tpvv' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /unknown StorageClass parameter "provisionType"; accepted: backend, cpg, snapCpg, provisioningType/,
    );
    expect(message).not.toMatch(/docs\/|\.md\b|csi\.storage\.k8s\.io/);
    for (const instead of Object.values(HPE_ONLY_PARAMETERS)) expect(instead).not.toMatch(/docs\/|\.md\b/);
  });
});
