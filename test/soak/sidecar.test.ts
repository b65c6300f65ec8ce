/**
 * Issue 18, case 7: the soak's client retries like external-provisioner — the same request
 * again with a doubling interval up to a maximum, never giving up on an object that exists (the
 * old client gave up after a budget and the soak then counted the driver's late result as a
 * leak) — and stops only on a final code or when an operation is stuck far beyond any fault.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { CsiServer, type ControllerImpl } from '../../src/csi/server.js';
import { createIdentity, Readiness } from '../../src/csi/identity.js';
import { DriverError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { OperationFailed, RETRY_INTERVAL_MAX_MS, RETRY_INTERVAL_START_MS, Sidecar } from '../../src/soak/sidecar.js';
import { Prng } from '../../src/soak/prng.js';
import { tempSocket } from '../helpers/grpc.js';

let server: CsiServer;
let dir: string;
let endpoint: string;
/** CreateVolume answers UNAVAILABLE this many times, then OK; counts what arrived. */
let failFirst = 0;
let calls = 0;

beforeAll(async () => {
  const sock = tempSocket('sidecar-');
  dir = sock.dir;
  endpoint = sock.endpoint;
  const controller = {
    CreateVolume: async (req: { name: string }) => {
      if (calls++ < failFirst) throw new DriverError('unavailable', 'array busy');
      if (req.name === 'bad') throw new DriverError('invalid-argument', 'no');
      return {
        volume: {
          volume_id: `b/${req.name}`,
          capacity_bytes: '1',
          volume_context: {},
          content_source: null,
          accessible_topology: [],
        },
      };
    },
  } as unknown as ControllerImpl;
  server = new CsiServer({
    endpoint,
    services: {
      identity: createIdentity({
        driverName: 'd.example.com',
        vendorVersion: 't',
        controller: true,
        groupController: false,
        topology: false,
        readiness: new Readiness(),
      }),
      controller,
    },
    log: silentLogger,
  });
  await server.start();
});
afterAll(async () => {
  await server?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

describe('soak sidecar retries (issue 18 case 7)', () => {
  it("uses external-provisioner's retry defaults: 1 s doubling to 5 min", () => {
    expect(RETRY_INTERVAL_START_MS).toBe(1000);
    expect(RETRY_INTERVAL_MAX_MS).toBe(300_000);
  });

  it('retries until the driver succeeds, with doubling intervals capped at the maximum, and does not give up', async () => {
    failFirst = 7;
    calls = 0;
    const sidecar = new Sidecar([endpoint], endpoint, new Prng(1), {
      timeoutMs: 5000,
      stuckAfterMs: 60_000,
      retryStartMs: 5,
      retryMaxMs: 40,
    });
    try {
      const res = await sidecar.controller<{ volume: { volume_id: string } }>('CreateVolume', { name: 'pvc-1' });
      expect(res.volume.volume_id).toBe('b/pvc-1');
      expect(calls).toBe(8);
      // Intervals 5, 10, 20, 40, 40, 40, 40 ms: doubling, then capped.
      expect(sidecar.stats.maxBackoffMs).toBe(40);
      expect(sidecar.stats.failures.get('CreateVolume UNAVAILABLE')).toBe(7);
    } finally {
      sidecar.close();
    }
  });

  it('stops at once on a final code, and reports an operation that never succeeds as stuck', async () => {
    failFirst = 0;
    calls = 0;
    const sidecar = new Sidecar([endpoint], endpoint, new Prng(1), {
      timeoutMs: 5000,
      stuckAfterMs: 60_000,
      retryStartMs: 5,
      retryMaxMs: 40,
    });
    try {
      const err = await sidecar.controller('CreateVolume', { name: 'bad' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OperationFailed);
      expect(calls).toBe(1);
    } finally {
      sidecar.close();
    }
    failFirst = Infinity;
    calls = 0;
    const stuck = new Sidecar([endpoint], endpoint, new Prng(1), {
      timeoutMs: 5000,
      stuckAfterMs: 0,
      retryStartMs: 5,
      retryMaxMs: 40,
    });
    try {
      const err = await stuck.controller('CreateVolume', { name: 'pvc-2' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OperationFailed);
      expect((err as Error).message).toMatch(/STUCK/);
    } finally {
      stuck.close();
    }
  });
});
