/**
 * The gRPC server plumbing over a real unix socket: Identity, error mapping, deadlines as
 * AbortSignals, secrets kept out of logs, graceful stop, and the socket-path rules.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { CsiServer, type CallContext, type ControllerImpl, type IdentityImpl } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { loadCsi } from '../../src/csi/proto.js';
import { DriverError, type DriverErrorKind } from '../../src/errors.js';
import { KIND_TO_STATUS } from '../../src/csi/errors.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { sleep } from '../../src/util/abort.js';
import { CsiTestClient, codeOf, grpcStatus, tempSocket } from '../helpers/grpc.js';
import { captureLog } from '../helpers/logs.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function identity(readiness = new Readiness()): IdentityImpl {
  return createIdentity({
    driverName: 'csi.test.example.com',
    vendorVersion: '9.9.9',
    controller: true,
    groupController: false,
    topology: false,
    readiness,
  });
}

/** A Controller whose every RPC runs `fn` — enough to exercise the wrapper. */
function fakeController(fn: (req: unknown, ctx: CallContext) => Promise<unknown>): ControllerImpl {
  const names = Object.keys(loadCsi().csi.v1.Controller.service).filter((k) => /^[A-Z]/.test(k));
  return Object.fromEntries(names.map((n) => [n, fn])) as unknown as ControllerImpl;
}

async function start(
  services: ConstructorParameters<typeof CsiServer>[0]['services'],
  log = silentLogger,
  metrics?: Metrics,
) {
  const sock = tempSocket();
  const server = new CsiServer({ endpoint: sock.endpoint, services, log, metrics });
  await server.start();
  const clients: CsiTestClient[] = [];
  const client = <S extends 'Identity' | 'Controller'>(svc: S) => {
    const c = new CsiTestClient(svc, `unix://${sock.path}`);
    clients.push(c);
    return c;
  };
  cleanups.push(async () => {
    for (const c of clients) c.close();
    await server.stop(1000);
    rmSync(sock.dir, { recursive: true, force: true });
  });
  return { server, sock, client };
}

describe('Identity over a unix socket', () => {
  test('GetPluginInfo, GetPluginCapabilities and Probe', async () => {
    const readiness = new Readiness();
    const { client } = await start({ identity: identity(readiness) });
    const id = client('Identity');
    expect(await id.call('GetPluginInfo')).toMatchObject({ name: 'csi.test.example.com', vendor_version: '9.9.9' });
    const caps = await id.call('GetPluginCapabilities');
    expect(caps.capabilities.map((c) => c.service?.type ?? c.volume_expansion?.type)).toEqual([
      'CONTROLLER_SERVICE',
      'ONLINE',
    ]);
    expect(await id.call('Probe')).toEqual({ ready: { value: false } });
    readiness.setReady();
    expect(await id.call('Probe')).toEqual({ ready: { value: true } });
  });

  test('the socket is created with restrictive permissions', async () => {
    const { sock } = await start({ identity: identity() });
    expect(statSync(sock.path).mode & 0o777).toBe(0o660);
  });

  test('a client sending :authority "localhost", as grpc-go clients (kubelet ≥ 1.26, the sidecars) do over a unix socket, is served', async () => {
    const { sock } = await start({ identity: identity() });
    const c = new CsiTestClient('Identity', `unix://${sock.path}`, { 'grpc.default_authority': 'localhost' });
    try {
      expect(await c.call('GetPluginInfo')).toMatchObject({ name: 'csi.test.example.com' });
    } finally {
      c.close();
    }
  });
});

describe('the RPC wrapper', () => {
  test.each(Object.entries(KIND_TO_STATUS))('a handler throwing %s yields the mapped code', async (kind, code) => {
    const { client } = await start({
      identity: identity(),
      controller: fakeController(async () => {
        throw new DriverError(kind as DriverErrorKind, `kind ${kind}`);
      }),
    });
    expect(await codeOf(client('Controller').call('DeleteVolume', { volume_id: 'x/y' }))).toBe(code);
  });

  test('an unexpected error is INTERNAL and logged once with its stack', async () => {
    const cap = captureLog();
    const { client } = await start(
      {
        identity: identity(),
        controller: fakeController(async () => {
          throw new TypeError('boom');
        }),
      },
      cap.log,
    );
    expect(await codeOf(client('Controller').call('DeleteVolume', { volume_id: 'x/y' }))).toBe(grpcStatus.INTERNAL);
    const errors = cap.lines().filter((l) => l.includes('"level":"error"'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('TypeError: boom');
  });

  test("a call's deadline fires its AbortSignal", async () => {
    let aborted: boolean | undefined;
    let resolveSeen!: () => void;
    const seen = new Promise<void>((r) => (resolveSeen = r));
    const { client } = await start({
      identity: identity(),
      controller: fakeController(async (_req, ctx) => {
        try {
          // Only the abort can end this wait.
          await sleep(600_000, ctx.signal);
          aborted = false;
        } catch {
          aborted = ctx.signal.aborted;
        }
        resolveSeen();
        return {};
      }),
    });
    expect(await codeOf(client('Controller').call('DeleteVolume', { volume_id: 'x/y' }, { deadlineMs: 200 }))).toBe(
      grpcStatus.DEADLINE_EXCEEDED,
    );
    await seen;
    expect(aborted).toBe(true);
  });

  test('secrets in a request never reach the logs', async () => {
    const cap = captureLog('trace');
    const { client } = await start({ identity: identity(), controller: fakeController(async () => ({})) }, cap.log);
    await client('Controller').call('DeleteVolume', {
      volume_id: 'sim/v1',
      secrets: { password: 'hunter2-SECRET', chapSecret: 'chap-SECRET-xyz' },
    });
    await client('Controller').call('CreateVolume', {
      name: 'pvc-1',
      secrets: { anything: 'opaque-SECRET-value' },
      parameters: { cpg: 'FC_r6' },
    });
    const text = cap.text();
    expect(text).toContain('sim/v1');
    expect(text).toContain('FC_r6');
    for (const secret of ['hunter2-SECRET', 'chap-SECRET-xyz', 'opaque-SECRET-value'])
      expect(text).not.toContain(secret);
  });

  test('metrics count RPCs by method and code', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const { client } = await start({ identity: identity() }, silentLogger, metrics);
    await client('Identity').call('Probe');
    await client('Identity').call('Probe');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/threepar_csi_rpc_total\{method="Probe",code="OK"\} 2/);
  });
});

describe('lifecycle and the socket path', () => {
  test('stop lets an in-flight RPC finish, then removes the socket', async () => {
    const sock = tempSocket();
    cleanups.push(() => rmSync(sock.dir, { recursive: true, force: true }));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const server = new CsiServer({
      endpoint: sock.endpoint,
      log: silentLogger,
      services: {
        identity: identity(),
        controller: fakeController(async () => {
          entered();
          await finished;
          return { volume: { volume_id: 'sim/done', capacity_bytes: '1' } };
        }),
      },
    });
    await server.start();
    const c = new CsiTestClient('Controller', `unix://${sock.path}`);
    const inFlight = c.call('CreateVolume', { name: 'x' });
    await inHandler;
    // The grace period is a safety net; the RPC ends when the test lets it, after stop began.
    const stopped = server.stop(60_000);
    finish();
    await stopped;
    expect((await inFlight).volume!.volume_id).toBe('sim/done');
    expect(existsSync(sock.path)).toBe(false);
    c.close();
  });

  test('a stale socket left by a previous run is replaced', async () => {
    const sock = tempSocket();
    cleanups.push(() => rmSync(sock.dir, { recursive: true, force: true }));
    // A previous run killed with SIGKILL leaves its socket file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock.path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(statSync(sock.path).isSocket()).toBe(true);
    const second = new CsiServer({ endpoint: sock.endpoint, log: silentLogger, services: { identity: identity() } });
    await second.start();
    const c = new CsiTestClient('Identity', `unix://${sock.path}`);
    expect(await c.call('GetPluginInfo')).toMatchObject({ name: 'csi.test.example.com' });
    c.close();
    await second.stop(1000);
  });

  test('a socket another live server is using is refused', async () => {
    const { sock } = await start({ identity: identity() });
    const second = new CsiServer({ endpoint: sock.endpoint, log: silentLogger, services: { identity: identity() } });
    await expect(second.start()).rejects.toThrow(/in use/);
  });

  test('a regular file at the socket path is left untouched and reported', async () => {
    const sock = tempSocket();
    cleanups.push(() => rmSync(sock.dir, { recursive: true, force: true }));
    writeFileSync(sock.path, 'precious data');
    const server = new CsiServer({ endpoint: sock.endpoint, log: silentLogger, services: { identity: identity() } });
    await expect(server.start()).rejects.toThrow(/not a socket/);
    expect(readFileSync(sock.path, 'utf8')).toBe('precious data');
  });
});
