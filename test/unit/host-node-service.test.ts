/**
 * The Node service without a host: NodeGetInfo (node_id from the host name, the IQN in
 * /etc/iscsi/initiatorname.iscsi and the FC WWPNs in /sys/class/fc_host under a temporary
 * host root; topology segments for every backend id when topology is on), NodeGetCapabilities, and every
 * validate*Request: each missing or malformed field → INVALID_ARGUMENT before any host work.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeService, type NodeServiceOptions } from '../../src/csi/node.js';
import type { Exec } from '../../src/host/exec.js';
import type { CallContext } from '../../src/csi/server.js';
import { decodeNodeId } from '../../src/nodeid.js';
import { log } from './host-fakes.js';
import type { NodeStageVolumeRequest__Output } from '../../src/gen/csi/v1/NodeStageVolumeRequest.js';

const calls: string[] = [];
const exec: Exec = async (command, args) => {
  calls.push([command, ...args].join(' '));
  throw new Error('no host command may run in these tests');
};
const ctx: CallContext = { rpc: 'test', log, signal: new AbortController().signal };

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), '3par-hostroot-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function service(extra: Partial<NodeServiceOptions> = {}) {
  return createNodeService({
    driverName: 'csi.3par.hpe.com',
    nodeName: 'worker-1',
    backendIds: [],
    maxVolumesPerNode: 0,
    kubeletDir: join(root, 'kubelet'),
    exec,
    hostExec: 'nsenter',
    hostRoot: join(root, 'empty'),
    log,
    ...extra,
  });
}

describe('NodeGetInfo', () => {
  it('a node without initiators reports only its host name; no topology without backend ids or with topology off', async () => {
    const res = await service({ backendIds: [], maxVolumesPerNode: 0 }).NodeGetInfo({}, ctx);
    expect(res).toEqual({ node_id: 'worker-1', max_volumes_per_node: 0, accessible_topology: null });
    expect(
      (await service({ backendIds: ['a', 'b'], topology: 'off' }).NodeGetInfo({}, ctx)).accessible_topology,
    ).toBeNull();
  });

  // Issue 19: the controller puts a backend segment on every volume once topology is on, so a
  // node that reaches a single backend must report it too, or its PVs are unschedulable there.
  it('with topology on, a node that reaches one backend reports that backend’s segment', async () => {
    const res = await service({ backendIds: ['east'], topology: 'on' }).NodeGetInfo({}, ctx);
    expect(res.accessible_topology).toEqual({ segments: { 'csi.3par.hpe.com/backend-east': 'true' } });
    expect((await service({ backendIds: ['east'] }).NodeGetInfo({}, ctx)).accessible_topology).toEqual({
      segments: { 'csi.3par.hpe.com/backend-east': 'true' },
    });
  });

  it('reads the IQN and FC WWPNs under the host root; topology segments for two or more backends', async () => {
    const host = join(root, 'host');
    mkdirSync(join(host, 'etc/iscsi'), { recursive: true });
    // The file open-iscsi writes at install: comments and one InitiatorName= line.
    writeFileSync(
      join(host, 'etc/iscsi/initiatorname.iscsi'),
      '## DO NOT EDIT OR REMOVE THIS FILE!\n## If you remove this file, the iSCSI daemon will not start.\nInitiatorName=iqn.1993-08.org.debian:01:abcdef123456\n',
    );
    for (const [h, wwpn] of [
      ['host7', '0x10000090fa1b2c3d'],
      ['host8', '0x10000090FA1B2C3E'],
    ] as const) {
      mkdirSync(join(host, 'sys/class/fc_host', h), { recursive: true });
      // port_name as the FC transport class prints it.
      writeFileSync(join(host, 'sys/class/fc_host', h, 'port_name'), `${wwpn}\n`);
    }
    const res = await service({ hostRoot: host, backendIds: ['east', 'west'], maxVolumesPerNode: 64 }).NodeGetInfo(
      {},
      ctx,
    );
    expect(res.node_id).toBe('worker-1;i=iqn.1993-08.org.debian:01:abcdef123456;w=10000090fa1b2c3d,10000090fa1b2c3e');
    expect(decodeNodeId(res.node_id!)).toEqual({
      hostName: 'worker-1',
      iqns: ['iqn.1993-08.org.debian:01:abcdef123456'],
      wwpns: ['10000090fa1b2c3d', '10000090fa1b2c3e'],
    });
    expect(res.max_volumes_per_node).toBe(64);
    expect(res.accessible_topology).toEqual({
      segments: { 'csi.3par.hpe.com/backend-east': 'true', 'csi.3par.hpe.com/backend-west': 'true' },
    });
  });
});

describe('NodeGetCapabilities', () => {
  it('advertises stage/unstage, expand, stats, volume condition, single-node multi-writer', async () => {
    const res = await service().NodeGetCapabilities({}, ctx);
    expect(res.capabilities!.map((c) => c.rpc?.type)).toEqual([
      'STAGE_UNSTAGE_VOLUME',
      'EXPAND_VOLUME',
      'GET_VOLUME_STATS',
      'VOLUME_CONDITION',
      'SINGLE_NODE_MULTI_WRITER',
    ]);
  });
});

describe('validate*Request: INVALID_ARGUMENT before any host work', () => {
  const cap = {
    mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' },
    access_mode: { mode: 'SINGLE_NODE_WRITER' as const },
    access_type: 'mount' as const,
  };
  const stage: NodeStageVolumeRequest__Output = {
    volume_id: 'sim/v1',
    staging_target_path: '/var/lib/kubelet/plugins/x/globalmount',
    volume_capability: cap,
    publish_context: {
      protocol: 'iscsi',
      wwn: '60002AC000000000000000160001C0A1',
      lun: '1',
      targetIqns: 'iqn.2000-05.com.3pardata:20210002ac00383d',
      targetPortals: '10.1.1.10:3260',
    },
    secrets: {},
    volume_context: {},
  };
  const cases: [string, Partial<NodeStageVolumeRequest__Output>][] = [
    ['no volume_id', { volume_id: '' }],
    ['no staging path', { staging_target_path: '' }],
    ['relative staging path', { staging_target_path: 'relative/path' }],
    ['no capability', { volume_capability: null }],
    ['no access mode', { volume_capability: { ...cap, access_mode: null } }],
    ['unsupported fs', { volume_capability: { ...cap, mount: { ...cap.mount, fs_type: 'btrfs' } } }],
    ['forbidden mount flag', { volume_capability: { ...cap, mount: { ...cap.mount, mount_flags: ['bind'] } } }],
    ['no protocol', { publish_context: { ...stage.publish_context, protocol: '' } }],
    ['bad wwn', { publish_context: { ...stage.publish_context, wwn: 'xyz' } }],
    ['bad lun', { publish_context: { ...stage.publish_context, lun: '-1' } }],
    [
      'portals not aligned',
      { publish_context: { ...stage.publish_context, targetPortals: '10.1.1.10:3260,10.1.1.11:3260' } },
    ],
    ['fc without wwns', { publish_context: { protocol: 'fc', wwn: stage.publish_context.wwn!, lun: '1' } }],
    ['half CHAP', { secrets: { chapUser: 'u' } }],
    ['bad fsCreateOptions', { volume_context: { fsCreateOptions: '-O ^has_journal; reboot' } }],
    ['bad fsOwner', { volume_context: { fsOwner: 'root' } }],
    ['bad fsMode', { volume_context: { fsMode: '999' } }],
    [
      'rw flag on a read-only volume',
      {
        volume_capability: {
          ...cap,
          access_mode: { mode: 'MULTI_NODE_READER_ONLY' },
          mount: { ...cap.mount, mount_flags: ['rw'] },
        },
      },
    ],
  ];
  it.each(cases)('NodeStageVolume: %s', async (_name, patch) => {
    await expect(service().NodeStageVolume({ ...stage, ...patch }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
  });

  const publish = {
    volume_id: 'sim/v1',
    staging_target_path: '/s',
    target_path: '/t',
    volume_capability: cap,
    readonly: false,
    publish_context: {},
    secrets: {},
    volume_context: {},
  };
  it.each([
    ['no volume_id', { volume_id: '' }],
    ['no target path', { target_path: '' }],
    ['no staging path', { staging_target_path: '' }],
    ['no capability', { volume_capability: null }],
  ])('NodePublishVolume: %s', async (_name, patch) => {
    await expect(service().NodePublishVolume({ ...publish, ...patch }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
  });

  it('NodeUnstage, NodeUnpublish, NodeExpand, NodeGetVolumeStats: each required field', async () => {
    const s = service();
    await expect(s.NodeUnstageVolume({ volume_id: '', staging_target_path: '/s' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(s.NodeUnstageVolume({ volume_id: 'v', staging_target_path: '' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(s.NodeUnpublishVolume({ volume_id: '', target_path: '/t' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(s.NodeUnpublishVolume({ volume_id: 'v', target_path: '' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    const expand = {
      volume_id: 'v',
      volume_path: '/t',
      staging_target_path: '/s',
      capacity_range: null,
      volume_capability: null,
      secrets: {},
    };
    await expect(s.NodeExpandVolume({ ...expand, volume_id: '' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(s.NodeExpandVolume({ ...expand, volume_path: '' }, ctx)).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await expect(
      s.NodeGetVolumeStats({ volume_id: '', volume_path: '/t', staging_target_path: '' }, ctx),
    ).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(
      s.NodeGetVolumeStats({ volume_id: 'v', volume_path: '', staging_target_path: '' }, ctx),
    ).rejects.toMatchObject({ kind: 'invalid-argument' });
    // NodeExpand of a volume not staged here: NOT_FOUND.
    await expect(s.NodeExpandVolume(expand, ctx)).rejects.toMatchObject({ kind: 'not-found' });
    expect(calls).toEqual([]);
  });
});

describe('NodeStage/NodeUnstage of an iSCSI block volume on the fake host', () => {
  it('a duplicate request while one runs → ABORTED (busy); stage records, unstage logs out and deletes the record', async () => {
    const { FakeHost } = await import('./host-fakes.js');
    const h = new FakeHost();
    try {
      h.iscsiHosts.set('10.1.1.10:3260', 3);
      h.luns.push({ host: 3, target: 0, lun: 1, wwn: '60002AC000000000000000160001C0A1' });
      h.holdScans.add(3);
      const kubeletDir = join(h.root, 'kubelet');
      const s = createNodeService({
        driverName: 'csi.3par.hpe.com',
        nodeName: 'worker-1',
        backendIds: [],
        maxVolumesPerNode: 0,
        kubeletDir,
        exec: h.exec,
        hostExec: 'direct',
        hostRoot: h.root,
        sysfs: h.sys,
        mountinfoPath: h.mountinfo,
        log,
        discovery: { intervalMs: 5, deviceTimeoutMs: 2000, mapTimeoutMs: 100 },
      });
      const req: NodeStageVolumeRequest__Output = {
        volume_id: 'prod/pvc-1',
        staging_target_path: join(h.root, 'kubelet', 'staging'),
        volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' }, access_type: 'block' },
        publish_context: {
          protocol: 'iscsi',
          wwn: '60002AC000000000000000160001C0A1',
          lun: '1',
          targetIqns: 'iqn.2000-05.com.3pardata:20210002ac00383d',
          targetPortals: '10.1.1.10:3260',
        },
        secrets: { chapUser: 'u', chapSecret: 'chap-secret-123', unrelated: 'ignored' },
        volume_context: {},
      };
      const first = s.NodeStageVolume(req, ctx);
      await h.scanHeld();
      await expect(s.NodeStageVolume(req, ctx)).rejects.toMatchObject({ kind: 'busy' });
      h.release();
      await first;
      const { StateStore } = await import('../../src/host/state.js');
      const store = new StateStore(kubeletDir, 'csi.3par.hpe.com');
      const rec = await store.load('prod/pvc-1');
      expect(rec).toMatchObject({
        protocol: 'iscsi',
        wwn: '60002AC000000000000000160001C0A1',
        lun: 1,
        access: 'block',
        steps: { attached: true },
      });
      const text = JSON.stringify(rec);
      expect(text).not.toMatch(/sd[a-z]\b|dm-\d|chap-secret/);
      await s.NodeUnstageVolume(
        { volume_id: 'prod/pvc-1', staging_target_path: join(h.root, 'kubelet', 'staging') },
        ctx,
      );
      expect(h.commands('--logout')).toHaveLength(1);
      expect(await store.load('prod/pvc-1')).toBeUndefined();
      await s.NodeUnstageVolume(
        { volume_id: 'prod/pvc-1', staging_target_path: join(h.root, 'kubelet', 'staging') },
        ctx,
      );
    } finally {
      h.cleanup();
    }
  });
});
