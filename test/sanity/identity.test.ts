/**
 * Conformance: the Identity service of the full driver, and the transport rules kubelet and the
 * sidecars rely on (unix socket, `:authority` of `localhost`).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CsiTestClient, codeOf, grpcStatus } from '../helpers/grpc.js';
import { startSanity, DRIVER, type Sanity } from './harness.js';

let s: Sanity;
beforeAll(async () => {
  s = await startSanity();
});
afterAll(async () => {
  await s.close();
});

describe('GetPluginInfo', () => {
  test('name is the configured driver name: at most 63 characters, domain-name notation', async () => {
    const info = await s.identity.call('GetPluginInfo');
    expect(info.name).toBe(DRIVER);
    expect(info.name.length).toBeLessThanOrEqual(63);
    // Spec: begins and ends with an alphanumeric character, dashes, dots and alphanumerics between.
    expect(info.name).toMatch(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/);
  });

  test('vendor_version is present and a semantic version', async () => {
    const info = await s.identity.call('GetPluginInfo');
    expect(info.vendor_version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/);
  });

  test('repeated calls return the same answer (the CO may cache it)', async () => {
    const a = await s.identity.call('GetPluginInfo');
    const b = await s.identity.call('GetPluginInfo');
    expect(b).toEqual(a);
  });
});

describe('GetPluginCapabilities', () => {
  test('advertises the controller service and only known capability types', async () => {
    const res = await s.identity.call('GetPluginCapabilities');
    const services = res.capabilities.filter((c) => c.service).map((c) => c.service!.type);
    const expansion = res.capabilities.filter((c) => c.volume_expansion).map((c) => c.volume_expansion!.type);
    expect(services).toContain('CONTROLLER_SERVICE');
    for (const t of services)
      expect(['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS', 'GROUP_CONTROLLER_SERVICE']).toContain(t);
    for (const t of expansion) expect(['ONLINE', 'OFFLINE']).toContain(t);
    // Each capability carries exactly one of its oneof members.
    for (const c of res.capabilities) expect(Number(!!c.service) + Number(!!c.volume_expansion)).toBe(1);
  });

  test('one backend: no topology constraints are advertised', async () => {
    const res = await s.identity.call('GetPluginCapabilities');
    expect(res.capabilities.map((c) => c.service?.type)).not.toContain('VOLUME_ACCESSIBILITY_CONSTRAINTS');
  });

  test('volume expansion is advertised together with the controller EXPAND_VOLUME capability', async () => {
    const plugin = await s.identity.call('GetPluginCapabilities');
    const ctl = await s.controller.call('ControllerGetCapabilities');
    const expands = ctl.capabilities.some((c) => c.rpc!.type === 'EXPAND_VOLUME');
    expect(plugin.capabilities.some((c) => c.volume_expansion)).toBe(expands);
  });
});

describe('Probe', () => {
  test('a running driver is ready', async () => {
    const res = await s.identity.call('Probe');
    // ready is optional; when present it says true for a driver that serves.
    if (res.ready !== null) expect(res.ready.value).toBe(true);
  });

  test('answers without calling the array', async () => {
    s.sim.resetRequests();
    for (let i = 0; i < 5; i++) await s.identity.call('Probe');
    expect(s.sim.requests).toHaveLength(0);
  });

  test('stays ready while the array does not answer', async () => {
    // Every array request is now held until the end of the test: a Probe that waited for one
    // would end in DEADLINE_EXCEEDED (the deadline is only a safety net).
    const hold = s.sim.faults.hold(undefined, Number.MAX_SAFE_INTEGER);
    try {
      const res = await s.identity.call('Probe', {}, { deadlineMs: 20_000 });
      expect(res.ready?.value ?? true).toBe(true);
    } finally {
      hold.release();
    }
  });
});

describe(':authority over the unix socket', () => {
  // grpc-go (kubelet ≥ 1.26 with kubernetes/kubernetes#112597, the sidecars, csi-sanity since
  // kubernetes-csi/csi-test#468) sends "localhost" over a unix socket.
  test('a client that sends localhost as :authority is served by every service', async () => {
    const path = s.endpoint.replace(/^unix:\/\//, '');
    const options = { 'grpc.default_authority': 'localhost' };
    const id = new CsiTestClient('Identity', `unix://${path}`, options);
    const ctl = new CsiTestClient('Controller', `unix://${path}`, options);
    const node = new CsiTestClient('Node', `unix://${path}`, options);
    try {
      expect(await id.call('GetPluginInfo')).toMatchObject({ name: DRIVER });
      expect(await ctl.call('ControllerGetCapabilities')).toHaveProperty('capabilities');
      expect(await node.call('NodeGetInfo')).toHaveProperty('node_id');
    } finally {
      id.close();
      ctl.close();
      node.close();
    }
  });
});

describe('capabilities match the services a process serves', () => {
  // Mode all (this suite's fixed configuration) advertises it; group.test.ts checks mode node.
  test('GroupController: advertised and served, with capabilities of known types', async () => {
    const res = await s.identity.call('GetPluginCapabilities');
    expect(res.capabilities.some((c) => c.service?.type === 'GROUP_CONTROLLER_SERVICE')).toBe(true);
    const caps = await s.group.call('GroupControllerGetCapabilities');
    expect(caps.capabilities.map((c) => c.rpc!.type)).toEqual(['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT']);
  });

  test.each([['node'], ['controller']] as const)(
    'mode %s: only that service is served and advertised',
    async (mode) => {
      const one = await startSanity({ mode });
      try {
        const caps = await one.identity.call('GetPluginCapabilities');
        const services = caps.capabilities.map((c) => c.service?.type);
        if (mode === 'node') {
          expect(services).not.toContain('CONTROLLER_SERVICE');
          expect(await codeOf(one.controller.call('ControllerGetCapabilities'))).toBe(grpcStatus.UNIMPLEMENTED);
          expect(await one.node.call('NodeGetInfo')).toHaveProperty('node_id');
        } else {
          expect(services).toContain('CONTROLLER_SERVICE');
          expect(await codeOf(one.node.call('NodeGetInfo'))).toBe(grpcStatus.UNIMPLEMENTED);
          expect(await one.controller.call('ControllerGetCapabilities')).toHaveProperty('capabilities');
        }
        // Identity and Probe are served in every mode.
        expect(await one.identity.call('Probe')).toHaveProperty('ready');
      } finally {
        await one.close();
      }
    },
  );
});
