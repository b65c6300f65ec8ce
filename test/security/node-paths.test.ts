/**
 * Paths through directories a tenant can change. The node plugin resolves a request path once and
 * requires it below the kubelet root, but mkdir, mount, umount and unlink walk the path again
 * later: whoever can rename a directory on it in between (putting a symlink in its place) sends
 * them anywhere on the host. Below the kubelet root, tenants write emptyDirs (kubelet makes them
 * mode 0777) and the contents of every mounted volume; a forged call (a compromised sidecar on the
 * socket) can name a path through either. Such paths are refused before anything is looked at.
 * The cases that need another owner or a mount need root; the rest run anywhere.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { status as grpcStatus } from '@grpc/grpc-js';
import { handlerCodeOf } from '../helpers/grpc.js';
import { callCtx, refusingNode } from './refusing-node.js';
import { itUnless } from '../helpers/skip.js';
import { isMounted, unmountUnder } from '../helpers/host.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';

const DRIVER = 'csi.sec.paths';
const WWN = '60002AC0000000000000000000005678';
const rootReason =
  process.getuid?.() === 0
    ? undefined
    : 'needs root (a directory of another owner, a tmpfs mount under the kubelet root)';

describe('node paths through directories a tenant can change are refused', () => {
  const h = refusingNode(DRIVER, '3par-sec-paths-', (base) => unmountUnder(`${base}/`));
  const noRecord = (): void => {
    expect(existsSync(h.stateDir) ? readdirSync(h.stateDir) : []).toEqual([]);
  };

  function stage(stagingPath: string): NodeStageVolumeRequest__Output {
    return {
      volume_id: 'sim/paths',
      staging_target_path: stagingPath,
      publish_context: { protocol: 'loop', wwn: WWN, lun: '1' },
      volume_context: { createdEmpty: 'true' },
      volume_capability: {
        mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' },
        access_mode: { mode: 'SINGLE_NODE_WRITER' },
        access_type: 'mount',
      },
      secrets: {},
    };
  }

  it('a staging path inside an emptyDir (mode 0777, the tenant renames in it at will): INVALID_ARGUMENT, nothing run or recorded', async () => {
    const emptyDir = join(h.kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~empty-dir', 'scratch');
    mkdirSync(join(emptyDir, 'a'), { recursive: true });
    chmodSync(emptyDir, 0o777);
    expect(await handlerCodeOf(h.node.NodeStageVolume(stage(join(emptyDir, 'a', 'globalmount')), callCtx()))).toBe(
      grpcStatus.INVALID_ARGUMENT,
    );
    expect(h.ran).toEqual([]);
    noRecord();
    // NodeUnpublish / NodeUnstage of a path there are refused the same way (a tenant's file is never removed).
    writeFileSync(join(emptyDir, 'a', 'file'), 'tenant');
    expect(
      await handlerCodeOf(
        h.node.NodeUnpublishVolume({ volume_id: 'sim/paths', target_path: join(emptyDir, 'a', 'file') }, callCtx()),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(
      await handlerCodeOf(
        h.node.NodeUnstageVolume({ volume_id: 'sim/paths', staging_target_path: join(emptyDir, 'a') }, callCtx()),
      ),
    ).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(readFileSync(join(emptyDir, 'a', 'file'), 'utf8')).toBe('tenant');
  });

  itUnless(rootReason)(
    "a staging path inside a directory a tenant's uid owns (mode 0755): INVALID_ARGUMENT, nothing run or recorded",
    async () => {
      const dir = join(h.kubelet, 'pods', 'uid-2', 'volumes', 'kubernetes.io~empty-dir', 'owned', 'sub');
      mkdirSync(dir, { recursive: true });
      chownSync(dir, 1000, 1000);
      expect(await handlerCodeOf(h.node.NodeStageVolume(stage(join(dir, 'globalmount')), callCtx()))).toBe(
        grpcStatus.INVALID_ARGUMENT,
      );
      expect(h.ran).toEqual([]);
      noRecord();
    },
  );

  itUnless(rootReason)(
    'a staging or target path inside a mounted volume (its users own its contents): INVALID_ARGUMENT, nothing run, the volume untouched',
    async () => {
      const volume = join(h.kubelet, 'pods', 'uid-3', 'volumes', 'kubernetes.io~csi', 'pv-other', 'mount');
      mkdirSync(volume, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', volume]);
      mkdirSync(join(volume, 'dir'));
      writeFileSync(join(volume, 'dir', 'data'), 'other tenant');
      expect(await handlerCodeOf(h.node.NodeStageVolume(stage(join(volume, 'dir', 'globalmount')), callCtx()))).toBe(
        grpcStatus.INVALID_ARGUMENT,
      );
      expect(
        await handlerCodeOf(
          h.node.NodeUnpublishVolume({ volume_id: 'sim/paths', target_path: join(volume, 'dir', 'data') }, callCtx()),
        ),
      ).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(h.ran).toEqual([]);
      noRecord();
      expect(readFileSync(join(volume, 'dir', 'data'), 'utf8')).toBe('other tenant');
      expect(isMounted(volume)).toBe(true);
      // The volume's own mount point stays a valid target: h.kubelet unpublishes exactly there.
      expect(
        await handlerCodeOf(h.node.NodeUnpublishVolume({ volume_id: 'sim/paths', target_path: volume }, callCtx())),
      ).toBe(grpcStatus.FAILED_PRECONDITION);
      expect(isMounted(volume)).toBe(true);
    },
  );

  it("kubelet's own paths (root's 0750 directories) pass the path checks", async () => {
    const staging = join(h.kubelet, 'plugins', 'kubernetes.io', 'csi', DRIVER, 'f00d', 'globalmount');
    mkdirSync(join(h.kubelet, 'plugins', 'kubernetes.io', 'csi', DRIVER, 'f00d'), { recursive: true, mode: 0o750 });
    // The loop export does not exist: the call gets past every path check to the connector.
    expect(await handlerCodeOf(h.node.NodeStageVolume(stage(staging), callCtx()))).toBe(grpcStatus.UNAVAILABLE);
    const target = join(h.kubelet, 'pods', 'uid-4', 'volumes', 'kubernetes.io~csi', 'pv-x', 'mount');
    mkdirSync(join(h.kubelet, 'pods', 'uid-4', 'volumes', 'kubernetes.io~csi', 'pv-x'), {
      recursive: true,
      mode: 0o750,
    });
    expect(
      await handlerCodeOf(h.node.NodeUnpublishVolume({ volume_id: 'sim/paths', target_path: target }, callCtx())),
    ).toBe(grpcStatus.OK);
  });
});
