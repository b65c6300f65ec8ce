import { invalidArgument } from '../errors.js';
import { DEFAULT_FS, SUPPORTED_FS, type FsType } from '../host/fs.js';
import {
  FS_CREATE_OPTIONS_MAX,
  checkMkfsOptionsForSomeFs,
  mkfsOptionDocs,
  parseMkfsOptions,
  type MkfsOptionDoc,
} from '../host/mkfs-options.js';
import { FS_MODE_FORM, FS_OWNER_FORM, parseFsMode, parseFsOwner } from '../host/owner.js';

export { FS_CREATE_OPTIONS_MAX };

/**
 * Typed parsers for StorageClass and VolumeSnapshotClass parameters, and the documented
 * descriptors the docs (docs/parameters.md) are generated from. One source of truth: the parsers
 * accept exactly the keys described here. Keys match case-insensitively; old spellings are
 * aliases; any other key, or a bad value, is INVALID_ARGUMENT naming the key.
 */

/** One documented parameter. */
export interface ParameterDescriptor {
  /** The canonical spelling. */
  key: string;
  /** Other accepted spellings (all keys match case-insensitively). */
  aliases: readonly string[];
  /** Accepted values or their format. */
  values: string;
  /** What applies when the key is absent. */
  default: string;
  description: string;
}

/** Access protocols a StorageClass may choose; `loop` is the simulator's data plane. */
export const ACCESS_PROTOCOLS = ['iscsi', 'fc', 'loop'] as const;
export type AccessProtocol = (typeof ACCESS_PROTOCOLS)[number];

/** 3PAR provisioning types; dedup and reduce need later array firmware (checked at create). */
export const PROVISIONING_TYPES = ['tpvv', 'full', 'dedup', 'reduce'] as const;
export type ProvisioningType = (typeof PROVISIONING_TYPES)[number];

/** Keys the external-provisioner adds with --extra-create-metadata; recorded in the marker. */
export const PVC_NAME_KEY = 'csi.storage.k8s.io/pvc/name';
export const PVC_NAMESPACE_KEY = 'csi.storage.k8s.io/pvc/namespace';
export const PV_NAME_KEY = 'csi.storage.k8s.io/pv/name';
/** Keys the external-snapshotter adds with --extra-create-metadata. */
export const VS_NAME_KEY = 'csi.storage.k8s.io/volumesnapshot/name';
export const VS_NAMESPACE_KEY = 'csi.storage.k8s.io/volumesnapshot/namespace';
export const VSC_NAME_KEY = 'csi.storage.k8s.io/volumesnapshotcontent/name';
/** Keys the external-snapshotter adds to CreateVolumeGroupSnapshot with --extra-create-metadata. */
export const VGS_NAME_KEY = 'csi.storage.k8s.io/volumegroupsnapshot/name';
export const VGS_NAMESPACE_KEY = 'csi.storage.k8s.io/volumegroupsnapshot/namespace';
export const VGSC_NAME_KEY = 'csi.storage.k8s.io/volumegroupsnapshotcontent/name';

/** Longest `description` accepted; keeps the ownership marker within the 511-character comment. */
export const DESCRIPTION_MAX = 120;
/** WSAPI limit for snapshot expiration: 1–43,800 hours (REFERENCE §6.1). */
export const EXPIRATION_HOURS_MAX = 43_800;

/** A CPG name (and the values.schema.json pattern for it: src/csi/params-schema.ts). */
export const NAME31 = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,30}$/;
/** A VV set name. */
export const NAME27 = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,26}$/;
/** A backend id. */
export const BACKEND_ID = /^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^(?=.*:)[0-9a-fA-F:]+$/;
const NSP = /^[0-7]:[0-9]:[0-9]$/;

export const STORAGE_CLASS_PARAMETERS: readonly ParameterDescriptor[] = [
  {
    key: 'backend',
    aliases: [],
    values: 'a backend id from the backends file',
    default: 'the only backend, or the one marked default',
    description: 'Which array provisions the volume.',
  },
  {
    key: 'cpg',
    aliases: [],
    values: 'an existing CPG name (≤ 31 characters)',
    default: "the backend's defaultCpg, else the array's only CPG (an error when it has several)",
    description: 'Common provisioning group for user space.',
  },
  {
    key: 'snapCpg',
    aliases: ['snap_cpg'],
    values: 'an existing CPG name',
    default: 'the value of cpg',
    description: 'CPG for snapshot space (needed for snapshots and clones).',
  },
  {
    key: 'provisioningType',
    aliases: ['provisioning_type'],
    values: PROVISIONING_TYPES.join(' | '),
    default: 'tpvv',
    description:
      'Thin (tpvv), fully provisioned (full), thin dedup (dedup, 3PAR OS 3.2.1+) or data reduction (reduce, WSAPI 1.6+); refused where the array lacks it.',
  },
  {
    key: 'compression',
    aliases: [],
    values: 'true | false',
    default: 'false',
    description: 'Compress the volume (WSAPI 1.6+; refused on older arrays).',
  },
  {
    key: 'accessProtocol',
    aliases: ['access_protocol'],
    values: ACCESS_PROTOCOLS.join(' | '),
    default: "the backend's defaultAccessProtocol, else iscsi",
    description: 'How nodes reach the volume; loop is the simulator data plane.',
  },
  {
    key: 'hostSeesVLUN',
    aliases: ['host_sees_vlun'],
    values: 'true | false',
    default: 'true',
    description:
      'true: one host-sees VLUN (every target port presents the LUN); false: one VLUN per chosen target port.',
  },
  {
    key: 'qosName',
    aliases: ['qos_name'],
    values: 'an existing VV set name (≤ 27 characters)',
    default: 'none',
    description: 'VV set (carrying a QoS rule) the volume joins at create and leaves at delete.',
  },
  {
    key: 'iscsiPortalIps',
    aliases: ['iscsi_portal_ips'],
    values: 'comma-separated IP addresses of array iSCSI ports',
    default: 'every ready iSCSI target port',
    description: 'Restricts the iSCSI targets returned to the node.',
  },
  {
    key: 'fcPortsList',
    aliases: ['fc_ports_list'],
    values: 'comma-separated n:s:p port positions',
    default: 'every ready FC target port',
    description: 'Restricts the FC targets returned to the node.',
  },
  {
    key: 'description',
    aliases: [],
    values: `printable text, ≤ ${DESCRIPTION_MAX} characters`,
    default: 'none',
    description: "Recorded in the volume's ownership marker (its comment).",
  },
  {
    key: 'fsOwner',
    aliases: ['fs_owner'],
    values: 'uid:gid (decimal)',
    default: 'unchanged',
    description: 'Owner of the filesystem root after the first format.',
  },
  {
    key: 'fsMode',
    aliases: ['fs_mode'],
    values: 'octal mode, e.g. 0770',
    default: 'unchanged',
    description: 'Mode of the filesystem root after the first format.',
  },
  {
    key: 'fsCreateOptions',
    aliases: ['fs_create_options'],
    values: `mkfs options from the allowlist below (per filesystem), ≤ ${FS_CREATE_OPTIONS_MAX} characters`,
    default: 'none',
    description:
      'Extra options for mkfs when the node formats a new volume: only options that tune the filesystem being made, never a path or another device; checked at CreateVolume and again at NodeStage.',
  },
  {
    key: PVC_NAME_KEY,
    aliases: [],
    values: 'set by external-provisioner --extra-create-metadata',
    default: 'none',
    description: 'PVC name, recorded in the marker.',
  },
  {
    key: PVC_NAMESPACE_KEY,
    aliases: [],
    values: 'set by external-provisioner --extra-create-metadata',
    default: 'none',
    description: 'PVC namespace, recorded in the marker.',
  },
  {
    key: PV_NAME_KEY,
    aliases: [],
    values: 'set by external-provisioner --extra-create-metadata',
    default: 'none',
    description: 'PV name, recorded in the marker.',
  },
];

/** The mkfs options `fsCreateOptions` accepts, per filesystem (docs/parameters.md). */
export const FS_CREATE_OPTIONS: readonly MkfsOptionDoc[] = mkfsOptionDocs();

/** The settings VolumeSnapshotClass and VolumeGroupSnapshotClass share, worded for what they make. */
function snapshotSettings(w: {
  readOnly: string;
  expired: string;
  deletes: string;
  marker: string;
}): ParameterDescriptor[] {
  return [
    { key: 'readOnly', aliases: ['read_only'], values: 'true | false', default: 'true', description: w.readOnly },
    {
      key: 'allowExpiry',
      aliases: ['allow_expiry'],
      values: 'true | false',
      default: 'false',
      description: `Must be "true" for expirationHours to be accepted (${w.expired}).`,
    },
    {
      key: 'expirationHours',
      aliases: ['expiration_hours'],
      values: `1-${EXPIRATION_HOURS_MAX}`,
      default: 'none',
      description: `The array deletes ${w.deletes} after this many hours; only with allowExpiry: "true". Retention is never set.`,
    },
    {
      key: 'description',
      aliases: [],
      values: `printable text, ≤ ${DESCRIPTION_MAX} characters`,
      default: 'none',
      description: `Recorded in ${w.marker}.`,
    },
  ];
}

export const SNAPSHOT_CLASS_PARAMETERS: readonly ParameterDescriptor[] = [
  ...snapshotSettings({
    readOnly: 'Create a read-only virtual copy.',
    expired: 'an expired snapshot disappears from the array',
    deletes: 'the snapshot',
    marker: "the snapshot's ownership marker",
  }),
  {
    key: VS_NAME_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: 'VolumeSnapshot name, recorded in the marker.',
  },
  {
    key: VS_NAMESPACE_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: 'VolumeSnapshot namespace, recorded in the marker.',
  },
  {
    key: VSC_NAME_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: 'VolumeSnapshotContent name, recorded in the marker.',
  },
];

/** VolumeGroupSnapshotClass: the snapshot class's settings, and the group's extra-metadata keys. */
export const GROUP_SNAPSHOT_CLASS_PARAMETERS: readonly ParameterDescriptor[] = [
  ...snapshotSettings({
    readOnly: 'Members are read-only virtual copies.',
    expired: 'expired members disappear from the array',
    deletes: 'the members',
    marker: "every member's ownership marker",
  }),
  {
    key: VGS_NAME_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: "VolumeGroupSnapshot name, recorded in every member's marker.",
  },
  {
    key: VGS_NAMESPACE_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: "VolumeGroupSnapshot namespace, recorded in every member's marker.",
  },
  {
    key: VGSC_NAME_KEY,
    aliases: [],
    values: 'set by external-snapshotter --extra-create-metadata',
    default: 'none',
    description: "VolumeGroupSnapshotContent name, recorded in every member's marker.",
  },
];

/**
 * VolumeAttributesClass parameters (CreateVolume `mutable_parameters`, ControllerModifyVolume).
 * Keys absent from a request leave that setting as it is.
 */
export const MUTABLE_PARAMETERS: readonly ParameterDescriptor[] = [
  {
    key: 'provisioningType',
    aliases: ['provisioning_type'],
    values: PROVISIONING_TYPES.join(' | '),
    default: 'unchanged',
    description:
      "Converts the volume by the array's tune, a background task: the call waits for it within its deadline, then answers ABORTED, and a retry (also after a driver restart) finds the task and succeeds once it is done. dedup needs 3PAR OS 3.2.1+, reduce WSAPI 1.6+.",
  },
  {
    key: 'cpg',
    aliases: [],
    values: 'an existing CPG name (≤ 31 characters)',
    default: 'unchanged',
    description: "Moves the volume's user space to this CPG (the array's tune, a background task, as above).",
  },
  {
    key: 'snapCpg',
    aliases: ['snap_cpg'],
    values: 'an existing CPG name',
    default: 'unchanged',
    description: 'CPG for new snapshot space (immediate).',
  },
  {
    key: 'compression',
    aliases: [],
    values: 'true | false',
    default: 'unchanged',
    description:
      'Compression on or off (WSAPI 1.6+ and a thin volume; refused elsewhere); applied by a tune, as above.',
  },
  {
    key: 'qosName',
    aliases: ['qos_name'],
    values: 'an existing VV set name (≤ 27 characters), or "" for none',
    default: 'unchanged',
    description: 'Moves the volume to this VV set (which carries a QoS rule), leaving the one it was in.',
  },
  {
    key: 'description',
    aliases: [],
    values: `printable text, ≤ ${DESCRIPTION_MAX} characters`,
    default: 'unchanged',
    description: "Replaces the description in the volume's ownership marker.",
  },
];

/**
 * StorageClass parameters of HPE's CSI driver (its 3PAR/Primera CSP and common parameters, as
 * documented on scod.hpedev.io) that 3par-csi does not take, with what to use instead: a class
 * copied from HPE's driver fails with INVALID_ARGUMENT naming the key and the alternative
 * (docs/migrating-from-hpe.md). Keys the two drivers share are ordinary descriptors above.
 */
export const HPE_ONLY_PARAMETERS: Readonly<Record<string, string>> = {
  importVolumeName: 'take over an existing array volume as a static PV whose volumeAttributes carry import: "true"',
  importVolAsClone:
    'take over the source volume as a static PV with import: "true", then clone that PVC (a PVC dataSource)',
  cloneOf: 'clone with a PVC dataSource of kind PersistentVolumeClaim',
  virtualCopyOf: 'take a VolumeSnapshot and restore it with a PVC dataSource',
  remoteCopyGroup: 'Remote Copy (Peer Persistence) is not supported by 3par-csi',
  replicationDevices: 'Remote Copy (Peer Persistence) is not supported by 3par-csi',
  allowBatchReplicatedVolumeCreation: 'Remote Copy (Peer Persistence) is not supported by 3par-csi',
  oneRcgPerPvc: 'Remote Copy (Peer Persistence) is not supported by 3par-csi',
  virtualDomain: 'volumes go to the domain of their CPG: name a cpg in that domain',
  allowOverrides: 'PVC annotations do not override class parameters; use another StorageClass',
  allowMutations:
    'change cpg, snapCpg, provisioningType, compression, qosName or description with a VolumeAttributesClass',
  nfsResources:
    'HPE’s NFS Server Provisioner is not part of 3par-csi; it serves block volumes (ReadWriteMany as raw block)',
  nfsNamespace: 'HPE’s NFS Server Provisioner is not part of 3par-csi',
  nfsMountOptions: 'HPE’s NFS Server Provisioner is not part of 3par-csi',
  nfsProvisionerImage: 'HPE’s NFS Server Provisioner is not part of 3par-csi',
  nfsResourceLimitsCpuM: 'HPE’s NFS Server Provisioner is not part of 3par-csi',
  nfsResourceLimitsMemoryMi: 'HPE’s NFS Server Provisioner is not part of 3par-csi',
  hostEncryption: 'host (LUKS) encryption is not supported by 3par-csi',
  hostEncryptionSecretName: 'host (LUKS) encryption is not supported by 3par-csi',
  hostEncryptionSecretNamespace: 'host (LUKS) encryption is not supported by 3par-csi',
};
const HPE_ONLY = new Map(
  Object.entries(HPE_ONLY_PARAMETERS).map(([k, v]) => [k.toLowerCase(), { key: k, instead: v }]),
);

/** Parsed StorageClass parameters. Optional fields are absent when the class does not set them. */
export interface StorageClassParameters {
  backend?: string;
  cpg?: string;
  snapCpg?: string;
  provisioningType: ProvisioningType;
  compression: boolean;
  /** Absent when the class names none: the backend's defaultAccessProtocol applies, else iscsi. */
  accessProtocol?: AccessProtocol;
  hostSeesVLUN: boolean;
  qosName?: string;
  iscsiPortalIps?: string[];
  /** Port positions "n:s:p". */
  fcPortsList?: string[];
  description?: string;
  fsOwner?: string;
  fsMode?: string;
  fsCreateOptions?: string;
  pvcName?: string;
  pvcNamespace?: string;
  pvName?: string;
}

export interface SnapshotClassParameters {
  readOnly: boolean;
  expirationHours?: number;
  description?: string;
  /** VolumeSnapshot (or VolumeGroupSnapshot) name, namespace, and its content's name. */
  snapshotName?: string;
  snapshotNamespace?: string;
  contentName?: string;
}

/** Parsed mutable parameters: only the keys the request carries are present. */
export interface MutableParameters {
  provisioningType?: ProvisioningType;
  cpg?: string;
  snapCpg?: string;
  compression?: boolean;
  /** "" = in no VV set. */
  qosName?: string;
  description?: string;
}

/** Maps every accepted spelling (lower case) to its canonical key. */
function aliasTable(descriptors: readonly ParameterDescriptor[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const d of descriptors) {
    table.set(d.key.toLowerCase(), d.key);
    for (const a of d.aliases) table.set(a.toLowerCase(), d.key);
  }
  return table;
}
const SC_ALIASES = aliasTable(STORAGE_CLASS_PARAMETERS);
const VSC_ALIASES = aliasTable(SNAPSHOT_CLASS_PARAMETERS);
const VGSC_ALIASES = aliasTable(GROUP_SNAPSHOT_CLASS_PARAMETERS);
const MUTABLE_ALIASES = aliasTable(MUTABLE_PARAMETERS);

/** Canonicalises keys; unknown or repeated (under two spellings) keys are INVALID_ARGUMENT. */
function canonical(
  params: Readonly<Record<string, string>>,
  table: Map<string, string>,
  what: string,
): Map<string, { given: string; value: string }> {
  const out = new Map<string, { given: string; value: string }>();
  for (const [given, value] of Object.entries(params)) {
    const key = table.get(given.toLowerCase());
    const hpe = key === undefined ? HPE_ONLY.get(given.toLowerCase()) : undefined;
    if (hpe)
      throw invalidArgument(
        `${what} parameter "${given}" belongs to HPE's CSI driver and is not supported: ${hpe.instead}`,
      );
    // The accepted keys themselves, not a document: cluster users read this in a PVC's events.
    if (key === undefined)
      throw invalidArgument(
        `unknown ${what} parameter "${given}"; accepted: ${[...new Set(table.values())].filter((k) => !k.startsWith('csi.storage.k8s.io/')).join(', ')}`,
      );
    const prior = out.get(key);
    if (prior)
      throw invalidArgument(`${what} parameters "${prior.given}" and "${given}" name the same setting; keep one`);
    out.set(key, { given, value });
  }
  return out;
}

function bad(given: string, value: string, expected: string): never {
  throw invalidArgument(`parameter "${given}" has the invalid value "${value}": expected ${expected}`);
}

function parseBool(given: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return bad(given, value, 'true or false');
}

function parseEnum<T extends string>(given: string, value: string, allowed: readonly T[]): T {
  const v = value.trim().toLowerCase();
  const hit = allowed.find((a) => a === v);
  return hit ?? bad(given, value, allowed.join(', '));
}

function parseList(given: string, value: string, item: RegExp, expected: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0 || !items.every((s) => item.test(s))) bad(given, value, expected);
  return items;
}

function parseDescription(given: string, value: string): string {
  // print511 on the array: printable ASCII only, and bounded so the marker fits.
  if (value.length > DESCRIPTION_MAX || !/^[\x20-\x7e]*$/.test(value))
    bad(given, value, `printable ASCII of at most ${DESCRIPTION_MAX} characters`);
  return value;
}

/** The fs_type of each mount capability (empty when the capability leaves it to the driver). */
export function mountFsTypes(caps: readonly { mount?: { fs_type?: string } | null }[] | undefined): string[] {
  return (caps ?? []).flatMap((c) => (c.mount ? [c.mount.fs_type ?? ''] : []));
}

/**
 * Checks `fsCreateOptions` against the allowlist of each filesystem the volume may be formatted
 * with (the mount capabilities' fs_type, empty meaning the default); with none known (block only,
 * GetCapacity), the options must suit at least one supported filesystem.
 */
function checkFsCreateOptions(given: string, value: string, fsTypes: readonly string[]): void {
  const known = [...new Set(fsTypes.map((f) => f || DEFAULT_FS))].filter((f): f is FsType =>
    (SUPPORTED_FS as readonly string[]).includes(f),
  );
  const where = `parameter "${given}"`;
  if (known.length > 0) for (const fs of known) parseMkfsOptions(value, fs, where);
  else checkMkfsOptionsForSomeFs(value, where);
}

/**
 * Parses a StorageClass's parameters (CreateVolume, GetCapacity). `fsTypes`: the fs_type of each
 * mount capability of the request, against which `fsCreateOptions` is checked.
 */
export function parseStorageClassParameters(
  params: Readonly<Record<string, string>> = {},
  fsTypes: readonly string[] = [],
): StorageClassParameters {
  const p = canonical(params, SC_ALIASES, 'StorageClass');
  const out: StorageClassParameters = { provisioningType: 'tpvv', compression: false, hostSeesVLUN: true };
  for (const [key, { given, value }] of p) {
    switch (key) {
      case 'backend':
        if (!BACKEND_ID.test(value)) bad(given, value, 'a backend id (1-16 of [a-z0-9-])');
        out.backend = value;
        break;
      case 'cpg':
      case 'snapCpg':
        if (!NAME31.test(value)) bad(given, value, 'a CPG name of at most 31 characters of [A-Za-z0-9._-]');
        out[key] = value;
        break;
      case 'provisioningType':
        out.provisioningType = parseEnum(given, value, PROVISIONING_TYPES);
        break;
      case 'compression':
        out.compression = parseBool(given, value);
        break;
      case 'accessProtocol':
        out.accessProtocol = parseEnum(given, value, ACCESS_PROTOCOLS);
        break;
      case 'hostSeesVLUN':
        out.hostSeesVLUN = parseBool(given, value);
        break;
      case 'qosName':
        if (!NAME27.test(value)) bad(given, value, 'a VV set name of at most 27 characters of [A-Za-z0-9._-]');
        out.qosName = value;
        break;
      case 'iscsiPortalIps':
        out.iscsiPortalIps = parseList(
          given,
          value,
          new RegExp(`${IPV4.source}|${IPV6.source}`),
          'comma-separated IP addresses',
        );
        break;
      case 'fcPortsList':
        out.fcPortsList = parseList(given, value, NSP, 'comma-separated port positions n:s:p');
        break;
      case 'description':
        out.description = parseDescription(given, value);
        break;
      case 'fsOwner':
        // The node refuses ids above 2^32 - 2 (chown(2)); refused here already, at CreateVolume.
        if (!parseFsOwner(value)) bad(given, value, FS_OWNER_FORM);
        out.fsOwner = value;
        break;
      case 'fsMode':
        if (parseFsMode(value) === undefined) bad(given, value, FS_MODE_FORM);
        out.fsMode = value;
        break;
      case 'fsCreateOptions':
        // Tenant-controlled and run by the privileged node plugin: only the allowlist (DESIGN).
        checkFsCreateOptions(given, value, fsTypes);
        out.fsCreateOptions = value;
        break;
      case PVC_NAME_KEY:
        out.pvcName = value;
        break;
      case PVC_NAMESPACE_KEY:
        out.pvcNamespace = value;
        break;
      case PV_NAME_KEY:
        out.pvName = value;
        break;
    }
  }
  if (out.compression && out.provisioningType === 'full')
    throw invalidArgument('parameter "compression" needs a thin provisioningType (tpvv, dedup or reduce)');
  return out;
}

/** Parses a VolumeSnapshotClass's parameters (CreateSnapshot). */
export function parseSnapshotClassParameters(params: Readonly<Record<string, string>> = {}): SnapshotClassParameters {
  return parseSnapshotLike(canonical(params, VSC_ALIASES, 'VolumeSnapshotClass'));
}

/** Parses a VolumeGroupSnapshotClass's parameters (CreateVolumeGroupSnapshot). */
export function parseGroupSnapshotClassParameters(
  params: Readonly<Record<string, string>> = {},
): SnapshotClassParameters {
  return parseSnapshotLike(canonical(params, VGSC_ALIASES, 'VolumeGroupSnapshotClass'));
}

function parseSnapshotLike(p: Map<string, { given: string; value: string }>): SnapshotClassParameters {
  const out: SnapshotClassParameters = { readOnly: true };
  let allowExpiry = false;
  let expiry: { given: string; value: string } | undefined;
  for (const [key, entry] of p) {
    const { given, value } = entry;
    switch (key) {
      case 'readOnly':
        out.readOnly = parseBool(given, value);
        break;
      case 'allowExpiry':
        allowExpiry = parseBool(given, value);
        break;
      case 'expirationHours':
        expiry = entry;
        break;
      case 'description':
        out.description = parseDescription(given, value);
        break;
      case VS_NAME_KEY:
      case VGS_NAME_KEY:
        out.snapshotName = value;
        break;
      case VS_NAMESPACE_KEY:
      case VGS_NAMESPACE_KEY:
        out.snapshotNamespace = value;
        break;
      case VSC_NAME_KEY:
      case VGSC_NAME_KEY:
        out.contentName = value;
        break;
    }
  }
  if (expiry) {
    const n = Number(expiry.value);
    if (!/^\d+$/.test(expiry.value.trim()) || n < 1 || n > EXPIRATION_HOURS_MAX)
      bad(expiry.given, expiry.value, `an integer 1-${EXPIRATION_HOURS_MAX}`);
    // An expiring snapshot vanishes from the array by itself: only when the class says so.
    if (!allowExpiry)
      throw invalidArgument(`parameter "${expiry.given}" needs allowExpiry: "true" in the same VolumeSnapshotClass`);
    out.expirationHours = n;
  }
  return out;
}

/** Parses mutable parameters (CreateVolume `mutable_parameters`, ControllerModifyVolume). */
export function parseMutableParameters(params: Readonly<Record<string, string>> = {}): MutableParameters {
  const out: MutableParameters = {};
  for (const [key, { given, value }] of canonical(params, MUTABLE_ALIASES, 'VolumeAttributesClass')) {
    switch (key) {
      case 'provisioningType':
        out.provisioningType = parseEnum(given, value, PROVISIONING_TYPES);
        break;
      case 'cpg':
      case 'snapCpg':
        if (!NAME31.test(value)) bad(given, value, 'a CPG name of at most 31 characters of [A-Za-z0-9._-]');
        out[key] = value;
        break;
      case 'compression':
        out.compression = parseBool(given, value);
        break;
      case 'qosName':
        if (value !== '' && !NAME27.test(value))
          bad(given, value, 'a VV set name of at most 27 characters of [A-Za-z0-9._-], or ""');
        out.qosName = value;
        break;
      case 'description':
        out.description = parseDescription(given, value);
        break;
    }
  }
  if (out.compression === true && out.provisioningType === 'full')
    throw invalidArgument('parameter "compression" needs a thin provisioningType (tpvv, dedup or reduce)');
  return out;
}

/** The values that make two CreateVolume requests "the same": everything but the recorded metadata. */
export function storageClassIdentity(p: StorageClassParameters): Record<string, unknown> {
  const { pvcName: _a, pvcNamespace: _b, pvName: _c, description: _d, ...rest } = p;
  return rest;
}
