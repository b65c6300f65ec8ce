/**
 * The workloads of `npm run bench` (issue 9): W1 provisioning (with its idempotent repeats and
 * the bare-client baseline), W2 snapshots, W3 clones, W4 listing, and the node steps. Each
 * returns its phases; the report is built from them in driver.ts.
 */
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CsiClient } from '../csi/client.js';
import type { RunningSimulator } from '../simulator/index.js';
import { TASK_STATUS } from '../simulator/model/types.js';
import { sleep } from '../util/abort.js';
import { Worker } from 'node:worker_threads';
import { BareClient, type BaseNode } from './baseline.js';
import type { BaselinePhase, BaselineWorkerData } from './baseline-worker.js';
import { CPG, DATA, type Sims } from './harness.js';
import type { Meter, PhaseResult, PoolRun } from './stats.js';

export const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
/** A sidecar's deadline for one call (external-provisioner's --timeout is often raised to this). */
const CALL_TIMEOUT_MS = 120_000;

export interface Ctx {
  client: CsiClient;
  sims: Sims;
  meter: Meter;
  concurrency: number;
  sessionPoolSize: number;
  maxInFlight: number;
  workDir: string;
}

const mountCap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

interface Created {
  volume: { volume_id: string; volume_context: Record<string, string> };
}

function createReq(
  name: string,
  parameters: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap],
    parameters,
    ...extra,
  };
}

type Call = <T>(rpc: string, req: unknown) => Promise<T>;

/** The CSI client's `call` with a sidecar's deadline (`timeoutMs`). */
function caller(ctx: Ctx, timeoutMs = CALL_TIMEOUT_MS): Call {
  return <T>(rpc: string, req: unknown): Promise<T> => ctx.client.call<T>(rpc, req, { timeoutMs });
}

/** CreateVolume of `req`; its volume id. */
async function createdId(call: Call, req: Record<string, unknown>): Promise<string> {
  return (await call<Created>('CreateVolume', req)).volume.volume_id;
}

/** Runs one measured driver phase of `workload` over `items` at the context's concurrency (or `concurrency`). */
function driverPhase(
  ctx: Ctx,
  workload: string,
  label: string,
  items: readonly number[],
  fn: (i: number) => Promise<void>,
  concurrency = ctx.concurrency,
): Promise<PhaseResult> {
  return ctx.meter.phase(workload, label, 'driver', items, concurrency, fn);
}

/** The comment the driver wrote on the volume made for CSI name `csiName` (its marker). */
export function markerOf(
  sim: RunningSimulator,
  csiName: string,
): { name: string; comment: string; wwn: string } | undefined {
  const v = sim.array.volumes.find((x) => (x.comment ?? '').includes(`"n":"${csiName}"`));
  return v ? { name: v.name, comment: v.comment ?? '', wwn: v.wwn } : undefined;
}

/** Waits until the simulator runs no task (copies from W2 end before their volumes are deleted). */
async function tasksIdle(sim: RunningSimulator, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (sim.array.state.tasks.some((t) => t.status === TASK_STATUS.ACTIVE)) {
    if (Date.now() > until) throw new Error('copy tasks still running');
    await sleep(50);
  }
}

/** The bare-client baseline on its own thread (see baseline-worker.ts); one phase at a time. */
class BaselineThread {
  private readonly worker: Worker;

  constructor(data: BaselineWorkerData) {
    this.worker = new Worker(new URL('./baseline-worker.js', import.meta.url), { workerData: data });
  }

  run(phase: BaselinePhase): Promise<PoolRun> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.worker.once('error', onError);
      this.worker.once('message', (m: PoolRun) => {
        this.worker.off('error', onError);
        resolve(m);
      });
      this.worker.postMessage(phase);
    });
  }

  async close(): Promise<void> {
    await this.run({ op: 'close', items: [], concurrency: 1 });
    await this.worker.terminate();
  }
}

/** W1's node ids for the driver and the bare client's host names and IQNs, `nodes` of each. */
function w1Nodes(prefix: string, nodes: number): { nodeIds: string[]; baseNodes: BaseNode[] } {
  const nodeIds = Array.from(
    { length: nodes },
    (_, k) => `${prefix}-node-${k};i=iqn.1994-05.com.example:${prefix}-node-${k}`,
  );
  const baseNodes = Array.from({ length: nodes }, (_, k) => ({
    host: `${prefix}-bn-${k}`,
    iqn: `iqn.1994-05.com.example:${prefix}-base-${k}`,
  }));
  return { nodeIds, baseNodes };
}

/** The bare client's thread, on the same array and with the same session limits as the driver. */
function startBaseline(ctx: Ctx): BaselineThread {
  const b = ctx.sims.base;
  return new BaselineThread({
    url: b.url,
    username: b.username,
    password: b.password,
    sessionPoolSize: ctx.sessionPoolSize,
    maxInFlight: ctx.maxInFlight,
    cpg: CPG,
    ...(b.caCert !== undefined && { caCert: b.caCert }),
  });
}

/**
 * W1: CreateVolume, ControllerPublish (first to each node, then the rest), ControllerUnpublish,
 * DeleteVolume — each followed by its repeat (every call once more, as a sidecar retry would)
 * and by the same requests from the bare client.
 */
export async function w1(
  ctx: Ctx,
  workload: string,
  count: number,
  nodes: number,
): Promise<{ phases: PhaseResult[]; driverCalls: number }> {
  const prefix = workload.toLowerCase().replace(/[^a-z0-9]/g, '');
  const idx = Array.from({ length: count }, (_, i) => i);
  const { nodeIds, baseNodes } = w1Nodes(prefix, nodes);
  const firstPerNode = idx.slice(0, Math.min(nodes, count));
  const rest = idx.slice(firstPerNode.length);
  const ids: string[] = [];
  const ctxs: Record<string, string>[] = [];
  const call = caller(ctx);
  const base = startBaseline(ctx);
  const phases: PhaseResult[] = [];
  let driverCalls = 0;
  // The baseline writes a comment as long as the driver's marker (learned from the first create).
  let comment = '';
  const baseName = (i: number): string => `${prefix}-base-${i}`;
  const both = async (
    label: string,
    items: readonly number[],
    driver: (i: number) => Promise<void>,
    op: BaselinePhase['op'],
  ): Promise<void> => {
    phases.push(await driverPhase(ctx, workload, label, items, driver));
    driverCalls += items.length;
    if (label === 'CreateVolume') comment = markerOf(ctx.sims.plain, csiName(0))?.comment ?? '';
    const phase: BaselinePhase = {
      op,
      items: items.map((i) => ({ name: baseName(i), node: baseNodes[i % nodes]! })),
      concurrency: ctx.concurrency,
      comment,
    };
    phases.push(await ctx.meter.measure(workload, label, 'baseline', items.length, () => base.run(phase)));
  };
  const csiName = (i: number): string => `${prefix}-pvc-${i}`;
  const create = async (i: number): Promise<void> => {
    const r = await call<Created>('CreateVolume', createReq(csiName(i)));
    ids[i] = r.volume.volume_id;
    ctxs[i] = r.volume.volume_context;
  };
  await both('CreateVolume', idx, create, 'create');
  await both('CreateVolume (repeat)', idx, create, 'create');
  const publish = async (i: number): Promise<void> => {
    await call('ControllerPublishVolume', {
      volume_id: ids[i],
      node_id: nodeIds[i % nodes],
      volume_capability: mountCap,
      readonly: false,
      volume_context: ctxs[i],
    });
  };
  await both('ControllerPublishVolume (new host)', firstPerNode, publish, 'publish');
  await both('ControllerPublishVolume', rest, publish, 'publish');
  await both('ControllerPublishVolume (repeat)', idx, publish, 'publish');
  const unpublish = async (i: number): Promise<void> =>
    void (await call('ControllerUnpublishVolume', { volume_id: ids[i], node_id: nodeIds[i % nodes] }));
  await both('ControllerUnpublishVolume', idx, unpublish, 'unpublish');
  await both('ControllerUnpublishVolume (repeat)', idx, unpublish, 'unpublish');
  const del = async (i: number): Promise<void> => void (await call('DeleteVolume', { volume_id: ids[i] }));
  await both('DeleteVolume', idx, del, 'delete');
  await both('DeleteVolume (repeat)', idx, del, 'delete');
  await base.close();
  return { phases, driverCalls };
}

/** W2: CreateSnapshot of `count` volumes, CreateVolume from each snapshot, then the deletes. */
export async function w2(ctx: Ctx, count: number): Promise<PhaseResult[]> {
  const idx = Array.from({ length: count }, (_, i) => i);
  const call = caller(ctx);
  const src: string[] = [];
  const snaps: string[] = [];
  const restored: string[] = [];
  const phases: PhaseResult[] = [];
  const run = async (label: string, fn: (i: number) => Promise<void>): Promise<void> =>
    void phases.push(await driverPhase(ctx, 'W2', label, idx, fn));
  await run('CreateVolume (sources)', async (i) => {
    src[i] = await createdId(call, createReq(`w2-src-${i}`));
  });
  await run('CreateSnapshot', async (i) => {
    const r = await call<{ snapshot: { snapshot_id: string } }>('CreateSnapshot', {
      name: `w2-snap-${i}`,
      source_volume_id: src[i],
      parameters: {},
    });
    snaps[i] = r.snapshot.snapshot_id;
  });
  await run('CreateVolume (from snapshot)', async (i) => {
    restored[i] = await createdId(
      call,
      createReq(`w2-restore-${i}`, {}, { volume_content_source: { snapshot: { snapshot_id: snaps[i] } } }),
    );
  });
  // The array's online copies end first (a delete during a copy cancels it: another path).
  await tasksIdle(ctx.sims.plain);
  await run('DeleteVolume (restored)', async (i) => void (await call('DeleteVolume', { volume_id: restored[i] })));
  await run('DeleteSnapshot', async (i) => void (await call('DeleteSnapshot', { snapshot_id: snaps[i] })));
  await run('DeleteVolume (sources)', async (i) => void (await call('DeleteVolume', { volume_id: src[i] })));
  return phases;
}

/** One clone's figures: the simulator's task duration and when the driver reported it ready. */
export interface CloneFigure {
  taskMs: number;
  /** From the task's start to the end of the CreateVolume call that waited for it. */
  readyMs: number;
  polls: number;
  /** Polls per second over the polling window (first to last poll): the polling rate. */
  pollsPerSec: number;
}

/** Writes `dataMiB` of random data into the image file of each W3 source volume (`w3-src-<i>`). */
async function fillSources(ctx: Ctx, count: number, dataMiB: number): Promise<void> {
  const data = randomBytes(MiB);
  for (let i = 0; i < count; i++) {
    const v = markerOf(ctx.sims.data, `w3-src-${i}`);
    if (!v) throw new Error(`W3 source ${i} not found on the array`);
    const fh = await open(join(ctx.sims.dataDir, 'volumes', `${v.wwn}.img`), 'r+');
    try {
      for (let m = 0; m < dataMiB; m++) await fh.write(data, 0, MiB, m * MiB);
    } finally {
      await fh.close();
    }
  }
}

/** What a task watcher saw: each task's start and end, and when each request of the window arrived. */
interface TaskWatch {
  /** By task id: first seen ACTIVE, then no longer ACTIVE (performance.now(), to 10 ms). */
  seen: Map<number, { name: string; start: number; end?: number }>;
  /** Index of the first request of the window in the simulator's request log. */
  marks: number;
  /** When each request of the window arrived (to 10 ms): the log itself has no times. */
  stamps: number[];
  stop(): Promise<void>;
}

/** Samples the simulator's own view of its tasks and requests every 10 ms until `stop()`. */
function watchTasks(sim: RunningSimulator): TaskWatch {
  const seen: TaskWatch['seen'] = new Map();
  let watching = true;
  const marks = sim.requests.length;
  const stamps: number[] = [];
  const watcher = (async () => {
    while (watching) {
      const now = performance.now();
      while (stamps.length < sim.requests.length - marks) stamps.push(now);
      for (const t of sim.array.state.tasks) {
        const s = seen.get(t.id) ?? (t.status === TASK_STATUS.ACTIVE ? { name: t.name, start: now } : undefined);
        if (!s) continue;
        seen.set(t.id, s);
        if (s.end === undefined && t.status !== TASK_STATUS.ACTIVE) s.end = now;
      }
      await sleep(10);
    }
  })();
  const stop = async (): Promise<void> => {
    watching = false;
    await watcher;
  };
  return { seen, marks, stamps, stop };
}

/**
 * Each W3 clone's task time, time to ready and task polls, from what the watcher saw; clones it missed are left out.
 */
function cloneFigures(sim: RunningSimulator, count: number, w: TaskWatch, readyAt: Map<number, number>): CloneFigure[] {
  const figures: CloneFigure[] = [];
  const log = sim.requests.slice(w.marks);
  for (let i = 0; i < count; i++) {
    const dest = markerOf(sim, `w3-clone-${i}`)?.name;
    const entry = [...w.seen.entries()].find(([, s]) => s.name === dest);
    const ready = readyAt.get(i);
    if (!entry || entry[1].end === undefined || ready === undefined) continue;
    const [id, s] = entry;
    const polls = log
      .map((r, j) => ({ r, at: w.stamps[j] ?? ready }))
      .filter(({ r }) => r.method === 'GET' && (r.path === `/api/v1/tasks/${id}` || r.path === '/api/v1/tasks'));
    const window = polls.length > 1 ? (polls[polls.length - 1]!.at - polls[0]!.at) / 1000 : 0;
    figures.push({
      taskMs: s.end! - s.start,
      readyMs: ready - s.start,
      polls: polls.length,
      pollsPerSec: window > 0 ? (polls.length - 1) / window : 0,
    });
  }
  return figures;
}

/**
 * W3: `count` clones of volumes holding `dataMiB` of data each, at a copy rate that makes each
 * copy last `seconds`. The clones ask for twice the source's size, so the driver must wait for
 * the copy (polling the task) before it can grow the volume — the one case where CreateVolume
 * waits for a copy; a same-size clone is usable at once (online copy) and returns in ~3 requests.
 */
export async function w3(
  ctx: Ctx,
  count: number,
  dataMiB: number,
  seconds: number,
): Promise<{ phases: PhaseResult[]; clones: CloneFigure[]; pollIntervalMs: number }> {
  const sim = ctx.sims.data;
  const idx = Array.from({ length: count }, (_, i) => i);
  const call = caller(ctx, Math.max(CALL_TIMEOUT_MS, seconds * 4000));
  const params = { backend: DATA };
  const src: string[] = [];
  const phases: PhaseResult[] = [];
  phases.push(
    await driverPhase(ctx, 'W3', 'CreateVolume (sources)', idx, async (i) => {
      src[i] = await createdId(call, createReq(`w3-src-${i}`, params));
    }),
  );
  await fillSources(ctx, count, dataMiB);
  sim.faults.set({ copyRateMiBps: dataMiB / seconds });
  const watch = watchTasks(sim);
  const readyAt = new Map<number, number>();
  const clones: string[] = [];
  const cloneReq = (i: number): Record<string, unknown> => ({
    ...createReq(`w3-clone-${i}`, params),
    capacity_range: { required_bytes: String(2 * GiB) },
    volume_content_source: { volume: { volume_id: src[i] } },
  });
  phases.push(
    await driverPhase(
      ctx,
      'W3',
      'CreateVolume (clone, waits for the copy)',
      idx,
      async (i) => {
        const r = await call<Created>('CreateVolume', cloneReq(i));
        readyAt.set(i, performance.now());
        clones[i] = r.volume.volume_id;
      },
      count,
    ),
  );
  await watch.stop();
  sim.faults.set({ copyRateMiBps: 512 });
  const figures = cloneFigures(sim, count, watch, readyAt);
  phases.push(
    await driverPhase(
      ctx,
      'W3',
      'DeleteVolume (clones)',
      idx,
      async (i) => void (await call('DeleteVolume', { volume_id: clones[i] })),
    ),
  );
  phases.push(
    await driverPhase(
      ctx,
      'W3',
      'DeleteVolume (sources)',
      idx,
      async (i) => void (await call('DeleteVolume', { volume_id: src[i] })),
    ),
  );
  return { phases, clones: figures, pollIntervalMs: 1000 };
}

/**
 * Warms the driver as a running controller is warm: sessions logged in, the array described,
 * the port list cached, and (with a count in the thousands, `--warm-up`) JIT-compiled paths: a
 * process's first thousand calls cost up to 1.5 x the CPU of later ones. `count` volumes are
 * created, published to one of up to 20 warm-up nodes, unpublished and deleted, at the run's
 * concurrency. Not measured.
 */
export async function warmUp(ctx: Ctx, count: number): Promise<void> {
  const nodes = Array.from(
    { length: Math.min(20, count) },
    (_, k) => `warm-node-${k};i=iqn.1994-05.com.example:warm-node-${k}`,
  );
  const call = <T>(rpc: string, req: unknown): Promise<T> =>
    ctx.client.call<T>(rpc, req, { timeoutMs: CALL_TIMEOUT_MS });
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ctx.concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const v = await call<Created>('CreateVolume', createReq(`warm-${i}`));
        const node = nodes[i % nodes.length]!;
        await call('ControllerPublishVolume', {
          volume_id: v.volume.volume_id,
          node_id: node,
          volume_capability: mountCap,
          readonly: false,
          volume_context: v.volume.volume_context,
        });
        await call('ControllerUnpublishVolume', { volume_id: v.volume.volume_id, node_id: node });
        await call('DeleteVolume', { volume_id: v.volume.volume_id });
      }
    }),
  );
}

/** Creates `count` objects through a bare client at latency 0 (set-up, not measured). */
async function setUp(
  sim: RunningSimulator,
  count: number,
  make: (c: BareClient, i: number) => Promise<void>,
): Promise<void> {
  const c = new BareClient(sim.url, sim.username, sim.password, 16, 32, sim.caCert);
  await c.open();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) await make(c, next++);
    }),
  );
  await c.close();
}

async function ok(p: Promise<{ status: number; body: string }>, what: string): Promise<void> {
  const a = await p;
  if (a.status >= 300) throw new Error(`${what}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
}

/**
 * Other hosts' exports for W1-20k: `vluns` VLUNs over hosts of 200 LUNs each, on volumes that
 * are not the driver's. Made with the latency model off, then the model is restored.
 */
export async function seedVluns(
  sim: RunningSimulator,
  vluns: number,
  model: { latencyMs: number; perMemberUs: number },
): Promise<number> {
  const perHost = 200;
  const hosts = Math.ceil(vluns / perHost);
  const volumes = Math.max(perHost, Math.ceil(vluns / 10));
  sim.faults.set({ latencyMs: 0, perMemberUs: 0 });
  const t0 = performance.now();
  try {
    await setUp(sim, volumes, (c, i) =>
      ok(
        c.request('POST', '/api/v1/volumes', { name: `other-v-${i}`, cpg: CPG, sizeMiB: 1024, tpvv: true }),
        'seed volume',
      ),
    );
    await setUp(sim, hosts, (c, h) =>
      ok(
        c.request('POST', '/api/v1/hosts', {
          name: `other-h-${h}`,
          iSCSINames: [`iqn.1994-05.com.example:other-${h}`],
          persona: 2,
        }),
        'seed host',
      ),
    );
    await setUp(sim, vluns, (c, i) => {
      const h = Math.floor(i / perHost);
      const v = (h * perHost + (i % perHost)) % volumes;
      return ok(
        c.request('POST', '/api/v1/vluns', {
          volumeName: `other-v-${v}`,
          hostname: `other-h-${h}`,
          lun: 0,
          autoLun: true,
        }),
        'seed VLUN',
      );
    });
  } finally {
    sim.faults.set(model);
  }
  return (performance.now() - t0) / 1000;
}

/** W4: `count` volumes carrying the driver's marker, listed with ListVolumes pages of `pageSize`. */
export async function w4(
  ctx: Ctx,
  count: number,
  pageSize: number,
  marker: { comment: string; csiName: string },
  model: { latencyMs: number; perMemberUs: number },
  runs: number,
): Promise<{ listings: { ms: number; entries: number; pages: number; wsapi: number }[]; seedSec: number }> {
  const sim = ctx.sims.plain;
  sim.faults.set({ latencyMs: 0, perMemberUs: 0 });
  const t0 = performance.now();
  try {
    await setUp(sim, count, (c, i) =>
      ok(
        c.request('POST', '/api/v1/volumes', {
          name: `w4-v-${i}`,
          cpg: CPG,
          sizeMiB: 1024,
          tpvv: true,
          comment: marker.comment.replace(`"n":"${marker.csiName}"`, `"n":"w4-pvc-${i}"`),
        }),
        'seed W4 volume',
      ),
    );
  } finally {
    sim.faults.set(model);
  }
  const seedSec = (performance.now() - t0) / 1000;
  const listings: { ms: number; entries: number; pages: number; wsapi: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const mark = sim.requests.length;
    const s = performance.now();
    let token = '';
    let entries = 0;
    let pages = 0;
    do {
      const page = await ctx.client.call<{ entries: unknown[]; next_token: string }>(
        'ListVolumes',
        { max_entries: pageSize, starting_token: token },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      entries += page.entries.length;
      pages++;
      token = page.next_token;
    } while (token !== '');
    listings.push({
      ms: performance.now() - s,
      entries,
      pages,
      wsapi: sim.requests
        .slice(mark)
        .filter((x) => !x.path.startsWith('/api/v1/credentials') && x.path !== '/api/v1/wsapiconfiguration').length,
    });
  }
  return { listings, seedSec };
}

/** One volume of the node steps: what NodeStage and NodePublish need. */
interface NodeVolume {
  id: string;
  context: Record<string, string>;
  publish: Record<string, string>;
  staging: string;
  target: string;
}

/** CreateVolume and ControllerPublishVolume to `nodeId` of volume `i`, with its staging directory made under `root`. */
async function createAndPublish(call: Call, nodeId: string, root: string, i: number): Promise<NodeVolume> {
  const c = await call<Created>('CreateVolume', createReq(`node-pvc-${i}`, { backend: DATA }));
  const p = await call<{ publish_context: Record<string, string> }>('ControllerPublishVolume', {
    volume_id: c.volume.volume_id,
    node_id: nodeId,
    volume_capability: mountCap,
    readonly: false,
    volume_context: c.volume.volume_context,
  });
  const staging = join(root, 'staging', String(i));
  mkdirSync(staging, { recursive: true });
  return {
    id: c.volume.volume_id,
    context: c.volume.volume_context,
    publish: p.publish_context,
    staging,
    target: join(root, 'pods', String(i), 'mount'),
  };
}

/**
 * Node: ControllerPublish, then NodeStage, NodePublish, NodeUnpublish, NodeUnstage of `count` volumes (loop devices).
 */
export async function nodeSteps(ctx: Ctx, count: number): Promise<PhaseResult[]> {
  const idx = Array.from({ length: count }, (_, i) => i);
  const call = caller(ctx);
  const info = await call<{ node_id: string }>('NodeGetInfo', {});
  const vols: NodeVolume[] = [];
  const phases: PhaseResult[] = [];
  // The driver's --kubelet-dir (harness.ts serveArgs): the node plugin acts only below it.
  const root = join(ctx.workDir, 'kubelet');
  // The node calls run one at a time (concurrency 1); the controller calls at the context's.
  const run = async (label: string, fn: (i: number) => Promise<void>, concurrency = 1): Promise<void> =>
    void phases.push(await driverPhase(ctx, 'node', label, idx, fn, concurrency));
  const v = (i: number): NodeVolume => vols[i]!;
  await run(
    'CreateVolume + ControllerPublishVolume',
    async (i) => {
      vols[i] = await createAndPublish(call, info.node_id, root, i);
    },
    ctx.concurrency,
  );
  await run(
    'NodeStageVolume',
    async (i) =>
      void (await call('NodeStageVolume', {
        volume_id: v(i).id,
        publish_context: v(i).publish,
        staging_target_path: v(i).staging,
        volume_capability: mountCap,
        volume_context: v(i).context,
      })),
  );
  await run(
    'NodePublishVolume',
    async (i) =>
      void (await call('NodePublishVolume', {
        volume_id: v(i).id,
        publish_context: v(i).publish,
        staging_target_path: v(i).staging,
        target_path: v(i).target,
        volume_capability: mountCap,
        readonly: false,
        volume_context: v(i).context,
      })),
  );
  await run(
    'NodeUnpublishVolume',
    async (i) => void (await call('NodeUnpublishVolume', { volume_id: v(i).id, target_path: v(i).target })),
  );
  await run(
    'NodeUnstageVolume',
    async (i) => void (await call('NodeUnstageVolume', { volume_id: v(i).id, staging_target_path: v(i).staging })),
  );
  await run(
    'ControllerUnpublishVolume + DeleteVolume',
    async (i) => {
      await call('ControllerUnpublishVolume', { volume_id: v(i).id, node_id: info.node_id });
      await call('DeleteVolume', { volume_id: v(i).id });
    },
    ctx.concurrency,
  );
  return phases;
}
