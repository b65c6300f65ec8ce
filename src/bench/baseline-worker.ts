/**
 * The baseline's own thread: the bare client runs on an event loop of its own, as the driver
 * runs in a process of its own, so neither shares a thread with the simulator (which serialises
 * every list it answers on the main thread). The main thread sends one message per phase.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BareClient, BaselineW1, type BaseNode } from './baseline.js';
import { runPool } from './stats.js';

/** What the worker is started with. */
export interface BaselineWorkerData {
  url: string;
  username: string;
  password: string;
  sessionPoolSize: number;
  maxInFlight: number;
  cpg: string;
  /** With HTTPS: the array's CA. */
  caCert?: string;
}

/** One phase: the same call for every item, `concurrency` in flight. */
export interface BaselinePhase {
  op: 'create' | 'publish' | 'unpublish' | 'delete' | 'close';
  items: { name: string; node?: BaseNode }[];
  concurrency: number;
  /** The volume comment (set with the first create phase). */
  comment?: string;
}

const data = workerData as BaselineWorkerData;
const client = new BareClient(
  data.url,
  data.username,
  data.password,
  data.sessionPoolSize,
  data.maxInFlight,
  data.caCert,
);
let w1: BaselineW1 | undefined;
const opened = client.open();

parentPort!.on('message', (m: BaselinePhase) => {
  void (async () => {
    try {
      await opened;
      if (m.op === 'close') {
        await client.close();
        parentPort!.postMessage({ latencies: [], errors: [], elapsedSec: 0, logins: client.logins });
        return;
      }
      const b = (w1 ??= new BaselineW1(client, data.cpg, m.comment ?? ''));
      const job = (item: { name: string; node?: BaseNode }): Promise<void> => {
        if (m.op === 'create') return b.create(item.name, 1024);
        if (m.op === 'publish') return b.publish(item.name, item.node!).then(() => undefined);
        if (m.op === 'unpublish') return b.unpublish(item.name, item.node!);
        return b.delete(item.name);
      };
      parentPort!.postMessage(await runPool(m.items, m.concurrency, job));
    } catch (err) {
      parentPort!.postMessage({
        latencies: [],
        errors: [err instanceof Error ? err.message : String(err)],
        elapsedSec: 0,
      });
    }
  })();
});
