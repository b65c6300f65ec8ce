import { status } from '@grpc/grpc-js';
import { DriverError, type DriverErrorKind } from '../errors.js';

/**
 * The one table from domain error kinds to gRPC status codes. Every error that leaves an RPC
 * passes through `toStatus`; the CSI spec names the codes each RPC must use.
 */
export const KIND_TO_STATUS: Readonly<Record<DriverErrorKind, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  'failed-precondition': status.FAILED_PRECONDITION,
  'out-of-range': status.OUT_OF_RANGE,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  // An operation on the same object is running: the CO retries (CSI: ABORTED).
  busy: status.ABORTED,
  unavailable: status.UNAVAILABLE,
  // The call's own deadline or cancellation; gRPC reports it as DEADLINE_EXCEEDED.
  cancelled: status.DEADLINE_EXCEEDED,
  internal: status.INTERNAL,
};

export interface MappedError {
  code: status;
  message: string;
  /** True when the error was not a DriverError: a bug or an unknown condition, logged with stack. */
  unexpected: boolean;
}

/** Maps any thrown value to a gRPC status and a message safe to return to the caller. */
export function toStatus(err: unknown): MappedError {
  if (err instanceof DriverError) return { code: KIND_TO_STATUS[err.kind], message: err.message, unexpected: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, message: `internal error: ${message}`, unexpected: true };
}

/** The upper-case name of a status code, for logs and metrics labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}
