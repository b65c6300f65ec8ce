/**
 * Issue 17 case 7: the driver (a real `serve` process) is SIGKILLed while it formats a new
 * volume. A test-only mkfs shim first on the driver's PATH (never in a production path) runs the
 * real mkfs, leaves the state a kill part-way leaves (XFS: the superblock's `inprogress` flag set,
 * as mkfs.xfs keeps it until it finishes; ext4: no primary superblock, over written metadata),
 * tells the test it is inside mkfs, and waits — so the kill lands during mkfs without any timing.
 * The driver is restarted without the shim; the retried NodeStage formats the device again and
 * mounts a clean filesystem. A volume that held a filesystem before is never formatted.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { spawnExec } from '../../src/host/exec.js';
import { StateStore } from '../../src/host/state.js';
import { CsiTestClient } from '../helpers/grpc.js';
import { DRIVER, NodeHarness, mountCap, rootSkipReason, stageReq } from './harness.js';
import { describeUnless } from '../helpers/skip.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const skip = rootSkipReason() ?? (existsSync(BIN) ? undefined : `${BIN} is missing — run "npm run build" first`);
const d = describeUnless(skip);

/** Safety net of every wait below; reaching it fails the test with a message saying so. */
const SAFETY_MS = 60_000;

const SHIM = `#!/bin/sh
# Test-only mkfs shim: the real mkfs, then what a kill part-way leaves, then it waits to be killed.
set -e
tool=$(basename "$0")
for a in "$@"; do dev="$a"; done
PATH="$REAL_PATH" "$tool" "$@" >/dev/null 2>&1
case "$tool" in
  mkfs.xfs) PATH="$REAL_PATH" xfs_db -x -c 'sb 0' -c 'write inprogress 1' "$dev" >/dev/null 2>&1 ;;
  mkfs.ext4) dd if=/dev/zero of="$dev" bs=1024 seek=1 count=1 conv=notrunc,fsync 2>/dev/null ;;
esac
echo $$ > "$MKFS_MARKER.tmp"
mv "$MKFS_MARKER.tmp" "$MKFS_MARKER"
exec sleep 3600
`;

d('a driver killed during mkfs (real serve process, SIGKILL)', () => {
  let h: NodeHarness;
  let shimDir: string;
  const children: ChildProcess[] = [];
  const stuckPids: number[] = [];

  beforeAll(() => {
    h = new NodeHarness();
    shimDir = h.path('shim');
    mkdirSync(shimDir);
    for (const tool of ['mkfs.ext4', 'mkfs.xfs']) {
      writeFileSync(join(shimDir, tool), SHIM);
      chmodSync(join(shimDir, tool), 0o755);
    }
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const pid of stuckPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    h.cleanup();
  });

  /** Starts `serve --mode node` on a socket of its own; resolves once it answers. */
  async function serve(
    name: string,
    withShim: boolean,
    marker: string,
  ): Promise<{ child: ChildProcess; client: CsiTestClient }> {
    const sock = h.path(`${name}.sock`);
    const env = {
      ...process.env,
      REAL_PATH: process.env['PATH'] ?? '',
      MKFS_MARKER: marker,
      PATH: withShim ? `${shimDir}:${process.env['PATH'] ?? ''}` : (process.env['PATH'] ?? ''),
    };
    const child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--mode',
        'node',
        '--endpoint',
        `unix://${sock}`,
        '--driver-name',
        DRIVER,
        '--node-name',
        'node-a',
        '--kubelet-dir',
        h.path('kubelet'),
        '--sim-data-dir',
        h.simDataDir,
        '--host-exec',
        'direct',
        '--multipath',
        'off',
        '--log-format',
        'json',
      ],
      { env, stdio: 'ignore' },
    );
    children.push(child);
    const client = new CsiTestClient('Node', `unix://${sock}`);
    const until = Date.now() + SAFETY_MS;
    for (;;) {
      try {
        await client.call('NodeGetCapabilities', {}, { deadlineMs: 2000 });
        return { child, client };
      } catch {
        if (Date.now() > until) throw new Error(`safety net: serve did not answer within ${SAFETY_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async function waitForFile(path: string): Promise<string> {
    const until = Date.now() + SAFETY_MS;
    while (!existsSync(path)) {
      if (Date.now() > until)
        throw new Error(`safety net: ${path} did not appear within ${SAFETY_MS} ms (mkfs never started?)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return readFileSync(path, 'utf8').trim();
  }

  it.each([
    ['ext4', 64],
    ['xfs', 320],
  ] as const)(
    '%s: the retried NodeStage formats the half-made filesystem again and mounts it clean',
    async (fsType, sizeMiB) => {
      const v = h.volume(`kill-${fsType}`, sizeMiB);
      const staging = h.path(`kubelet/staging-${fsType}`);
      const req = stageReq(v, staging, { cap: mountCap(fsType) });
      const marker = h.path(`in-mkfs-${fsType}`);

      const first = await serve(`first-${fsType}`, true, marker);
      const staged = first.client.call('NodeStageVolume', req, { deadlineMs: SAFETY_MS }).then(
        () => 'succeeded',
        () => 'failed',
      );
      const shimPid = Number(await waitForFile(marker));
      stuckPids.push(shimPid);
      // The record says "formatting started" from a proven blank device, before mkfs ran.
      const store = new StateStore(h.path('kubelet'), DRIVER);
      expect(await store.load(`sim/${v.name}`)).toMatchObject({
        formatting: { fsType, blankCheck: 'blank' },
        steps: { attached: true },
      });
      // The node plugin's container dies: the driver and its mkfs child, both by SIGKILL.
      const exited = new Promise((r) => first.child.once('exit', r));
      first.child.kill('SIGKILL');
      process.kill(shimPid, 'SIGKILL');
      await exited;
      expect(await staged).toBe('failed');
      first.client.close();
      // The device now holds the half-made filesystem: not blank, and not mountable as it is.
      if (fsType === 'xfs') {
        expect((await spawnExec('xfs_db', ['-r', '-c', 'sb 0', '-c', 'print inprogress', v.file])).stdout.trim()).toBe(
          'inprogress = 1',
        );
      } else {
        expect((await spawnExec('blkid', ['-p', '-o', 'export', v.file], { okCodes: [2] })).code).toBe(2);
      }

      const second = await serve(`second-${fsType}`, false, marker);
      try {
        await second.client.call('NodeStageVolume', req, { deadlineMs: SAFETY_MS });
        expect(h.isMounted(staging)).toBe(true);
        const rec = await store.load(`sim/${v.name}`);
        expect(rec?.formatting).toBeUndefined();
        expect(rec?.steps).toMatchObject({ formatted: true, mounted: true });
        await second.client.call(
          'NodeUnstageVolume',
          { volume_id: `sim/${v.name}`, staging_target_path: staging },
          { deadlineMs: SAFETY_MS },
        );
      } finally {
        second.client.close();
        second.child.kill('SIGTERM');
      }
      // A clean filesystem: the checkers find nothing to repair (read-only checks on the image).
      if (fsType === 'ext4') await spawnExec('e2fsck', ['-fn', v.file], { timeoutMs: SAFETY_MS });
      else await spawnExec('xfs_repair', ['-n', '-f', v.file], { timeoutMs: SAFETY_MS });
      expect((await spawnExec('blkid', ['-p', '-s', 'TYPE', '-o', 'value', v.file])).stdout.trim()).toBe(fsType);
    },
  );

  it('a volume that already held a filesystem is mounted, never formatted (the shim would say so)', async () => {
    const v = h.volume('had-data', 64);
    await spawnExec('mkfs.ext4', ['-q', '-F', v.file], { timeoutMs: SAFETY_MS });
    const uuid = (await spawnExec('blkid', ['-p', '-s', 'UUID', '-o', 'value', v.file])).stdout.trim();
    const marker = h.path('in-mkfs-had-data');
    const s = await serve('had-data', true, marker);
    const staging = h.path('kubelet/staging-had-data');
    try {
      await s.client.call('NodeStageVolume', stageReq(v, staging, { cap: mountCap('ext4') }), {
        deadlineMs: SAFETY_MS,
      });
      expect(h.isMounted(staging)).toBe(true);
      await s.client.call(
        'NodeUnstageVolume',
        { volume_id: `sim/${v.name}`, staging_target_path: staging },
        { deadlineMs: SAFETY_MS },
      );
    } finally {
      s.client.close();
      s.child.kill('SIGTERM');
    }
    expect(existsSync(marker)).toBe(false);
    expect((await spawnExec('blkid', ['-p', '-s', 'UUID', '-o', 'value', v.file])).stdout.trim()).toBe(uuid);
  });

  it('a record left "formatting" for another LUN (the volume id now names a volume with data) never formats it', async () => {
    const v = h.volume('reused-id', 64);
    await spawnExec('mkfs.ext4', ['-q', '-F', v.file], { timeoutMs: SAFETY_MS });
    const uuid = (await spawnExec('blkid', ['-p', '-s', 'UUID', '-o', 'value', v.file])).stdout.trim();
    const node = h.node('node-b');
    const store = new StateStore(h.path('kubelet-node-b'), DRIVER);
    const staging = h.path('kubelet-node-b/staging-reused-id');
    // A leftover "formatting" of an earlier volume under this id, on another LUN (while that one
    // is still attached the stage is refused as incompatible; this is the record without it).
    await store.save({
      v: 1,
      volumeId: `sim/${v.name}`,
      stagingPath: staging,
      protocol: 'loop',
      wwn: '60002AC0000000000000000000000001',
      lun: 0,
      access: 'mount',
      readOnly: false,
      steps: {},
      publishes: [],
      formatting: { fsType: 'ext4', blankCheck: 'blank' },
    });
    await node.NodeStageVolume(stageReq(v, staging, { cap: mountCap('ext4') }), h.ctx());
    expect((await store.load(`sim/${v.name}`))?.formatting).toBeUndefined();
    await node.NodeUnstageVolume({ volume_id: `sim/${v.name}`, staging_target_path: staging }, h.ctx());
    expect((await spawnExec('blkid', ['-p', '-s', 'UUID', '-o', 'value', v.file])).stdout.trim()).toBe(uuid);
  });
});
