import { invalidArgument } from '../errors.js';
import { PublishContext, VolumeContext } from './context.js';
import { DEFAULT_FS, SUPPORTED_FS, type FsType } from '../host/fs.js';
import { checkMkfsOptionsForSomeFs, parseMkfsOptions } from '../host/mkfs-options.js';
import { FS_MODE_FORM, FS_OWNER_FORM, parseFsMode, parseFsOwner } from '../host/owner.js';
import { PROTOCOLS, type Chap, type Protocol } from '../host/connector.js';
import type { VolumeIdentity } from '../host/connector.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';
import type { NodeStageVolumeRequest__Output } from '../gen/csi/v1/NodeStageVolumeRequest.js';
import type { NodeUnstageVolumeRequest__Output } from '../gen/csi/v1/NodeUnstageVolumeRequest.js';
import type { NodePublishVolumeRequest__Output } from '../gen/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from '../gen/csi/v1/NodeUnpublishVolumeRequest.js';
import type { NodeExpandVolumeRequest__Output } from '../gen/csi/v1/NodeExpandVolumeRequest.js';
import type { NodeGetVolumeStatsRequest__Output } from '../gen/csi/v1/NodeGetVolumeStatsRequest.js';
import { wwnForArray, wwnForHost } from '../util/wwn.js';

/** Access modes in which a volume is only read. */
const READER_MODES = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY']);
/**
 * Mount options (by name, before any "=") that would change what the driver's mount means or what
 * it mounts: the driver sets bind/remount itself; loop options (mount(8): loop, offset, sizelimit)
 * would attach something else; helper=/uhelper= (mount(8)) run /sbin/mount.<type> or
 * /sbin/umount.<type>; X-mount.* (util-linux) creates or chowns paths and maps ids; and
 * the options that name another device for the filesystem's log or journal (xfs(5) logdev=,
 * rtdev=; ext4(5) journal_path=, journal_dev=): a filesystem with an external log, which a tenant
 * can write into a raw block volume and clone, makes the kernel write its log there (an xfs
 * mounted with logdev=<a blank loop device> wrote to that device on this project's test kernel).
 */
const FORBIDDEN_FLAGS = new Set([
  'bind',
  'rbind',
  'remount',
  'move',
  'loop',
  'offset',
  'sizelimit',
  'encryption',
  'helper',
  'uhelper',
  'logdev',
  'rtdev',
  'journal_path',
  'journal_dev',
]);
/** ext4 errors=panic: a damaged (or crafted) filesystem would crash the node (mkfs -e panic is refused too). */
const FORBIDDEN_OPTIONS = new Set(['errors=panic']);
/** Highest LUN a 3PAR VLUN can use. */
const MAX_LUN = 16383;
/** Secret keys the node reads from the node-stage secret; any other key is ignored. */
export const CHAP_USER_KEY = 'chapUser';
export const CHAP_SECRET_KEY = 'chapSecret';
/** HPE's CSI driver names the CHAP secret `chapPassword`: accepted as another name of chapSecret. */
export const CHAP_SECRET_ALIAS = 'chapPassword';

/** A volume capability as the node uses it. */
export interface Capability {
  access: 'mount' | 'block';
  mode: string;
  /** Requested filesystem; undefined when the capability left it empty (then: existing one, or ext4 for a new one). */
  fsType?: FsType;
  mountFlags: string[];
}

export interface StageRequest {
  volumeId: string;
  stagingPath: string;
  capability: Capability;
  readOnly: boolean;
  identity: VolumeIdentity;
  chap?: Chap;
  createdEmpty: boolean;
  isCopy: boolean;
  mkfsExtra: string[];
  fsOwner?: { uid: number; gid: number };
  fsMode?: number;
}

export interface PublishRequest {
  volumeId: string;
  stagingPath: string;
  targetPath: string;
  capability: Capability;
  readOnly: boolean;
}

export interface ExpandRequest {
  volumeId: string;
  volumePath: string;
  requiredBytes: bigint;
  /** The capability's access type, when the request carries one (else the record's). */
  access?: 'mount' | 'block';
}

function required(value: string | undefined, field: string): string {
  if (!value) throw invalidArgument(`${field} is required`);
  return value;
}

/** Linux limits: PATH_MAX (with its NUL) and NAME_MAX bytes. */
const PATH_MAX_BYTES = 4095;
const NAME_MAX_BYTES = 255;

function absolutePath(value: string | undefined, field: string): string {
  const v = required(value, field);
  if (!v.startsWith('/') || v.includes('\0') || v.split('/').includes('..'))
    throw invalidArgument(`${field} must be an absolute path without ".."`);
  // Paths the kernel would refuse (ENAMETOOLONG) are malformed requests, not internal errors.
  if (Buffer.byteLength(v) > PATH_MAX_BYTES || v.split('/').some((c) => Buffer.byteLength(c) > NAME_MAX_BYTES)) {
    throw invalidArgument(
      `${field} is longer than the kernel allows (${PATH_MAX_BYTES} bytes, ${NAME_MAX_BYTES} per component)`,
    );
  }
  return v.length > 1 ? v.replace(/\/+$/, '') : v;
}

/** Parses a VolumeCapability; INVALID_ARGUMENT names what is missing or unsupported. */
export function parseCapability(cap: VolumeCapability__Output | null | undefined, readOnlyStage = false): Capability {
  if (!cap) throw invalidArgument('volume_capability is required');
  const mode = cap.access_mode?.mode;
  if (!mode || mode === 'UNKNOWN') throw invalidArgument('volume_capability.access_mode is required');
  if (cap.block) return { access: 'block', mode, mountFlags: [] };
  if (!cap.mount) throw invalidArgument('volume_capability needs access_type block or mount');
  const fs = cap.mount.fs_type;
  if (fs && !(SUPPORTED_FS as readonly string[]).includes(fs))
    throw invalidArgument(`fs_type "${fs}" is not supported (use ${SUPPORTED_FS.join(' or ')})`);
  const flags = cap.mount.mount_flags ?? [];
  for (const f of flags) {
    if (!f || /[\s\0]/.test(f)) throw invalidArgument(`mount flag "${f}" is empty or contains whitespace`);
    // mount(8) joins the flags with commas into one -o list: each comma-separated option counts.
    for (const opt of f.split(',')) {
      const name = opt.split('=')[0]!.toLowerCase();
      if (opt === '') throw invalidArgument(`mount flag "${f}" holds an empty option`);
      if (FORBIDDEN_FLAGS.has(name) || FORBIDDEN_OPTIONS.has(opt.toLowerCase()) || name.startsWith('x-mount.'))
        throw invalidArgument(`mount flag "${f}" is not allowed (it holds "${opt}")`);
      if (readOnlyStage && opt === 'rw')
        throw invalidArgument(`mount flag "${f}" contradicts a read-only volume (it holds "rw")`);
    }
  }
  return { access: 'mount', mode, fsType: (fs || undefined) as FsType | undefined, mountFlags: flags };
}

export function isReaderMode(mode: string): boolean {
  return READER_MODES.has(mode);
}

/** The publish_context facts the connectors need. */
export function parsePublishContext(pc: Record<string, string>): VolumeIdentity {
  const protocol = pc[PublishContext.protocol] as Protocol | undefined;
  if (!protocol || !PROTOCOLS.includes(protocol))
    throw invalidArgument(`publish_context.${PublishContext.protocol} must be one of ${PROTOCOLS.join(', ')}`);
  const wwn = pc[PublishContext.wwn] ?? '';
  if (!/^[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?$/.test(wwn))
    throw invalidArgument(`publish_context.${PublishContext.wwn} must be a 16- or 32-digit hex WWN`);
  const lunText = pc[PublishContext.lun] ?? '';
  const lun = Number(lunText);
  if (!/^\d{1,5}$/.test(lunText) || lun > MAX_LUN)
    throw invalidArgument(`publish_context.${PublishContext.lun} must be a LUN number 0-${MAX_LUN}`);
  const id: VolumeIdentity = { protocol, wwn: wwnForArray(wwn), lun };
  if (protocol === 'iscsi') {
    const iqns = list(pc[PublishContext.targetIqns]);
    const portals = list(pc[PublishContext.targetPortals]);
    if (iqns.length === 0 || iqns.length !== portals.length)
      throw invalidArgument(
        `publish_context needs as many ${PublishContext.targetIqns} as ${PublishContext.targetPortals} (at least one)`,
      );
    if (!iqns.every(isIscsiName))
      throw invalidArgument(`publish_context.${PublishContext.targetIqns} holds an invalid IQN`);
    if (!portals.every((p) => /^(\[[0-9A-Fa-f:]+\]|[0-9A-Za-z.-]+)(:\d{1,5})?$/.test(p)))
      throw invalidArgument(`publish_context.${PublishContext.targetPortals} holds an invalid portal`);
    id.iscsiTargets = iqns.map((iqn, i) => ({ iqn, portal: portals[i]! }));
  } else if (protocol === 'fc') {
    const wwns = list(pc[PublishContext.targetWwns]).map(wwnForHost);
    if (wwns.length === 0 || !wwns.every((w) => /^[0-9a-f]{16}$/.test(w)))
      throw invalidArgument(`publish_context.${PublishContext.targetWwns} must list 16-digit hex port WWNs`);
    id.fcTargets = wwns;
  }
  return id;
}

/**
 * An iSCSI name (RFC 3720 3.2.6): iqn.<yyyy-mm>.<reversed domain>[:<anything>] of letters, digits,
 * '-', '.', ':' (at most 223 bytes), eui.<16 hex> or naa.<16 or 32 hex>. iscsiadm names its node
 * record directory after it (/etc/iscsi/nodes/<IQN>/...): nothing else, "/" above all, may pass.
 */
function isIscsiName(q: string): boolean {
  return (
    q.length <= 223 &&
    /^(iqn\.\d{4}-\d{2}\.[A-Za-z0-9][A-Za-z0-9.:-]*|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?)$/.test(
      q,
    )
  );
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** ASCII control characters (C0 and DEL): matching them is the point here. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

/** CHAP from the node-stage secret: both keys or neither. */
export function parseChap(secrets: Record<string, string> | undefined): Chap | undefined {
  const user = secrets?.[CHAP_USER_KEY];
  const given = secrets?.[CHAP_SECRET_KEY];
  const alias = secrets?.[CHAP_SECRET_ALIAS];
  if (given && alias && given !== alias)
    throw invalidArgument(
      `the node-stage secret holds both ${CHAP_SECRET_KEY} and ${CHAP_SECRET_ALIAS} with different values; keep one`,
    );
  const secret = given || alias;
  if (!user && !secret) return undefined;
  if (!user || !secret)
    throw invalidArgument(`the node-stage secret must hold both ${CHAP_USER_KEY} and ${CHAP_SECRET_KEY}, or neither`);
  // iscsiadm stores each setting as a "name = value" line of the node record: a line break in a
  // value would be read back as another setting. (The value itself is never echoed.)
  if (CONTROL_CHARS.test(user) || CONTROL_CHARS.test(secret))
    throw invalidArgument(
      `the node-stage secret's ${CHAP_USER_KEY} or ${CHAP_SECRET_KEY} holds a control character (a line break?)`,
    );
  return { user, secret };
}

export function validateNodeStageVolumeRequest(req: NodeStageVolumeRequest__Output): StageRequest {
  const volumeId = required(req.volume_id, 'volume_id');
  const stagingPath = absolutePath(req.staging_target_path, 'staging_target_path');
  const pc = req.publish_context ?? {};
  const vc = req.volume_context ?? {};
  const mode = req.volume_capability?.access_mode?.mode;
  const readOnly = pc[PublishContext.readonly] === 'true' || (typeof mode === 'string' && isReaderMode(mode));
  const capability = parseCapability(req.volume_capability, readOnly);
  const identity = parsePublishContext(pc);
  const out: StageRequest = {
    volumeId,
    stagingPath,
    capability,
    readOnly,
    identity,
    chap: parseChap(req.secrets),
    createdEmpty: vc[VolumeContext.createdEmpty] === 'true',
    isCopy: vc[VolumeContext.isCopy] === 'true',
    mkfsExtra: [],
  };
  const opts = vc[VolumeContext.fsCreateOptions];
  if (opts) {
    // Checked again here: a static PV sets volume_context itself, without CreateVolume (DESIGN).
    const where = `volume_context.${VolumeContext.fsCreateOptions}`;
    if (capability.access === 'mount') out.mkfsExtra = parseMkfsOptions(opts, capability.fsType ?? DEFAULT_FS, where);
    else checkMkfsOptionsForSomeFs(opts, where);
  }
  const owner = vc[VolumeContext.fsOwner];
  if (owner) {
    out.fsOwner = parseFsOwner(owner);
    if (!out.fsOwner) throw invalidArgument(`volume_context.${VolumeContext.fsOwner} must be ${FS_OWNER_FORM}`);
  }
  const fsMode = vc[VolumeContext.fsMode];
  if (fsMode) {
    out.fsMode = parseFsMode(fsMode);
    if (out.fsMode === undefined)
      throw invalidArgument(`volume_context.${VolumeContext.fsMode} must be ${FS_MODE_FORM}`);
  }
  return out;
}

export function validateNodeUnstageVolumeRequest(req: NodeUnstageVolumeRequest__Output): {
  volumeId: string;
  stagingPath: string;
} {
  return {
    volumeId: required(req.volume_id, 'volume_id'),
    stagingPath: absolutePath(req.staging_target_path, 'staging_target_path'),
  };
}

export function validateNodePublishVolumeRequest(req: NodePublishVolumeRequest__Output): PublishRequest {
  const volumeId = required(req.volume_id, 'volume_id');
  // The driver advertises STAGE_UNSTAGE_VOLUME, so kubelet always passes the staging path.
  const stagingPath = absolutePath(req.staging_target_path, 'staging_target_path');
  const targetPath = absolutePath(req.target_path, 'target_path');
  const capability = parseCapability(req.volume_capability);
  const pc = req.publish_context ?? {};
  const readOnly = req.readonly === true || pc[PublishContext.readonly] === 'true' || isReaderMode(capability.mode);
  return { volumeId, stagingPath, targetPath, capability, readOnly };
}

export function validateNodeUnpublishVolumeRequest(req: NodeUnpublishVolumeRequest__Output): {
  volumeId: string;
  targetPath: string;
} {
  return { volumeId: required(req.volume_id, 'volume_id'), targetPath: absolutePath(req.target_path, 'target_path') };
}

export function validateNodeExpandVolumeRequest(req: NodeExpandVolumeRequest__Output): ExpandRequest {
  const volumeId = required(req.volume_id, 'volume_id');
  // Not checked for being absolute here: a path that is not where the volume is staged or
  // published is NOT_FOUND (CSI: "volume does not exist on the specified volume_path").
  const volumePath = required(req.volume_path, 'volume_path');
  const requiredBytes = BigInt(req.capacity_range?.required_bytes || '0');
  if (requiredBytes < 0n) throw invalidArgument('capacity_range.required_bytes must not be negative');
  const access = req.volume_capability ? parseCapability(req.volume_capability).access : undefined;
  return { volumeId, volumePath, requiredBytes, access };
}

export function validateNodeGetVolumeStatsRequest(req: NodeGetVolumeStatsRequest__Output): {
  volumeId: string;
  volumePath: string;
} {
  // As for NodeExpandVolume: a path that is not this volume's is NOT_FOUND, found by the handler.
  return { volumeId: required(req.volume_id, 'volume_id'), volumePath: required(req.volume_path, 'volume_path') };
}
