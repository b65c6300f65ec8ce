/**
 * Secrets never reach a log: the array password, CHAP secrets (backend settings and node-stage
 * secrets), secrets maps in requests, and WSAPI session keys. The driver runs the control-plane
 * lifecycle at debug level — logins, a forced re-login after every session expired, a CHAP host,
 * copies, failures of many kinds, a backend with a wrong password — and the whole captured
 * output is scanned (test/helpers/secrets.ts) after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ExecError, type Exec } from '../../src/host/exec.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { serveDriver, type ServedDriver } from '../helpers/driver-harness.js';
import type { CsiTestClient } from '../helpers/grpc.js';
import { findSecrets, scannedLog } from '../helpers/secrets.js';

const ARRAY_PASSWORD = 'Array-Pa55word-secret';
const WRONG_PASSWORD = 'Wrong-Pa55word-secret';
const CHAP_SECRET = 'chapsecret-1234';
const STAGE_CHAP = 'stagechap-56789';
const REQUEST_SECRET = 'request-secret-value';
const cap = scannedLog({
  level: 'trace',
  secrets: [ARRAY_PASSWORD, WRONG_PASSWORD, CHAP_SECRET, STAGE_CHAP, REQUEST_SECRET],
});
const mount = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const GiB = 1024 ** 3;

/** The node side runs no command here: staging fails, after the request was logged. */
const noHost: Exec = async (command) => {
  throw new ExecError({ commandLine: command, failure: 'spawn', exitCode: null, stdout: '', stderr: '' });
};

let dir: string;
let sim: RunningSimulator;
let served: ServedDriver;
let ctl: CsiTestClient<'Controller'>;
let node: CsiTestClient<'Node'>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sec-secrets-'));
  sim = await startSimulator({
    password: ARRAY_PASSWORD,
    dataDir: join(dir, 'array'),
    tickMs: 10,
    copyRateMiBps: 100_000,
  });
  served = await serveDriver({
    base: dir,
    driverName: 'csi.3par.secrets.example.com',
    clusterId: 'secrets',
    nodeName: 'sec-node',
    backends: [
      {
        id: 'good',
        url: sim.url,
        username: sim.username,
        password: ARRAY_PASSWORD,
        default: true,
        defaultCpg: 'SSD_r6',
        defaultAccessProtocol: 'loop',
        chap: { user: 'chapuser', secret: CHAP_SECRET },
      },
      { id: 'bad', url: sim.url, username: sim.username, password: WRONG_PASSWORD, defaultCpg: 'SSD_r6' },
    ],
    simDataDir: join(dir, 'array'),
    exec: noHost,
    log: cap.log,
    shutdownGraceMs: 500,
  });
  ({ controller: ctl, node } = served);
});

afterAll(async () => {
  await served?.stop(500);
  await sim?.close();
  if (served) await served.close();
  else rmSync(dir, { recursive: true, force: true });
});

const settle = (p: Promise<unknown>): Promise<unknown> => p.catch((e: unknown) => e);

describe('secrets in logs', () => {
  it('the lifecycle at trace level logs no password, CHAP secret, request secret or session key', async () => {
    const secrets = { password: REQUEST_SECRET, chapSecret: REQUEST_SECRET, [REQUEST_SECRET]: 'x' };
    const v = await ctl.call('CreateVolume', {
      name: 'pvc-sec',
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mount],
      parameters: {},
      secrets,
    });
    const id = v.volume!.volume_id;
    const info = await node.call('NodeGetInfo', {});
    const pub = await ctl.call('ControllerPublishVolume', {
      volume_id: id,
      node_id: info.node_id,
      volume_capability: mount,
      readonly: false,
      volume_context: v.volume!.volume_context,
      secrets,
    });
    expect(JSON.stringify(pub)).not.toContain(CHAP_SECRET);
    await settle(
      node.call('NodeStageVolume', {
        volume_id: id,
        publish_context: pub.publish_context,
        staging_target_path: join(dir, 'staging'),
        volume_capability: mount,
        volume_context: v.volume!.volume_context,
        secrets: { chapUser: 'u', chapSecret: STAGE_CHAP },
      }),
    );

    // Every session expires: the driver logs in again (the login carries the password).
    sim.faults.expireSessions();
    const snap = await ctl.call('CreateSnapshot', { source_volume_id: id, name: 'snap-sec', parameters: {}, secrets });
    const clone = await ctl.call('CreateVolume', {
      name: 'pvc-sec-clone',
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capabilities: [mount],
      parameters: {},
      volume_content_source: { volume: { volume_id: id } },
    });
    await ctl.call('ControllerExpandVolume', {
      volume_id: id,
      capacity_range: { required_bytes: String(2 * GiB) },
      secrets,
    });

    // Failures of several kinds log their errors.
    sim.faults.failNext(500, 1, { method: 'DELETE' });
    await settle(ctl.call('DeleteSnapshot', { snapshot_id: snap.snapshot!.snapshot_id, secrets }));
    sim.faults.dropConnection('before', { method: 'GET' });
    await settle(ctl.call('ControllerGetVolume', { volume_id: id }));
    await settle(
      ctl.call('CreateVolume', {
        name: 'pvc-bad',
        capacity_range: { required_bytes: String(GiB) },
        volume_capabilities: [mount],
        parameters: { backend: 'bad' },
        secrets,
      }),
    );

    await ctl.call('ControllerUnpublishVolume', { volume_id: id, node_id: info.node_id, secrets });
    await ctl.call('DeleteSnapshot', { snapshot_id: snap.snapshot!.snapshot_id, secrets });
    await ctl.call('DeleteVolume', { volume_id: clone.volume!.volume_id, secrets });
    await ctl.call('DeleteVolume', { volume_id: id, secrets });

    // The scan is meaningful: the run logged plenty, including requests and WSAPI calls.
    const text = cap.text();
    expect(cap.lines().length).toBeGreaterThan(50);
    expect(text).toContain('"rpc":"NodeStageVolume"');
    expect(findSecrets(text, [ARRAY_PASSWORD, WRONG_PASSWORD, CHAP_SECRET, STAGE_CHAP, REQUEST_SECRET])).toEqual([]);
  });

  it('the scanner finds what it looks for (a session key, a configured secret)', () => {
    expect(findSecrets(`{"key":"0-${'a1'.repeat(16)}-deadbeef"}`)).toHaveLength(1);
    expect(findSecrets(`password ${ARRAY_PASSWORD} here`, [ARRAY_PASSWORD])).toHaveLength(1);
    expect(findSecrets('nothing to see', [ARRAY_PASSWORD])).toEqual([]);
  });
});
