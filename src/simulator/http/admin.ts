/**
 * The admin/fault endpoint, off unless `admin: true`, under /sim/ (never a WSAPI path), and
 * answered only to loopback clients. Same powers as the in-process FaultController:
 *   GET    /sim/faults              list active faults
 *   POST   /sim/faults              add a FaultSpec → {id}
 *   DELETE /sim/faults[/<id>]       remove one or all
 *   PUT    /sim/switches            flip run-time switches (Switches)
 *   POST   /sim/expire-sessions     expire every session now
 *   POST   /sim/tasks/<id>/fail     fail a running task now
 *   GET    /sim/state               object counts
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultController, FaultSpec, Switches } from '../faults.js';
import type { SimArray } from '../model/array.js';
import { readBody } from './body.js';

const FAULT_TYPES = ['latency', 'error', 'drop', 'truncate', 'failTask', 'expireSessions', 'hang'];

export class AdminHandler {
  constructor(
    private readonly faults: FaultController,
    private readonly array: SimArray,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const reply = (status: number, body?: unknown): void => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        Connection: 'close',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    };
    const ip = req.socket.remoteAddress ?? '';
    if (!(ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')))
      return reply(403, { error: 'the admin endpoint answers loopback clients only' });
    let body: unknown;
    try {
      const text = await readBody(req);
      if (text === 'too-long') return reply(413, { error: 'request body over 1 MiB' });
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return reply(400, { error: 'body is not JSON' });
    }
    const segs = path
      .split('/')
      .filter((s) => s !== '')
      .slice(1);
    const m = req.method;
    try {
      if (segs[0] === 'faults' && segs.length === 1 && m === 'GET') return reply(200, this.faults.list());
      if (segs[0] === 'faults' && segs.length === 1 && m === 'POST') {
        const spec = body as FaultSpec | undefined;
        if (!spec || typeof spec !== 'object' || !FAULT_TYPES.includes(spec.type))
          return reply(400, { error: `a fault needs a type (${FAULT_TYPES.join(', ')})` });
        return reply(201, { id: this.faults.add(spec) });
      }
      if (segs[0] === 'faults' && m === 'DELETE') {
        if (segs[1] === undefined) this.faults.clear();
        else this.faults.remove(Number(segs[1]));
        return reply(200, {});
      }
      if (segs[0] === 'switches' && m === 'PUT') {
        this.faults.set((body ?? {}) as Switches);
        return reply(200, {});
      }
      if (segs[0] === 'expire-sessions' && m === 'POST') return reply(200, { expired: this.faults.expireSessions() });
      if (segs[0] === 'tasks' && segs[2] === 'fail' && m === 'POST') {
        return this.faults.failTask(Number(segs[1])) ? reply(200, {}) : reply(404, { error: 'no such active task' });
      }
      if (segs[0] === 'state' && m === 'GET') {
        const a = this.array;
        return reply(200, {
          volumes: a.volumes.length,
          hosts: a.hosts.length,
          vluns: a.vluns.length,
          volumeSets: a.volumeSets.length,
          hostSets: a.hostSets.length,
          tasks: a.tasks.length,
        });
      }
    } catch (err) {
      return reply(400, { error: (err as Error).message });
    }
    reply(404, { error: 'unknown admin path' });
  }
}
