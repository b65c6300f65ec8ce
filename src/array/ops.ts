import type { Logger } from '../log.js';
import { failedPrecondition } from '../errors.js';
import type { Volume } from '../wsapi/types.js';
import type { VolumeSummary } from '../wsapi/resources/volumes.js';
import { CopyType, ObjectState, VolumeDetailedState } from '../wsapi/enums.js';
import { ownHelperMark, parseVolumeMarker, ownedBy, type VolumeMarker } from './marker.js';

/** Who owns what the driver creates: markers carry both (DESIGN "Names and ownership"). */
export interface Owner {
  driverName: string;
  clusterId: string;
}

/** What every array operation receives besides its arguments. */
export interface OpContext {
  owner: Owner;
  log: Logger;
  /** The RPC's deadline: stops waits (copy tasks, retries), never a change already sent. */
  signal: AbortSignal;
}

/** A volume's marker, when this cluster owns it (a stopped copy's helper is no CSI object: see ownHelperMarker). */
export function ownMarker(v: VolumeSummary, owner: Owner): VolumeMarker | undefined {
  const m = parseVolumeMarker(v.comment);
  return ownedBy(m, owner.driverName, owner.clusterId) && m.h === undefined ? m : undefined;
}

/**
 * The marker of an online copy's helper snapshot that this cluster marked before deleting the
 * copy's destination (HelperMarker): the proof that it is this cluster's to delete. Returns the
 * destination's name it records.
 */
export function ownHelperMarker(v: VolumeSummary, owner: Owner): string | undefined {
  return isSnapshot(v) ? ownHelperMark(v.comment, owner) : undefined;
}

/** True for a snapshot (virtual copy). */
export function isSnapshot(v: VolumeSummary): boolean {
  return v.copyType === CopyType.VIRTUAL_COPY;
}

/** True while the volume is the destination of a running physical copy. */
export function isCopyTarget(v: VolumeSummary): boolean {
  return v.copyType === CopyType.PHYSICAL_COPY || (v.additionalStates ?? []).includes(VolumeDetailedState.COPY_TARGET);
}

/** CSI VolumeCondition from the array's state (DEGRADED / FAILED are abnormal). */
export function conditionOfVolume(v: VolumeSummary): { abnormal: boolean; message: string } {
  if (v.state === ObjectState.FAILED)
    return {
      abnormal: true,
      message: `the array reports volume ${v.name} failed (states ${JSON.stringify(v.failedStates ?? [])})`,
    };
  if ((v.failedStates ?? []).length > 0)
    return {
      abnormal: true,
      message: `the array reports failed states ${JSON.stringify(v.failedStates)} on volume ${v.name} (9 = a copy into it failed)`,
    };
  if (v.state === ObjectState.DEGRADED)
    return {
      abnormal: true,
      message: `the array reports volume ${v.name} degraded (states ${JSON.stringify(v.degradedStates ?? [])})`,
    };
  return { abnormal: false, message: 'volume is normal' };
}

/**
 * A volume the array reports failed (a clone whose copy failed after CreateVolume returned:
 * `failedStates` [9], state FAILED) is no source of a publish, snapshot or copy:
 * FAILED_PRECONDITION naming the state.
 */
export function refuseFailed(v: Volume): void {
  const failedStates = v.failedStates ?? [];
  if (v.state !== ObjectState.FAILED && failedStates.length === 0) return;
  throw failedPrecondition(
    `volume ${v.name} is failed on the array (state ${v.state ?? '?'}, failed states ${JSON.stringify(failedStates)}; 9 = a copy into it failed): delete it and create it again`,
  );
}

/**
 * An operation that reads from `v` (CreateSnapshot, CreateVolume from it, a group snapshot)
 * needs this cluster's marker (an imported volume has one): FAILED_PRECONDITION otherwise, so
 * that nothing made from a foreign volume is ever marked as the driver's own (issue 14 finding 6).
 */
export function requireOwnedSource(v: Volume, owner: Owner): VolumeMarker {
  const m = ownMarker(v, owner);
  if (!m)
    throw failedPrecondition(
      `${v.name} does not carry this cluster's marker; the driver reads only its own volumes (import a static volume first: volumeAttributes import: "true")`,
    );
  refuseFailed(v);
  return m;
}
