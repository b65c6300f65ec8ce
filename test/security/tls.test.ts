/**
 * TLS to the array, end to end through the driver: verification is on by default, so an array
 * with a self-signed certificate is refused unless the backend names its CA or sets
 * insecureSkipVerify explicitly — which works and is warned about in the log.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError, parseBackends, type BackendConfig } from '../../src/config/backends.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { serveDriver } from '../helpers/driver-harness.js';
import { grpcStatus } from '../helpers/grpc.js';
import { scannedLog } from '../helpers/secrets.js';

const PASSWORD = 'tls-test-array-password';
const cap = scannedLog({ level: 'debug', secrets: [PASSWORD] });
const mount = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ https: true, password: PASSWORD, tickMs: 10 });
});
afterAll(async () => {
  await sim.close();
});

/** Runs CreateVolume through a driver with this backend; resolves with the gRPC code and message. */
async function createThrough(extra: Partial<BackendConfig>, name: string): Promise<{ code: number; details: string }> {
  const driver = await serveDriver({
    mode: 'controller',
    driverName: 'csi.3par.tls.example.com',
    clusterId: 'tls',
    backends: [{ id: 'arr', url: sim.url, username: sim.username, password: PASSWORD, defaultCpg: 'SSD_r6', ...extra }],
    log: cap.log,
    shutdownGraceMs: 500,
  });
  try {
    await driver.controller.call('CreateVolume', {
      name,
      capacity_range: { required_bytes: String(1 << 30) },
      volume_capabilities: [mount],
      parameters: {},
    });
    return { code: 0, details: '' };
  } catch (err) {
    const e = err as { code: number; details: string };
    return { code: e.code, details: e.details };
  } finally {
    await driver.close(500);
  }
}

describe('TLS to the array', () => {
  it('is verified by default: a self-signed array certificate is refused, nothing is created', async () => {
    expect(sim.url).toMatch(/^https:/);
    const res = await createThrough({}, 'pvc-no-ca');
    expect(res.code).toBe(grpcStatus.UNAVAILABLE);
    expect(res.details).toMatch(/caCert/);
    expect(sim.array.volumes).toHaveLength(0);
  });

  it('is refused with a CA that did not sign the certificate', async () => {
    const other = await startSimulator({ https: true });
    try {
      const res = await createThrough({ caCert: other.caCert! }, 'pvc-wrong-ca');
      expect(res.code).toBe(grpcStatus.UNAVAILABLE);
      expect(sim.array.volumes).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('works with the CA that signed it', async () => {
    expect(await createThrough({ caCert: sim.caCert! }, 'pvc-with-ca')).toEqual({ code: 0, details: '' });
    expect(sim.array.volumes).toHaveLength(1);
  });

  it('works with insecureSkipVerify set explicitly, and warns about it', async () => {
    const from = cap.lines().length;
    expect(await createThrough({ insecureSkipVerify: true }, 'pvc-insecure')).toEqual({ code: 0, details: '' });
    const warnings = cap
      .lines()
      .slice(from)
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((l) => l.level === 'warn' && /insecureSkipVerify/.test(l.msg));
    expect(warnings).toHaveLength(1);
  });

  it('takes only explicit settings from the backends file: a PEM CA, a boolean insecureSkipVerify', () => {
    const base = { id: 'a', url: 'https://array.example:8080', username: 'u', password: 'p' };
    expect(() => parseBackends([{ ...base, caCert: 'not a certificate' }])).toThrow(ConfigError);
    expect(() => parseBackends([{ ...base, insecureSkipVerify: 'yes' }])).toThrow(ConfigError);
    expect(parseBackends([base])[0]!.insecureSkipVerify).toBeUndefined();
  });
});
