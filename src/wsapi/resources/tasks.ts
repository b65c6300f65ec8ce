import { apiPath } from '../path.js';
import { Resource, type CallOptions } from '../resource.js';
import { readCollection, readObject } from '../response.js';
import { isRecord } from '../../util/record.js';
import { TaskAction } from '../enums.js';
import type { Task } from '../types.js';

/** Array tasks: `/api/v1/tasks` (the last 24 hours). */
export class TasksResource extends Resource {
  /** One task (404/145 when unknown). */
  async get(id: number, opts?: CallOptions): Promise<Task> {
    const op = 'tasks.get';
    return readObject(await this.send(op, 'GET', apiPath`/tasks/${id}`, opts), this.ctx(op), isTask);
  }

  /** Every task of the last 24 hours (one request). */
  async list(opts?: CallOptions): Promise<Task[]> {
    const op = 'tasks.list';
    return readCollection(await this.send(op, 'GET', apiPath`/tasks`, opts), this.ctx(op), isTask);
  }

  /** Cancels a running task (a task already finished answers 400 NON_ACTIVE_TASK). */
  async cancel(id: number, opts?: CallOptions): Promise<void> {
    await this.send('tasks.cancel', 'PUT', apiPath`/tasks/${id}`, opts, { action: TaskAction.CANCEL });
  }
}

/** Shape check: a task has a numeric id and status. */
export function isTask(m: unknown): m is Task {
  return isRecord(m) && typeof m['id'] === 'number' && typeof m['status'] === 'number';
}
