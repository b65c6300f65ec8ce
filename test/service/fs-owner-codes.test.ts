/**
 * fsOwner / fsMode refused with INVALID_ARGUMENT and a message naming the key and the accepted
 * form, on both sides of the one parser (src/host/owner.ts, issue 15 review): CreateVolume over
 * the real gRPC server (a StorageClass parameter), and NodeStageVolume (the volume_context of a
 * static PV) before anything is attached or recorded.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { createNodeService } from '../../src/csi/node.js';
import { toStatus } from '../../src/csi/errors.js';
import type { Exec } from '../../src/host/exec.js';
import { silentLogger } from '../../src/log.js';
import { grpcStatus } from '../helpers/grpc.js';
import { backendOf, mountCap, startDriver, startSim, GiB, type Driver } from '../helpers/controller-harness.js';

let sim: RunningSimulator;
let d: Driver;
beforeAll(async () => {
  sim = await startSim();
  d = await startDriver([backendOf(sim, 'sim')]);
});
afterAll(async () => {
  await d.stop();
  await sim.close();
});

const cases = [
  ['fsOwner', '4294967295:0', /fsOwner.*uid:gid in decimal, each 0-4294967294/],
  ['fsOwner', 'root:root', /fsOwner.*uid:gid in decimal, each 0-4294967294/],
  ['fsMode', '999', /fsMode.*an octal mode such as 0770/],
  ['fsMode', '0o770', /fsMode.*an octal mode such as 0770/],
] as const;

it.each(cases)(
  'CreateVolume with %s %j: INVALID_ARGUMENT naming it and the accepted form',
  async (key, value, message) => {
    const err = await d.client
      .call('CreateVolume', {
        name: `pvc-bad-${key}`,
        volume_capabilities: [mountCap()],
        capacity_range: { required_bytes: String(GiB) },
        parameters: { cpg: 'CPG1', [key]: value },
      })
      .then(
        () => undefined,
        (e: unknown) => e as ServiceError,
      );
    expect(err?.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err?.details).toMatch(message);
  },
);

it.each(cases)(
  'NodeStageVolume with volume_context %s %j: INVALID_ARGUMENT naming it, nothing run',
  async (key, value, message) => {
    const dir = mkdtempSync(join(tmpdir(), '3par-fsowner-'));
    const ran: string[] = [];
    const exec: Exec = async (command) => {
      ran.push(command);
      throw new Error(`nothing may run: ${command}`);
    };
    try {
      const node = createNodeService({
        driverName: 'csi.3par.test',
        nodeName: 'n',
        backendIds: [],
        maxVolumesPerNode: 0,
        kubeletDir: dir,
        exec,
        hostExec: 'direct',
        log: silentLogger,
      });
      const req = {
        volume_id: 'sim/v1',
        staging_target_path: join(dir, 'staging'),
        volume_capability: {
          mount: { fs_type: '', mount_flags: [], volume_mount_group: '' },
          access_mode: { mode: 'SINGLE_NODE_WRITER' as const },
          access_type: 'mount' as const,
        },
        publish_context: { protocol: 'loop', wwn: '60002AC000000000000000160001C0A1', lun: '0' },
        secrets: {},
        volume_context: { [key]: value },
      };
      const status = await node
        .NodeStageVolume(req, { rpc: 'test', log: silentLogger, signal: new AbortController().signal })
        .then(
          () => undefined,
          (e: unknown) => toStatus(e),
        );
      expect(status?.code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(status?.message).toMatch(new RegExp(`volume_context\\.${message.source}`));
      expect(ran).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
