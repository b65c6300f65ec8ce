/**
 * The simulator's error vocabulary: one table of WSAPI error names with their HTTP status and
 * numeric code (REFERENCE.md §4). Confirmed numbers are copied from the reference; names whose
 * numbers were never recovered ([U] in the reference) use placeholders in the 9000 range, which
 * never collide with a confirmed number and can be overridden per simulator (`errorCodes`) once a
 * real array log shows the true value.
 */

export interface ErrorDef {
  status: number;
  code: number;
  desc: string;
}

/** Every error the simulator can answer with, by WSAPI symbolic name. */
export const ERRORS = {
  // §4.1 generic codes
  INT_SERV_ERR: { status: 500, code: 1, desc: 'internal server error' },
  INPUT_TOO_LONG: { status: 413, code: 4, desc: 'request too long' },
  INV_USER_PASS: { status: 403, code: 5, desc: 'invalid username or password' },
  INV_SESS_KEY: { status: 403, code: 6, desc: 'invalid session key' },
  UNSUP_HTTP: { status: 505, code: 8, desc: 'HTTP version not supported' },
  UNSUP_OP: { status: 501, code: 9, desc: 'operation not supported on this resource' },
  URI_RES_NOT_FOUND: { status: 404, code: 11, desc: 'resource not found' },
  PERM_DENIED: { status: 403, code: 13, desc: 'permission denied' },
  NON_EXISTENT_HOST: { status: 404, code: 17, desc: 'host does not exist' },
  TOO_LARGE: { status: 400, code: 28, desc: 'value too large' },
  SVC_UNAVAIL: { status: 503, code: 31, desc: 'service unavailable: no more sessions can be accepted' },
  IN_USE: { status: 409, code: 34, desc: 'object is in use' },
  UNSUP_REPRESENTATION: { status: 406, code: 35, desc: 'requested representation not supported' },
  UNSUP_LANGUAGE: { status: 406, code: 36, desc: 'requested language not supported' },
  NON_EXISTENT_DOMAIN: { status: 404, code: 38, desc: 'domain does not exist' },
  INV_INPUT_WRONG_TYPE: { status: 400, code: 39, desc: 'invalid input: wrong type' },
  INV_INPUT_MISSING_REQUIRED: { status: 400, code: 40, desc: 'invalid input: missing required member' },
  UNSUP_CONTENT: { status: 415, code: 51, desc: 'unsupported content type' },
  INV_INPUT_NOT_JSON_OBJ: { status: 400, code: 52, desc: 'invalid input: not a JSON object' },
  INV_URL_PERCENT_ENCODING: { status: 400, code: 56, desc: 'invalid percent encoding in URL' },
  INV_INPUT_EXCEEDS_LENGTH: { status: 400, code: 57, desc: 'invalid input: exceeds length' },
  JSON_SYNTAX_ERR: { status: 400, code: 60, desc: 'JSON syntax error' },
  // §4.2 / §4.3 operation codes with known numbers
  INV_INPUT: { status: 400, code: 12, desc: 'invalid input' },
  EXISTENT_CPG: { status: 409, code: 14, desc: 'CPG exists' },
  NON_EXISTENT_CPG: { status: 404, code: 15, desc: 'CPG does not exist' },
  EXISTENT_HOST: { status: 409, code: 16, desc: 'host exists' },
  EXISTENT_LUN: { status: 409, code: 18, desc: 'LUN already in use' },
  NON_EXISTENT_VLUN: { status: 404, code: 19, desc: 'VLUN does not exist' },
  NON_EXISTENT_PORT: { status: 404, code: 20, desc: 'port does not exist' },
  BAD_PORT_TYPE: { status: 404, code: 21, desc: 'bad port type' },
  EXISTENT_VOL: { status: 409, code: 22, desc: 'volume exists' },
  NON_EXISTENT_VOL: { status: 404, code: 23, desc: 'volume does not exist' },
  NO_SPACE: { status: 400, code: 24, desc: 'not enough space' },
  HAS_RO_CHILD: { status: 409, code: 25, desc: 'volume has read-only child' },
  EXPORTED_VLUN: { status: 409, code: 26, desc: 'object is exported' },
  ONLINE_COPY_TARGET_DELETE: { status: 400, code: 29, desc: 'volume is the target of an online copy' },
  HAS_CHILD: { status: 409, code: 32, desc: 'volume has children' },
  INV_INPUT_EXCEEDS_RANGE: { status: 400, code: 43, desc: 'invalid input: number exceeds range' },
  INV_INPUT_PARAM_CONFLICT: { status: 400, code: 44, desc: 'invalid input: parameters conflict' },
  INV_INPUT_EMPTY_STR: { status: 400, code: 45, desc: 'invalid input: empty string' },
  INV_INPUT_BAD_ENUM_VALUE: { status: 400, code: 46, desc: 'invalid input: bad enum value' },
  INV_INPUT_PORT_SPECIFICATION: { status: 400, code: 55, desc: 'invalid port specification' },
  EXISTENT_ID: { status: 409, code: 59, desc: 'id exists' },
  INV_INPUT_ILLEGAL_CHAR: { status: 400, code: 69, desc: 'invalid input: illegal character' },
  EXISTENT_PATH: { status: 409, code: 73, desc: 'initiator path belongs to another host' },
  HOST_IN_SET: { status: 409, code: 77, desc: 'host is a member of a host set' },
  INV_INPUT_ONE_REQUIRED: { status: 400, code: 78, desc: 'invalid input: one of the members is required' },
  NON_EXISTENT_PATH: { status: 400, code: 80, desc: 'path does not exist on the host' },
  INV_OPERATION_VV_ZERO_DETECT_TPVV: { status: 403, code: 91, desc: 'zero detect applies to thin volumes only' },
  INV_OPERATION_VLUN_PCOPY_TARGET_VV: { status: 409, code: 97, desc: 'volume is a physical copy target' },
  INV_INPUT_DUP_PATH: { status: 400, code: 98, desc: 'duplicate path' },
  LUN_HOSTPERSONA_CONFLICT: { status: 409, code: 99, desc: 'LUN conflicts with host persona' },
  NON_EXISTENT_QOS_RULE: { status: 404, code: 100, desc: 'QoS rule does not exist' },
  EXISTENT_SET: { status: 400, code: 101, desc: 'set exists' },
  NON_EXISTENT_SET: { status: 404, code: 102, desc: 'set does not exist' },
  EXISTENT_QOS_RULE: { status: 400, code: 114, desc: 'QoS rule exists' },
  INV_INPUT_BELOW_RANGE: { status: 400, code: 115, desc: 'invalid input: below range' },
  INV_INPUT_QOS_TARGET_OBJECT: { status: 404, code: 117, desc: 'QoS target object does not exist' },
  NON_EXISTENT_TASK: { status: 404, code: 145, desc: 'task does not exist' },
  INV_OPERATION_UNSUPPORTED_VV_TYPE: { status: 403, code: 150, desc: 'operation not supported for this volume type' },
  VV_BUSY_ONLINE_COPY: { status: 409, code: 151, desc: 'volume busy: online copy in progress' },
  INV_INPUT_VV_GROW_SIZE: { status: 400, code: 152, desc: 'invalid grow size' },
  VV_NEW_SIZE_EXCEEDS_CPG_LIMIT: { status: 403, code: 153, desc: 'new size exceeds CPG limit' },
  INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS: { status: 409, code: 185, desc: 'no promote in progress' },
  NON_EXISTENT_OBJECT_KEY: { status: 404, code: 180, desc: 'object key does not exist' },
  EXISTENT_OBJECT_KEY: { status: 409, code: 181, desc: 'object key exists' },
  TOO_BUSY: { status: 503, code: 270, desc: 'System is too busy. Please try again later' },
  /**
   * A VLUN of a volume to a host of another virtual domain: 403/118 "Volume not in same domain",
   * as real arrays answered HPE's Docker plugin [S python-hpedockerplugin issues #232, #322].
   */
  VV_NOT_IN_SAME_DOMAIN: { status: 403, code: 118, desc: 'Volume not in same domain' },
  /** The number issue 16 reports from a real array ([U]: not in the reference; configurable). */
  NO_SNAP_CPG: { status: 409, code: 33, desc: 'volume has no snapshot CPG' },
  // §4.4 names without recovered numbers: placeholders (configurable)
  RETAINED: { status: 409, code: 9002, desc: 'volume retention time has not expired' },
  INV_INPUT_WARN_GT_LIMIT: { status: 400, code: 9003, desc: 'allocation warning greater than limit' },
  INV_INPUT_USR_ALRT_NON_TPVV: {
    status: 400,
    code: 9004,
    desc: 'user space allocation alerts only apply to thin volumes',
  },
  INV_INPUT_RETAIN_GT_EXPIRE: { status: 400, code: 9005, desc: 'retention time greater than expiration time' },
  INV_INPUT_VV_POLICY: { status: 400, code: 9006, desc: 'invalid volume policy' },
  INV_INPUT_TIME: { status: 400, code: 9007, desc: 'invalid time value' },
  INV_OPERATION_VV_TUNE_IN_PROGRESS: { status: 409, code: 9008, desc: 'tune in progress' },
  INV_OPERATION_VV_VOLUME_CONV_IN_PROGRESS: { status: 409, code: 9009, desc: 'conversion in progress' },
  INV_OPERATION_VV_VOLUME_COPY_IN_PROGRESS: { status: 409, code: 9010, desc: 'volume copy in progress' },
  INV_OPERATION_VV_ONLINE_COPY_IN_PROGRESS: { status: 409, code: 9011, desc: 'online copy in progress' },
  VV_IS_BEING_REMOVED: { status: 403, code: 9012, desc: 'volume is being removed' },
  INV_OPERATION_VV_IS_PCOPY: { status: 409, code: 9013, desc: 'volume is a physical copy' },
  INV_OPERATION_VV_PROMOTE_IN_PROGRESS: { status: 409, code: 9014, desc: 'promote in progress' },
  INV_OPERATION_VV_PARENT_OF_PCOPY: { status: 409, code: 9015, desc: 'volume is the parent of a physical copy' },
  INV_OPERATION_VV_MODIFY_USR_CPG_TPVV: { status: 403, code: 9016, desc: 'cannot set the user CPG of a thin volume' },
  INV_INPUT_VV_IS_TPVV: { status: 403, code: 9017, desc: 'volume is already thin' },
  INV_INPUT_VV_IS_FPVV: { status: 403, code: 9018, desc: 'volume is already fully provisioned' },
  INV_OPERATION_VV_COPY_PARENT_TOO_BIG: { status: 409, code: 9019, desc: 'copy source is larger than the destination' },
  MISSING_VLUN_EXPORT_INFO: { status: 400, code: 9020, desc: 'missing VLUN export information' },
  AUTO_LUN_ID_UNAVAILABLE: { status: 409, code: 9021, desc: 'no LUN id available' },
  INV_INPUT_EMPTY_VVSET: { status: 400, code: 9022, desc: 'volume set is empty' },
  INV_INPUT_DUP_NAME: { status: 400, code: 9023, desc: 'duplicate name' },
  MEMBER_IN_SET: { status: 409, code: 9024, desc: 'member already in set' },
  MEMBER_NOT_IN_SET: { status: 404, code: 9025, desc: 'member not in set' },
  INVALID_INPUT_VV_PATTERN: { status: 400, code: 9026, desc: 'invalid volume name pattern' },
  EMPTY_SET: { status: 404, code: 9027, desc: 'set is empty' },
  NON_ACTIVE_TASK: { status: 400, code: 9028, desc: 'task is not active' },
  INV_OPERATION_CANNOT_CANCEL_TASK: { status: 409, code: 9029, desc: 'task cannot be cancelled' },
  INV_QUERY_STRING: { status: 400, code: 9030, desc: 'invalid query string' },
  VVSET_QOS_TARGET: { status: 409, code: 9031, desc: 'volume set is the target of a QoS rule' },
  INV_OPERATION_VV_READONLY_TO_READONLY_SNAP: {
    status: 403,
    code: 9032,
    desc: 'cannot take a read-only snapshot of a read-only snapshot',
  },
  /** The volume policy oneHost refused a VLUN to a second host ([U]: the real code is unknown). */
  VV_ONE_HOST_POLICY: { status: 409, code: 9033, desc: 'volume policy oneHost: already exported to another host' },
  INV_OPERATION_VV_NOT_A_PCOPY: { status: 409, code: 9034, desc: 'volume is not a physical copy' },
  INV_INPUT_TOO_MANY_WWN_OR_iSCSI: { status: 400, code: 9036, desc: 'too many WWNs or iSCSI names' },
  INV_OPERATION_VV_IS_BUSY: { status: 409, code: 9037, desc: 'volume is busy' },
  INV_OPERATION_PROMOTE_BASE_EXPORTED: { status: 409, code: 9038, desc: 'offline promote needs an unexported base' },
  INV_OPERATION_VV_CPG_ON_SNAPSHOT: { status: 409, code: 96, desc: 'CPG cannot be set on a snapshot' },
  INV_INPUT_BAD_LENGTH: { status: 400, code: 9039, desc: 'invalid length' },
  NO_INITIATOR_CHAP: { status: 404, code: 9040, desc: 'initiator CHAP is not set' },
  NON_EXISTENT_CHAP: { status: 404, code: 9041, desc: 'CHAP is not set' },
  INV_OPERATION_VV_SYS_VOLUME: { status: 403, code: 9042, desc: 'system volume' },
  VV_SIZE_CANNOT_REDUCE: { status: 403, code: 9043, desc: 'volume size cannot be reduced' },
  VV_NEW_SIZE_EXCEEDS_LIMITS: { status: 403, code: 9045, desc: 'new size exceeds the volume size limit' },
  INV_OPERATION_PARAM_CONFLICT: { status: 409, code: 9044, desc: 'operation parameters conflict' },
  /** A physical copy whose parent is a read-only snapshot ([S] python-3parclient copyVolume; number [U]). */
  INV_OPERATION_VV_READONLY_SNAPSHOT: { status: 403, code: 9050, desc: 'the parent volume is a read-only snapshot' },
  /** Changing the snapshot CPG of a volume that has snapshots (issue 16 item 12; name and number [U]). */
  INV_OPERATION_VV_SNAPCPG_WITH_SNAPSHOTS: {
    status: 409,
    code: 9051,
    desc: 'the snapshot CPG cannot change while the volume has snapshots',
  },
  /** A set member of another domain than the set's ([S] python-3parclient createVolumeSet docstring; number [U]). */
  MEMBER_NOT_IN_SAME_DOMAIN: { status: 409, code: 9060, desc: 'the member is not in the domain of the set' },
  /** A volume whose user and snapshot CPGs are in different domains (REFERENCE §4.4 names it; number [U]). */
  CPG_NOT_IN_SAME_DOMAIN: { status: 403, code: 9061, desc: 'the CPGs are not in the same domain' },
  // Array-wide limits: 503 per the guide's VV-set snapshot table (G131 p119-121), numbers [U].
  VV_LIMIT_REACHED: { status: 503, code: 9046, desc: 'maximum number of volumes has been reached' },
  SNAPSHOT_LIMIT_REACHED: { status: 503, code: 9047, desc: 'maximum number of snapshots has been reached' },
  CPG_ALLOCATION_WARNING_REACHED: { status: 503, code: 9048, desc: 'the CPG has reached the allocation warning' },
  VV_ID_LIMIT_REACHED: { status: 503, code: 9049, desc: 'maximum number of volume IDs has been reached' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorName = keyof typeof ERRORS;

/** Per-simulator corrections of the table: `{ VV_ONE_HOST_POLICY: { status: 409, code: 123 } }`. */
export type ErrorOverrides = Partial<Record<ErrorName, Partial<Pick<ErrorDef, 'status' | 'code'>>>>;

/**
 * A WSAPI error answer. Thrown by handlers and the object model; the server turns it into
 * `{code, desc, ref?}` with `status`.
 */
export class SimError extends Error {
  override name = 'SimError';
  readonly errorName: ErrorName | 'CUSTOM';
  readonly status: number;
  readonly code: number;
  readonly ref?: string;

  constructor(errorName: ErrorName | 'CUSTOM', def: ErrorDef, ref?: string, detail?: string) {
    super(detail ? `${def.desc}: ${detail}` : def.desc);
    this.errorName = errorName;
    this.status = def.status;
    this.code = def.code;
    if (ref !== undefined) this.ref = ref;
  }

  toBody(): { code: number; desc: string; ref?: string } {
    return this.ref === undefined
      ? { code: this.code, desc: this.message }
      : { code: this.code, desc: this.message, ref: this.ref };
  }
}

/** Resolves names to errors with the simulator's overrides applied. */
export class ErrorCatalog {
  constructor(private readonly overrides: ErrorOverrides = {}) {}

  def(name: ErrorName): ErrorDef {
    const base = ERRORS[name];
    const o = this.overrides[name];
    return o ? { desc: base.desc, status: o.status ?? base.status, code: o.code ?? base.code } : base;
  }

  /** A throwable error; `ref` names the offending member, `detail` is appended to desc. */
  err(name: ErrorName, ref?: string, detail?: string): SimError {
    return new SimError(name, this.def(name), ref, detail);
  }
}

/** Start-up problems of the simulator itself (bad options, unreadable or corrupt state file). */
export class SimulatorError extends Error {
  override name = 'SimulatorError';
  readonly code: 'SIM_BAD_OPTIONS' | 'SIM_STATE_CORRUPT' | 'SIM_STATE_IO' | 'SIM_DATA_PLANE';

  constructor(code: SimulatorError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
