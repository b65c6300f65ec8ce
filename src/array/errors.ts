import { DriverError, type DriverErrorKind } from '../errors.js';
import {
  WsapiAbortedError,
  WsapiBaseError,
  WsapiConnectionError,
  WsapiError,
  WsapiCode,
  WsapiPlaceholderCode,
  WsapiProtocolError,
  WsapiTaskError,
} from '../wsapi/errors.js';

/**
 * The one place where WSAPI error codes get a meaning (DESIGN "Layers": WsapiError → the array
 * layer decides → one gRPC table). Operations ask `conditionOf(err)` which condition an error
 * is, and let everything else become a DriverError through `toDriverError`. Never the desc text.
 */
export type ArrayCondition =
  /** The named volume/snapshot does not exist. */
  | 'no-volume'
  /** The named host does not exist. */
  | 'no-host'
  /** The VLUN does not exist. */
  | 'no-vlun'
  /** The VV set does not exist. */
  | 'no-set'
  /** The CPG does not exist. */
  | 'no-cpg'
  /** The task does not exist. */
  | 'no-task'
  /** A volume of that name exists. */
  | 'volume-exists'
  /** A VV set of that name exists. */
  | 'set-exists'
  /** A host of that name exists. */
  | 'host-exists'
  /** An initiator already belongs to another host. */
  | 'path-exists'
  /** The LUN is taken. */
  | 'lun-exists'
  /** The volume still has snapshots (children). */
  | 'has-children'
  /** Exported or in a VV set. */
  | 'in-use'
  /** A host delete while it still has VLUNs. */
  | 'exported'
  /** The volume is the target of a running online copy, or busy in a copy/tune. */
  | 'copy-busy'
  /** Not enough space. */
  | 'no-space'
  /** A size beyond the array's limit. */
  | 'too-large'
  /** The host is a member of a host set (a host delete is refused). */
  | 'host-in-set'
  /** The volume has no snapshot CPG (an imported one): the array refuses snapshots of it. */
  | 'no-snap-cpg'
  /** A conversion of a volume with snapshots without keepVV (400/40 with ref keepVV). */
  | 'needs-keep-vv'
  /** Objects of different virtual domains (a VLUN, a set member, a volume's CPGs). */
  | 'domain'
  /** An array-wide limit (volumes, snapshots, VV ids, a CPG's allocation warning): a 503 other than "unavailable". */
  | 'limit'
  /** The array cannot serve now (sessions, busy, unreachable). */
  | 'unavailable'
  /** Wrong credentials. */
  | 'bad-credentials'
  /** The array user lacks a right. */
  | 'permission'
  /** The caller's signal fired. */
  | 'aborted'
  | 'other';

const BY_CODE = new Map<number, ArrayCondition>([
  [WsapiCode.NON_EXISTENT_VOL, 'no-volume'],
  [WsapiCode.NON_EXISTENT_HOST, 'no-host'],
  [WsapiCode.NON_EXISTENT_VLUN, 'no-vlun'],
  [WsapiCode.NON_EXISTENT_SET, 'no-set'],
  [15 /* NON_EXISTENT_CPG */, 'no-cpg'],
  [WsapiCode.NON_EXISTENT_TASK, 'no-task'],
  [WsapiCode.EXISTENT_VOL, 'volume-exists'],
  [WsapiCode.EXISTENT_HOST, 'host-exists'],
  [WsapiCode.EXISTENT_SET, 'set-exists'],
  [WsapiCode.EXISTENT_PATH, 'path-exists'],
  [WsapiCode.EXISTENT_LUN, 'lun-exists'],
  [WsapiCode.HAS_CHILD, 'has-children'],
  [WsapiCode.HAS_RO_CHILD, 'has-children'],
  [WsapiCode.IN_USE, 'in-use'],
  [WsapiCode.EXPORTED_VLUN, 'exported'],
  [WsapiCode.ONLINE_COPY_TARGET, 'copy-busy'],
  [WsapiCode.VV_BUSY_ONLINE_COPY, 'copy-busy'],
  [WsapiCode.INV_OPERATION_UNSUPPORTED_VV_TYPE, 'copy-busy'],
  [WsapiCode.INV_OPERATION_VLUN_PCOPY_TARGET_VV, 'copy-busy'],
  // Placeholders (REFERENCE §4.4): a tune or conversion holds the volume; any other 409 still reads as a conflict.
  [WsapiPlaceholderCode.INV_OPERATION_VV_TUNE_IN_PROGRESS, 'copy-busy'],
  [WsapiPlaceholderCode.INV_OPERATION_VV_VOLUME_CONV_IN_PROGRESS, 'copy-busy'],
  [WsapiCode.HOST_IN_SET, 'host-in-set'],
  [WsapiCode.VV_NOT_IN_SAME_DOMAIN, 'domain'],
  [WsapiPlaceholderCode.MEMBER_NOT_IN_SAME_DOMAIN, 'domain'],
  [WsapiPlaceholderCode.CPG_NOT_IN_SAME_DOMAIN, 'domain'],
  [WsapiCode.NO_SNAP_CPG, 'no-snap-cpg'],
  [WsapiCode.NO_SPACE, 'no-space'],
  [WsapiCode.VV_NEW_SIZE_EXCEED_CPG_LIMIT, 'no-space'],
  [WsapiCode.TOO_LARGE, 'too-large'],
  [WsapiCode.SVC_UNAVAIL, 'unavailable'],
  [WsapiCode.TOO_BUSY, 'unavailable'],
  [WsapiCode.INV_USER_PASS, 'bad-credentials'],
  [WsapiCode.PERM_DENIED, 'permission'],
]);

/** What an error from the client means for the array layer. */
export function conditionOf(err: unknown): ArrayCondition {
  if (err instanceof WsapiError) {
    const byCode = err.code === undefined ? undefined : BY_CODE.get(err.code);
    if (byCode) return byCode;
    // Code 40 (a required member is missing) naming keepVV: cinder reads the same refusal [S CIN l.3726].
    if (err.code === WsapiCode.INV_INPUT_MISSING_REQUIRED && err.ref === 'keepVV') return 'needs-keep-vv';
    // Only the service-unavailable codes of a 503 (31, 270: in BY_CODE) and a 503 without a code
    // mean "unavailable". The guide answers 503 also for VV_LIMIT_REACHED, SNAPSHOT_LIMIT_REACHED,
    // CPG_ALLOCATION_WARNING_REACHED and VV_ID_LIMIT_REACHED (numbers [U], REFERENCE §4.4): a
    // limit, which retrying does not lift.
    if (err.status === 503) return err.code === undefined ? 'unavailable' : 'limit';
    return 'other';
  }
  if (err instanceof WsapiConnectionError || err instanceof WsapiProtocolError) return 'unavailable';
  if (err instanceof WsapiAbortedError) return 'aborted';
  return 'other';
}

/** True when a 409 refusal is of a kind the array gives while a copy or tune runs (code unknown on 1.3.x). */
export function isConflict(err: unknown): boolean {
  return err instanceof WsapiError && err.status === 409;
}

const KIND: Partial<Record<ArrayCondition, DriverErrorKind>> = {
  'no-volume': 'not-found',
  'no-host': 'not-found',
  'no-vlun': 'not-found',
  'no-set': 'not-found',
  'no-cpg': 'invalid-argument',
  'no-task': 'not-found',
  'volume-exists': 'already-exists',
  'host-exists': 'already-exists',
  'set-exists': 'already-exists',
  'path-exists': 'failed-precondition',
  'lun-exists': 'busy',
  'has-children': 'failed-precondition',
  'in-use': 'failed-precondition',
  exported: 'failed-precondition',
  'copy-busy': 'busy',
  'no-space': 'resource-exhausted',
  limit: 'resource-exhausted',
  'host-in-set': 'failed-precondition',
  'no-snap-cpg': 'failed-precondition',
  'needs-keep-vv': 'failed-precondition',
  domain: 'failed-precondition',
  'too-large': 'out-of-range',
  unavailable: 'unavailable',
  'bad-credentials': 'unavailable',
  permission: 'failed-precondition',
  aborted: 'cancelled',
};

/**
 * Turns anything an array operation threw into a DriverError naming the backend and what was
 * being done. DriverErrors pass through unchanged. Credentials never appear in messages.
 */
export function toDriverError(err: unknown, backendId: string, doing: string): DriverError {
  if (err instanceof DriverError) return err;
  const condition = conditionOf(err);
  if (condition === 'bad-credentials') {
    return new DriverError(
      'unavailable',
      `backend ${backendId} rejected the driver's user name or password while ${doing}; fix that backend in the backends file (the driver does not retry, to avoid locking the account)`,
      { cause: err },
    );
  }
  if (err instanceof WsapiTaskError) {
    const kind: DriverErrorKind = err.reason === 'timeout' ? 'busy' : 'internal';
    return new DriverError(kind, `backend ${backendId}: array task ${err.taskId} ${err.reason} while ${doing}`, {
      cause: err,
    });
  }
  const detail = err instanceof WsapiBaseError ? err.message : err instanceof Error ? err.message : String(err);
  const kind = KIND[condition] ?? 'internal';
  const prefix =
    condition === 'unavailable'
      ? `backend ${backendId} is unavailable while ${doing}; retry later`
      : `backend ${backendId}: ${doing} failed`;
  return new DriverError(kind, `${prefix}: ${detail}`, { cause: err, details: { backend: backendId, condition } });
}
