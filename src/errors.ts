/**
 * The driver's domain errors: the vocabulary shared by the array layer (src/array), the host
 * layer (src/host) and the CSI services. Each kind has exactly one gRPC status, chosen in
 * src/csi/errors.ts; nothing below src/csi knows about gRPC.
 */

/** What went wrong, in terms of the operation rather than the transport. */
export type DriverErrorKind =
  /** The request is malformed or names an unsupported option. */
  | 'invalid-argument'
  /** The named object does not exist. */
  | 'not-found'
  /** An object with this name exists and is incompatible with the request. */
  | 'already-exists'
  /** The system is not in a state that allows the operation (exported, foreign, in use elsewhere). */
  | 'failed-precondition'
  /** A size outside what the caller allowed. */
  | 'out-of-range'
  /** The array or node has no space or no capacity left. */
  | 'resource-exhausted'
  /** Another operation on the same object is running; retry later. */
  | 'busy'
  /** The array cannot be reached or refused to serve; retry later. */
  | 'unavailable'
  /** The caller's deadline passed or the call was cancelled. */
  | 'cancelled'
  /** Something the driver does not expect; a bug or an unknown array behaviour. */
  | 'internal';

export interface DriverErrorOptions {
  cause?: unknown;
  /** Structured context for logs (never credentials). */
  details?: Record<string, unknown>;
}

/** Base class of every domain error. Classify by `kind`, never by message text. */
export class DriverError extends Error {
  override name = 'DriverError';
  readonly kind: DriverErrorKind;
  readonly details: Record<string, unknown>;

  constructor(kind: DriverErrorKind, message: string, options: DriverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.details = options.details ?? {};
  }
}

export const invalidArgument = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('invalid-argument', message, options);
export const notFound = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('not-found', message, options);
export const alreadyExists = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('already-exists', message, options);
export const failedPrecondition = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('failed-precondition', message, options);
export const outOfRange = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('out-of-range', message, options);
export const resourceExhausted = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('resource-exhausted', message, options);
export const busy = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('busy', message, options);
export const unavailable = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('unavailable', message, options);
export const cancelled = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('cancelled', message, options);
export const internal = (message: string, options?: DriverErrorOptions): DriverError =>
  new DriverError('internal', message, options);

/** True when `err` is a DriverError of the given kind. */
export function isKind(err: unknown, kind: DriverErrorKind): err is DriverError {
  return err instanceof DriverError && err.kind === kind;
}

/**
 * A problem of the machine the driver starts on (a path it may not write, an address another
 * process holds): the CLI prints the message on one line and exits 1. Not a bug: no stack trace.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Turns a listen/bind failure into a StartupError naming the flag, the address and what to do. */
export function listenError(err: unknown, flag: string, address: string): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new StartupError(
      `${flag}: address ${address} is in use by another process; stop it or choose another address`,
      { cause: err },
    );
  if (code === 'EACCES' || code === 'EPERM')
    return new StartupError(
      `${flag}: permission denied for ${address}; run as a user that may create it, or choose another path or port`,
      { cause: err },
    );
  if (code === 'EADDRNOTAVAIL')
    return new StartupError(`${flag}: address ${address} is not an address of this machine`, { cause: err });
  if (code === 'EROFS') return new StartupError(`${flag}: ${address} is on a read-only file system`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
