import type { DataPlane } from '../dataplane.js';
import type { ErrorCatalog } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import type { TaskEngine } from '../tasks.js';
import type { SimArray } from './array.js';

/** What every operation of the object model needs; one per running simulator. */
export interface Sim {
  array: SimArray;
  errors: ErrorCatalog;
  /** Options; the run-time switches (refuseModifyDuringCopy, …) are changed here by the fault controller. */
  opts: ResolvedOptions;
  tasks: TaskEngine;
  /** Present when the data plane is on. */
  data?: DataPlane;
}

/** Who is calling (task `user`). */
export interface Caller {
  user: string;
}

/** An operation's answer, before the HTTP layer adds headers. */
export interface Reply {
  status: number;
  body?: unknown;
  /** Path-only Location header (percent-encoded by the server). */
  location?: string;
}

/** Rounds up to a multiple of `step`. */
export function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);
