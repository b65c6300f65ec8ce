/**
 * A real Kubernetes control plane for one test file, all on 127.0.0.1 with free ports and
 * certificates made for the run: etcd (Debian's etcd-server), kube-apiserver with RBAC,
 * kube-controller-manager (only the controllers the flows use) and kube-scheduler. Flags follow
 * ../shared/tools/k8s/README.md ("a control plane that came up here"). Every process logs to a
 * file in the run's directory; a failure names the file and quotes its tail.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { ETCD, binary } from './tools.js';

/** A child process of the run, its log file, and how to stop it. */
export class Proc {
  exited: { code: number | null; signal: string | null } | undefined;
  private readonly done: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.done = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve();
      }),
    );
  }

  /** The last lines of the process's log. */
  tail(lines = 25): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM, then SIGKILL when it has not exited after `graceMs` (a safety net). */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await this.done;
    }
  }

  wait(): Promise<void> {
    return this.done;
  }
}

/** Starts a process whose stdout and stderr go to `<dir>/<name>.log`. */
export function startProc(
  dir: string,
  name: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Proc {
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  writeFileSync(fd, `$ ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  return new Proc(name, child, logFile);
}

/** A TCP port free on 127.0.0.1 now (the OS picks it; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The run's certificates: a CA, the apiserver's serving pair, an admin client pair, SA keys. */
interface Pki {
  caCrt: string;
  caKey: string;
  apiCrt: string;
  apiKey: string;
  adminCrt: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

function makePki(dir: string): Pki {
  const p = (f: string): string => join(dir, f);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=3par-csi-test-ca',
  );
  const leaf = (name: string, subj: string, ext: string): void => {
    writeFileSync(p(`${name}.ext`), ext);
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      subj,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  leaf(
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  leaf('admin', '/O=system:masters/CN=test-admin', 'extendedKeyUsage=clientAuth\n');
  ssl('genrsa', '-out', p('sa.key'), '2048');
  ssl('rsa', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub'));
  return {
    caCrt: p('ca.crt'),
    caKey: p('ca.key'),
    apiCrt: p('apiserver.crt'),
    apiKey: p('apiserver.key'),
    adminCrt: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

/** A kubeconfig file for the run's apiserver with either a client certificate or a bearer token. */
export function kubeconfigText(
  server: string,
  caFile: string,
  user: { certFile: string; keyFile: string } | { token: string },
): string {
  const u =
    'token' in user
      ? `    token: ${user.token}`
      : `    client-certificate: ${user.certFile}\n    client-key: ${user.keyFile}`;
  return `apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: ${server}\n    certificate-authority: ${caFile}\nusers:\n- name: u\n  user:\n${u}\ncontexts:\n- name: test\n  context: {cluster: test, user: u}\ncurrent-context: test\n`;
}

/** The controllers of kube-controller-manager the flows rely on (and nothing else, to stay lean). */
export const CONTROLLERS = [
  'serviceaccount-controller', // the `default` ServiceAccount pods need
  'serviceaccount-token-controller',
  'persistentvolume-binder-controller', // binds PVCs to the PVs the provisioner creates; WaitForFirstConsumer
  'persistentvolume-attach-detach-controller', // VolumeAttachments for scheduled pods
  'persistentvolume-protection-controller',
  'persistentvolumeclaim-protection-controller',
  'volumeattributesclass-protection-controller',
];

export interface Cluster {
  dir: string;
  server: string;
  pki: Pki;
  admin: KubeConfig;
  adminKubeconfig: string;
  procs: Proc[];
  /** A kubeconfig file authenticating as ServiceAccount `ns/name` with a TokenRequest token. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

/** GET `path` on the apiserver as admin; resolves the status and body. */
function adminGet(server: string, pki: Pki, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      `${server}${path}`,
      { ca: readFileSync(pki.caCrt), cert: readFileSync(pki.adminCrt), key: readFileSync(pki.adminKey), timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, body: String(err) }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Repeats `probe` until it resolves true; fails naming `what` (and the processes' logs) after `timeoutMs`. */
async function until(what: string, probe: () => Promise<boolean>, procs: Proc[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead)
      throw new Error(
        `${dead.name} exited (${JSON.stringify(dead.exited)}) while waiting for ${what}; ${dead.logFile}:\n${dead.tail()}`,
      );
    if (await probe()) return;
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; logs: ${procs.map((p) => p.logFile).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts etcd, the apiserver, the controller-manager and the scheduler in `dir`. */
export async function startCluster(dir: string): Promise<Cluster> {
  mkdirSync(dir, { recursive: true });
  const pki = makePki(dir);
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    procs.push(
      startProc(dir, 'etcd', ETCD, [
        '--name=t',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=t=${peerUrl}`,
      ]),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    procs.push(
      startProc(dir, 'kube-apiserver', binary('kube-apiserver'), [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${pki.apiCrt}`,
        `--tls-private-key-file=${pki.apiKey}`,
        `--client-ca-file=${pki.caCrt}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--endpoint-reconciler-type=none',
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        // Debian's etcd 3.4.23 predates the watch-progress fix (3.4.31) that the watch cache's
        // consistent reads rely on: with the cache, lists and watches fail now and then with
        // "Too large resource version" on a loaded machine. Reads go to etcd instead.
        '--watch-cache=false',
      ]),
    );
    await until(
      'kube-apiserver /readyz',
      async () => (await adminGet(server, pki, '/readyz')).body === 'ok',
      procs,
      180_000,
    );
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(
      adminKubeconfig,
      kubeconfigText(server, pki.caCrt, { certFile: pki.adminCrt, keyFile: pki.adminKey }),
    );
    const common = [
      `--kubeconfig=${adminKubeconfig}`,
      `--authentication-kubeconfig=${adminKubeconfig}`,
      `--authorization-kubeconfig=${adminKubeconfig}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
    ];
    procs.push(
      startProc(dir, 'kube-controller-manager', binary('kube-controller-manager'), [
        ...common,
        `--secure-port=${kcmPort}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCrt}`,
        `--cluster-signing-cert-file=${pki.caCrt}`,
        `--cluster-signing-key-file=${pki.caKey}`,
      ]),
    );
    procs.push(startProc(dir, 'kube-scheduler', binary('kube-scheduler'), [...common, `--secure-port=${schedPort}`]));
    const admin = new KubeConfig();
    admin.loadFromFile(adminKubeconfig);
    const core = admin.makeApiClient(CoreV1Api);
    // Pods need the `default` ServiceAccount, which the controller-manager creates.
    await until(
      'the default ServiceAccount',
      async () => {
        try {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
          return true;
        } catch {
          return false;
        }
      },
      procs,
      180_000,
    );
    return {
      dir,
      server,
      pki,
      admin,
      adminKubeconfig,
      procs,
      async serviceAccountKubeconfig(namespace, name) {
        const tr = await core.createNamespacedServiceAccountToken({
          name,
          namespace,
          body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
        });
        const file = join(dir, `sa-${namespace}-${name}.kubeconfig`);
        writeFileSync(file, kubeconfigText(server, pki.caCrt, { token: tr.status!.token }), { mode: 0o600 });
        return file;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A generic object of any kind, as read from the API. */
export type Obj = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
};

/**
 * Waits until the object at `listPath` named `name` satisfies `pred`, through a watch (the first
 * events are the object's current state). `timeoutMs` is a safety net: it fails naming what was
 * awaited and the last state seen. `pred` may throw to fail the wait at once (a terminal state).
 */
export async function waitFor<T = Obj>(
  kc: KubeConfig,
  listPath: string,
  name: string,
  what: string,
  pred: (o: T) => boolean,
  timeoutMs = 120_000,
  diagnose?: () => string,
): Promise<T> {
  return waitForAny<T>(kc, listPath, `metadata.name=${name}`, what, pred, timeoutMs, diagnose);
}

/** As waitFor, for the first object a field selector matches that satisfies `pred`. */
export async function waitForAny<T = Obj>(
  kc: KubeConfig,
  listPath: string,
  fieldSelector: string,
  what: string,
  pred: (o: T) => boolean,
  timeoutMs = 120_000,
  diagnose?: () => string,
): Promise<T> {
  let last: T | undefined;
  return watchUntil<T, T>(
    kc,
    listPath,
    () => ({ fieldSelector }),
    timeoutMs,
    () => `${what}; last seen: ${JSON.stringify(last ?? null)}${diagnose ? diagnose() : ''}`,
    (phase, obj) => {
      // ERROR carries a Status (e.g. a watch the server expired): the watch ends and is opened again.
      if (phase === 'DELETED' || phase === 'ERROR') return undefined;
      last = obj;
      return pred(obj) ? { value: obj } : undefined;
    },
  );
}

/**
 * Watches `listPath` until `onEvent` returns a result (or throws, which fails the wait at once).
 * A watch the server closes (its timeout, an expired version) is opened again with `query()`;
 * `timeoutMs` is a safety net whose error names `what()`.
 */
async function watchUntil<T, R>(
  kc: KubeConfig,
  listPath: string,
  query: () => Record<string, string | undefined>,
  timeoutMs: number,
  what: () => string,
  onEvent: (phase: string, obj: T) => { value: R } | undefined,
): Promise<R> {
  const watch = new Watch(kc);
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  try {
    return await new Promise<R>((resolve, reject) => {
      timer = setTimeout(() => {
        settled = true;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      const start = (): void => {
        watch
          .watch(
            listPath,
            query(),
            (phase, obj: T) => {
              if (settled) return;
              try {
                const r = onEvent(phase, obj);
                if (r) {
                  settled = true;
                  resolve(r.value);
                }
              } catch (err) {
                settled = true;
                reject(err instanceof Error ? err : new Error(String(err)));
              }
            },
            () => {
              if (!settled) start();
            },
          )
          .then((c) => {
            controller = c;
            if (settled) c.abort();
          }, reject);
      };
      start();
    });
  } finally {
    settled = true;
    clearTimeout(timer);
    controller?.abort();
  }
}

/** Which object: what KubernetesObjectApi needs to list it, and the path to watch it. */
export interface Ref {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * Waits until an object no longer exists: a list (fieldSelector on its name) gives the state and
 * its resourceVersion, then a watch from that version sees the DELETED event.
 */
export async function waitGone(kc: KubeConfig, ref: Ref, listPath: string, timeoutMs = 120_000): Promise<void> {
  const what = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name} to be gone`;
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const list = await objects.list(
    ref.apiVersion,
    ref.kind,
    ref.namespace,
    undefined,
    undefined,
    undefined,
    `metadata.name=${ref.name}`,
  );
  if (list.items.length === 0) return;
  let rv = list.metadata?.resourceVersion;
  await watchUntil<Obj, true>(
    kc,
    listPath,
    () => ({ fieldSelector: `metadata.name=${ref.name}`, resourceVersion: rv }),
    timeoutMs,
    () => what,
    (phase, obj) => {
      if (phase === 'ERROR') return undefined;
      rv = obj.metadata?.resourceVersion ?? rv;
      return phase === 'DELETED' ? { value: true } : undefined;
    },
  );
}
