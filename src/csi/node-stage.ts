import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import { alreadyExists, failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import type { Connector, Protocol, VolumeIdentity, AttachedDevice } from '../host/connector.js';
import type { Exec } from '../host/exec.js';
import { DEFAULT_FS, fsMountOptions, mkfs, probeDevice, ProbeError, setReadOnly, type Probe } from '../host/fs.js';
import { isReadOnlyMount, type Mounter, type MountInfo, type MountTable } from '../host/mounts.js';
import type { StateStore, VolumeRecord } from '../host/state.js';
import type { Sysfs } from '../host/sysfs.js';
import type { StageRequest } from './node-validate.js';

/** What stage and unstage need from the node plugin. */
export interface NodeDeps {
  store: StateStore;
  mounter: Mounter;
  exec: Exec;
  sys: Sysfs;
  connectors: Readonly<Record<Protocol, Connector>>;
}

export interface StepOptions {
  log: Logger;
  signal: AbortSignal;
  /**
   * The RPC's snapshot of the mount table (Mounter.snapshot()): read once, by the path rules
   * first, and again only after a mount or unmount. Not for a connector's detach: removing a
   * device checks it unused on a fresh read (another process may have mounted it since).
   */
  mounts: MountTable;
}

/** The identity a connector needs, taken from a record. */
export function identityOf(rec: VolumeRecord): VolumeIdentity {
  return {
    protocol: rec.protocol,
    wwn: rec.wwn,
    lun: rec.lun,
    iscsiTargets: rec.iscsiTargets,
    fcTargets: rec.fcTargets,
    wwid: rec.wwid,
    backingFile: rec.backingFile,
  };
}

/** "major:minor" of a block device node, as mountinfo shows it. */
export async function majorMinorOf(path: string): Promise<string> {
  const rdev = (await stat(path, { bigint: true })).rdev;
  // Linux dev_t (glibc gnu_dev_major/minor): major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** "major:minor" of every device that is this volume now, as sysfs reports them. */
export async function volumeMajorMinors(d: NodeDeps, id: VolumeIdentity): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of await d.connectors[id.protocol].deviceNames(id)) {
    const mm = await d.sys.read(`block/${name}/dev`);
    if (mm) out.add(mm);
  }
  return out;
}

/**
 * NodeStageVolume: record → attach → verify → (filesystem) blank test → format only a blank,
 * created-empty, writable volume → mount → owner/mode after the first format. Each step is
 * recorded before the next, so a retry resumes and NodeUnstage knows what to undo.
 */
export async function stageVolume(d: NodeDeps, r: StageRequest, o: StepOptions): Promise<void> {
  const previous = await d.store.load(r.volumeId);
  if (previous) checkCompatible(previous, r, await o.mounts.read());
  const rec: VolumeRecord = {
    v: 1,
    volumeId: r.volumeId,
    stagingPath: r.stagingPath,
    ...r.identity,
    wwid: previous?.wwid,
    backingFile: previous?.backingFile,
    access: r.capability.access,
    fsType: previous?.fsType,
    readOnly: r.readOnly,
    steps: previous?.steps ?? {},
    publishes: previous?.publishes ?? [],
    // A format this driver started from blank on this very LUN, and never finished.
    formatting: previous?.formatting && previous.wwn === r.identity.wwn ? previous.formatting : undefined,
  };
  // DESIGN "Node safety": the record exists before the first host change.
  await d.store.save(rec);
  const device = await d.connectors[rec.protocol].attach(r.identity, r.chap, r.readOnly, o);
  rec.wwid = device.wwid ?? rec.wwid;
  rec.backingFile = device.backingFile;
  rec.steps.attached = true;
  await d.store.save(rec);
  o.log.info({ device: device.path }, 'volume attached');
  if (r.readOnly) {
    // blockdev --setro <device>: nothing on this node may write to a shared or read-only LUN.
    await setReadOnly(d.exec, device.path);
  }
  if (r.capability.access === 'block') return;
  // A new snapshot: the attach (an iSCSI login, device discovery) took up to seconds, in which
  // another process may have mounted at the staging path; that must not be mounted over.
  await stageFilesystem(d, r, rec, device, { ...o, mounts: d.mounter.snapshot() });
}

/** A record from an earlier stage must describe the same request, else the volume is staged differently. */
function checkCompatible(prev: VolumeRecord, r: StageRequest, mounts: readonly MountInfo[]): void {
  const stillStaged = prev.steps.attached === true;
  if (prev.stagingPath !== r.stagingPath && mounts.some((m) => m.target === prev.stagingPath)) {
    throw failedPrecondition(`volume ${r.volumeId} is already staged at ${prev.stagingPath}`);
  }
  // A requested filesystem type differing from the one mounted is incompatible too (an empty
  // fs_type accepts whatever the volume holds).
  const otherFs =
    r.capability.access === 'mount' &&
    r.capability.fsType !== undefined &&
    prev.fsType !== undefined &&
    prev.fsType !== r.capability.fsType;
  if (
    stillStaged &&
    (prev.access !== r.capability.access || prev.readOnly !== r.readOnly || prev.wwn !== r.identity.wwn || otherFs)
  ) {
    // CSI NodeStageVolume: staged with an incompatible capability → ALREADY_EXISTS.
    throw alreadyExists(
      `volume ${r.volumeId} is staged as ${prev.access}${prev.fsType ? ` (${prev.fsType})` : ''}${prev.readOnly ? ' read-only' : ''}; unstage it before staging it differently`,
    );
  }
}

async function stageFilesystem(
  d: NodeDeps,
  r: StageRequest,
  rec: VolumeRecord,
  device: AttachedDevice,
  o: StepOptions,
): Promise<void> {
  const current = await o.mounts.at(r.stagingPath);
  if (current) return adoptMount(d, r, rec, current, o);
  const fsType = await filesystemOf(d, r, rec, device, o);
  await mkdir(r.stagingPath, { recursive: true });
  const options = [
    ...fsMountOptions(fsType, r.readOnly, r.isCopy),
    ...r.capability.mountFlags.filter((f) => !(r.readOnly && f === 'ro')),
  ];
  await d.mounter.mount(device.path, r.stagingPath, fsType, options);
  rec.fsType = fsType;
  rec.steps.mounted = true;
  await d.store.save(rec);
  o.log.info({ device: device.path, fsType, options }, 'volume mounted at staging path');
  await finishFirstFormat(d, r, rec, o);
}

/** The staging path holds a mount already: this volume's, as asked (a repeated stage), else ALREADY_EXISTS. */
async function adoptMount(
  d: NodeDeps,
  r: StageRequest,
  rec: VolumeRecord,
  current: MountInfo,
  o: StepOptions,
): Promise<void> {
  const ours = await volumeMajorMinors(d, identityOf(rec));
  // CSI NodeStageVolume repeated with the same arguments: the volume is already mounted here.
  if (!ours.has(current.majorMinor) || isReadOnlyMount(current) !== r.readOnly) {
    throw alreadyExists(
      `${r.stagingPath} already holds another mount (${current.source}, ${isReadOnlyMount(current) ? 'ro' : 'rw'})`,
    );
  }
  // A kill between the mount and the record's save leaves the record without these.
  if (rec.fsType !== current.fsType || !rec.steps.mounted) {
    rec.fsType = current.fsType;
    rec.steps.mounted = true;
    await d.store.save(rec);
  }
  await finishFirstFormat(d, r, rec, o);
}

/**
 * The filesystem to mount: the one the device holds (of the requested type), or one made now
 * on a device proven blank, of a writable volume this driver created empty (DESIGN "Node safety").
 */
async function filesystemOf(
  d: NodeDeps,
  r: StageRequest,
  rec: VolumeRecord,
  device: AttachedDevice,
  o: StepOptions,
): Promise<string> {
  // DESIGN "Node safety": killed during its own mkfs of this device, proven blank then; the
  // half-made filesystem (xfs "inprogress", ext4 without its superblock) is made again (forced).
  const again = rec.formatting !== undefined;
  if (again)
    o.log.warn(
      { device: device.path, fsType: rec.formatting?.fsType },
      'the driver was stopped while formatting this blank volume; formatting it again',
    );
  const probe = again ? ({ kind: 'blank' } as const) : await probeForFormat(d, r, device, o);
  if (probe.kind === 'other')
    throw failedPrecondition(
      `volume ${r.volumeId} holds ${probe.what}, not a filesystem; refusing to format or mount it`,
    );
  if (probe.kind === 'filesystem') {
    if (r.capability.fsType && r.capability.fsType !== probe.fsType) {
      throw failedPrecondition(
        `volume ${r.volumeId} holds ${probe.fsType}, not the requested ${r.capability.fsType}; refusing to reformat it`,
      );
    }
    return probe.fsType;
  }
  if (r.readOnly) throw failedPrecondition(`volume ${r.volumeId} has no filesystem and is read-only; nothing to mount`);
  if (r.isCopy)
    throw failedPrecondition(
      `volume ${r.volumeId} is a copy but has no filesystem (its source had none?); refusing to format it`,
    );
  if (!r.createdEmpty)
    throw failedPrecondition(
      `volume ${r.volumeId} has no filesystem and was not created empty by this driver (static or imported); refusing to format it`,
    );
  const fsType = r.capability.fsType ?? DEFAULT_FS;
  // "formatting started" before mkfs, cleared with "formatted": a kill in between formats this device again.
  rec.formatting = { fsType, blankCheck: 'blank' };
  await d.store.save(rec);
  o.log.info({ device: device.path, fsType, options: r.mkfsExtra }, 'formatting blank volume');
  await mkfs(d.exec, device.path, { fsType, extra: r.mkfsExtra, force: again });
  rec.steps.formatted = true;
  rec.steps.ownerApplied = false;
  delete rec.formatting;
  await d.store.save(rec);
  return fsType;
}

/** What the device holds; anything but a proven blank device or a filesystem is a probe error: fail, never format. */
async function probeForFormat(d: NodeDeps, r: StageRequest, device: AttachedDevice, o: StepOptions): Promise<Probe> {
  try {
    return await probeDevice(d.exec, device.path, o.signal);
  } catch (err) {
    if (err instanceof ProbeError)
      throw failedPrecondition(`${err.message}; not formatting volume ${r.volumeId}`, { cause: err });
    throw err;
  }
}

/** fsOwner/fsMode apply once, right after the driver's own format (a retry after a crash too). */
async function finishFirstFormat(d: NodeDeps, r: StageRequest, rec: VolumeRecord, o: StepOptions): Promise<void> {
  if (!rec.steps.formatted || rec.steps.ownerApplied !== false || r.readOnly) return;
  if (r.fsOwner) await chown(r.stagingPath, r.fsOwner.uid, r.fsOwner.gid);
  if (r.fsMode !== undefined) await chmod(r.stagingPath, r.fsMode);
  rec.steps.ownerApplied = true;
  await d.store.save(rec);
  if (r.fsOwner || r.fsMode !== undefined)
    o.log.info({ fsOwner: r.fsOwner, fsMode: r.fsMode?.toString(8) }, 'filesystem root owner and mode set');
}
