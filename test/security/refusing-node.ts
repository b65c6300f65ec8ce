/**
 * The node service the security tier attacks when a case must be refused before the host is
 * touched: a temporary kubelet root, and an `Exec` that records every command and runs none.
 * `refusingNode` registers its own hooks (call it inside a `describe`): the service is made once,
 * and each case starts with no command recorded and no node record.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import { createNodeService, type NodeService } from '../../src/csi/node.js';
import type { Exec } from '../../src/host/exec.js';
import { silentLogger } from '../../src/log.js';

export interface RefusingNode {
  base: string;
  kubelet: string;
  /** Where the node keeps its records of staged volumes. */
  stateDir: string;
  node: NodeService;
  /** The commands the service tried to run since the case began. */
  ran: string[];
}

/** A call context for the node handlers. */
export const callCtx = () => ({ rpc: 'test', log: silentLogger, signal: new AbortController().signal });

export function refusingNode(driver: string, tmpPrefix: string, beforeRemove?: (base: string) => void): RefusingNode {
  const h = { ran: [] as string[] } as RefusingNode;
  const exec: Exec = async (command, args) => {
    h.ran.push([command, ...args].join(' '));
    throw new Error(`test exec: ${command} must not run in this case`);
  };
  beforeAll(() => {
    h.base = mkdtempSync(join(tmpdir(), tmpPrefix));
    h.kubelet = join(h.base, 'kubelet');
    h.stateDir = join(h.kubelet, 'plugins', driver, 'state');
    mkdirSync(h.kubelet, { recursive: true });
    h.node = createNodeService({
      driverName: driver,
      nodeName: 'n',
      backendIds: [],
      maxVolumesPerNode: 0,
      kubeletDir: h.kubelet,
      simDataDir: join(h.base, 'sim'),
      exec,
      hostExec: 'direct',
      log: silentLogger,
      mountinfoPath: '/proc/self/mountinfo',
    });
  });
  afterAll(() => {
    beforeRemove?.(h.base);
    rmSync(h.base, { recursive: true, force: true });
  });
  beforeEach(() => {
    // Each case starts from an empty host record (a regressed case must not fail the next one).
    h.ran.length = 0;
    rmSync(h.stateDir, { recursive: true, force: true });
  });
  return h;
}
