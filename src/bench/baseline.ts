/**
 * The floor the driver is measured against: the same WSAPI requests the driver makes for each
 * W1 call, issued by a bare node:http client with the driver's limits — a pool of session keys
 * (an idle key, else the least-loaded one), the same in-flight cap (FIFO), one connection per
 * request, and VLUN changes of one array host one after another (as the driver's per-host
 * lock orders them). It parses only what it needs to go on (the VLUN list, Location headers).
 * The benchmark checks that its requests have the same shapes and counts as the driver's.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Semaphore } from '../wsapi/limiter.js';
import { KeyedMutex } from '../util/inflight.js';

interface Answer {
  status: number;
  location?: string;
  body: string;
}

const noAbort = (): Error => new Error('aborted');

/** A bare WSAPI client: session keys, an in-flight cap, node:http, no retries. */
export class BareClient {
  private readonly keys: { key: string; inUse: number }[] = [];
  private readonly slots: Semaphore;
  private readonly base: URL;
  /** HTTPS: one secure context of the array's CA and a session cache (no kept connections: the array closes them). */
  private readonly tls?: https.Agent;
  logins = 0;

  constructor(
    url: string,
    private readonly user: string,
    private readonly password: string,
    private readonly poolSize: number,
    maxInFlight: number,
    caCert?: string,
  ) {
    this.base = new URL(url);
    if (this.base.protocol === 'https:')
      this.tls = new https.Agent({ secureContext: tls.createSecureContext(caCert ? { ca: caCert } : {}) });
    this.slots = new Semaphore(maxInFlight);
  }

  /** Logs in `poolSize` keys up front (not timed: the driver's keys are warm too). */
  async open(): Promise<void> {
    for (let i = this.keys.length; i < this.poolSize; i++) {
      const a = await this.send('POST', '/api/v1/credentials', undefined, { user: this.user, password: this.password });
      if (a.status !== 201) throw new Error(`login: HTTP ${a.status} ${a.body}`);
      this.logins++;
      this.keys.push({ key: (JSON.parse(a.body) as { key: string }).key, inUse: 0 });
    }
  }

  async close(): Promise<void> {
    for (const k of this.keys.splice(0))
      await this.send('DELETE', `/api/v1/credentials/${k.key}`, k.key).catch(() => undefined);
  }

  /** One request with a key from the pool, under the in-flight cap. */
  async request(method: string, path: string, body?: unknown): Promise<Answer> {
    const release = await this.slots.acquire(undefined, noAbort);
    const entry = this.keys.find((k) => k.inUse === 0) ?? this.keys.reduce((a, b) => (b.inUse < a.inUse ? b : a));
    entry.inUse++;
    try {
      return await this.send(method, path, entry.key, body);
    } finally {
      entry.inUse--;
      release();
    }
  }

  private send(method: string, path: string, key?: string, body?: unknown): Promise<Answer> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = (this.tls ? https.request : http.request)(
        {
          host: this.base.hostname,
          port: this.base.port,
          path,
          method,
          agent: this.tls ?? false,
          headers: {
            accept: 'application/json',
            ...(key ? { 'X-HP3PAR-WSAPI-SessionKey': key } : {}),
            ...(text ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              ...(typeof res.headers.location === 'string' ? { location: res.headers.location } : {}),
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (text) req.write(text);
      req.end();
    });
  }
}

function expect(a: Answer, ok: number[], what: string): Answer {
  if (!ok.includes(a.status)) throw new Error(`${what}: HTTP ${a.status} ${a.body.slice(0, 200)}`);
  return a;
}

interface VlunLite {
  volumeName: string;
  lun: number;
  hostname?: string;
  /** false on the export rule (template); the array also lists each live path. */
  active?: boolean;
}

/** A W1 node as the baseline sees it: its array host name and iSCSI initiator. */
export interface BaseNode {
  host: string;
  iqn: string;
}

/**
 * The W1 calls, request for request as the driver makes them on the common path (see
 * src/array/volumes.ts ensureVolume/deleteVolume, exports.ts exportVolume/unexportVolume,
 * hosts.ts resolveHost): a create is one POST (two on a repeat), a publish to a known host is
 * list-create-list, an unpublish list-delete-host delete, a delete read-delete. The driver's
 * port list (5-minute cache) is warm before W1 (driver.ts warmUp), so neither reads it.
 */
export class BaselineW1 {
  private readonly hostLocks = new KeyedMutex();
  private readonly knownHosts = new Set<string>();

  constructor(
    private readonly c: BareClient,
    private readonly cpg: string,
    /** The volume comment (the driver's marker is about this long). */
    private readonly comment: string,
  ) {}

  async create(name: string, sizeMiB: number): Promise<void> {
    const a = await this.c.request('POST', '/api/v1/volumes', {
      name,
      cpg: this.cpg,
      sizeMiB,
      comment: this.comment,
      snapCPG: this.cpg,
      tpvv: true,
      policies: { oneHost: true },
    });
    if (a.status === 409) {
      expect(await this.c.request('GET', `/api/v1/volumes/${name}`), [200], 'read volume');
      return;
    }
    expect(a, [201], 'create volume');
  }

  private async vlunsOf(name: string): Promise<VlunLite[]> {
    const a = expect(await this.c.request('GET', '/api/v1/vluns'), [200], 'list VLUNs');
    const all = (JSON.parse(a.body) as { members: VlunLite[] }).members.filter((l) => l.volumeName === name);
    // The export rules: the templates when the array lists them, else one per (host, LUN).
    const templates = all.filter((l) => l.active === false);
    const rules = templates.length > 0 ? templates : all;
    return rules.filter((l, i) => rules.findIndex((x) => x.hostname === l.hostname && x.lun === l.lun) === i);
  }

  async publish(name: string, node: BaseNode): Promise<number> {
    if (!this.knownHosts.has(node.host)) {
      await this.hostLocks.run(`resolve:${node.host}`, async () => {
        if (this.knownHosts.has(node.host)) return;
        const q = encodeURIComponent(`"iSCSIPaths[name==${node.iqn}]"`);
        const found = expect(await this.c.request('GET', `/api/v1/hosts?query=${q}`), [200, 404], 'query hosts');
        if (found.status === 404 || (JSON.parse(found.body) as { members: unknown[] }).members.length === 0) {
          expect(
            await this.c.request('POST', '/api/v1/hosts', {
              name: node.host,
              iSCSINames: [node.iqn],
              persona: 2,
              descriptors: { comment: `{"v":1,"o":"bench","n":"${node.host}"}` },
            }),
            [201],
            'create host',
          );
        }
        this.knownHosts.add(node.host);
      });
    }
    return this.hostLocks.run(node.host, async () => {
      const before = await this.vlunsOf(name);
      const existing = before.find((l) => l.hostname === node.host);
      if (existing) return existing.lun;
      const made = expect(
        await this.c.request('POST', '/api/v1/vluns', {
          volumeName: name,
          hostname: node.host,
          lun: 0,
          autoLun: true,
          maxAutoLun: 0,
        }),
        [201],
        'create VLUN',
      );
      const lun = Number(made.location?.split(',')[1]);
      const after = await this.vlunsOf(name);
      if (!after.some((l) => l.hostname === node.host)) throw new Error(`VLUN of ${name} not listed`);
      return lun;
    });
  }

  async unpublish(name: string, node: BaseNode): Promise<void> {
    const rules = (await this.vlunsOf(name)).filter((l) => l.hostname === node.host);
    if (rules.length === 0) return;
    await this.hostLocks.run(node.host, async () => {
      for (const l of rules)
        expect(
          await this.c.request(
            'DELETE',
            `/api/v1/vluns/${encodeURIComponent(l.volumeName)},${l.lun},${encodeURIComponent(node.host)}`,
          ),
          [200, 404],
          'delete VLUN',
        );
      // Tried every time: the array refuses while the host still exports something.
      const d = expect(await this.c.request('DELETE', `/api/v1/hosts/${node.host}`), [200, 404, 409], 'delete host');
      if (d.status === 200) this.knownHosts.delete(node.host);
    });
  }

  async delete(name: string): Promise<void> {
    const a = expect(await this.c.request('GET', `/api/v1/volumes/${name}`), [200, 404], 'read volume');
    if (a.status === 404) return;
    expect(await this.c.request('DELETE', `/api/v1/volumes/${name}`), [200], 'delete volume');
  }
}
