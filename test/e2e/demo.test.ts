/**
 * The README's first command: `3par-csi demo` completes with every step OK (as root, node steps
 * included; without root the control-plane steps, and the node steps skipped with a reason).
 */
import { expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeStepsUnavailable } from '../../src/demo/demo.js';
import { declareSkip, describeUnless } from '../helpers/skip.js';

const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const d = describeUnless(existsSync(BIN) ? undefined : `${BIN} is missing — run "npm run build" first`);

d('3par-csi demo', () => {
  test('every step OK and the array audit clean', () => {
    const r = spawnSync(process.execPath, [BIN, 'demo', '--data', '8', '--copy-rate', '64', '--print-metrics'], {
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = /(\d+) steps OK, (\d+) failed, (\d+) skipped\./.exec(r.stdout);
    expect(summary).not.toBeNull();
    expect(Number(summary![2])).toBe(0);
    expect(r.stdout).toMatch(/the array holds nothing left over +OK/);
    // --print-metrics: the driver's exposition after the run (what the Grafana dashboard reads).
    expect(r.stdout).toMatch(/^threepar_csi_rpc_total\{method="CreateVolume",code="OK"\} \d+$/m);
    expect(r.stdout).toMatch(/^threepar_csi_build_info\{version="[^"]+",node_version="v\d+/m);
    expect(r.stdout).toMatch(/^process_cpu_seconds_total \d/m);
    const reason = nodeStepsUnavailable();
    if (reason) {
      declareSkip(`the demo ran without its node steps: ${reason}`);
      expect(r.stdout).toContain(reason);
    } else {
      expect(Number(summary![3])).toBe(0);
      expect(r.stdout).toMatch(/check data on pvc-clone +OK/);
      expect(r.stdout).toMatch(/NodeExpandVolume pvc-xfs .*OK/);
    }
  });
});
