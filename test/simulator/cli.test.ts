/** `3par-csi simulator` flags → simulator options. */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SIMULATOR_FLAGS, simulatorOptionsFromFlags } from '../../src/cli/simulator.js';
import { UsageError } from '../../src/cli/flags.js';

describe('simulator flags', () => {
  test('defaults', () => {
    const { options } = simulatorOptionsFromFlags([]);
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      https: false,
      username: '3paradm',
      password: '3pardata',
      profile: '3.1.3 MU1',
      copyRateMiBps: 512,
      sessionLimit: 36,
      admin: false,
      snapshotCreateStatus: 201,
    });
    expect(options.cpgs).toBeUndefined();
  });

  test('every option has a flag, with sizes, error codes and a faults file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sim-cli-'));
    const faults = path.join(dir, 'faults.json');
    writeFileSync(faults, JSON.stringify([{ type: 'latency', ms: 5 }]));
    const { options, caOut } = simulatorOptionsFromFlags([
      '--cpg',
      'SSD_r6:2T,FC_r6:512G,TINY:300',
      '--error-code',
      'VV_ONE_HOST_POLICY=409/123',
      '--faults-file',
      faults,
      '--profile',
      '3.2.2',
      '--data-dir',
      dir,
      '--state-file',
      path.join(dir, 's.json'),
      '--latency-ms',
      '3',
      '--per-member-us',
      '7',
      '--copy-rate',
      '64',
      '--max-concurrent-tasks',
      '2',
      '--session-idle-timeout',
      '60',
      '--admin',
      '--refuse-modify-during-copy',
      '--snapshot-create-status',
      '200',
      '--ca-out',
      path.join(dir, 'ca.pem'),
      '--https',
      '--cpg-domain',
      'TENANT_A',
      '--domain-export',
      'hostWithoutDomain',
    ]);
    expect(options.cpgs).toEqual([
      { name: 'SSD_r6', sizeMiB: 2 * 1024 * 1024 },
      { name: 'FC_r6', sizeMiB: 512 * 1024 },
      { name: 'TINY', sizeMiB: 300 },
    ]);
    expect(options.errorCodes).toEqual({ VV_ONE_HOST_POLICY: { status: 409, code: 123 } });
    expect(options.faults).toEqual([{ type: 'latency', ms: 5 }]);
    expect(options).toMatchObject({
      profile: '3.2.2',
      latencyMs: 3,
      perMemberUs: 7,
      copyRateMiBps: 64,
      maxConcurrentTasks: 2,
      sessionIdleTimeoutSec: 60,
      admin: true,
      refuseModifyDuringCopy: true,
      snapshotCreateStatus: 200,
      https: true,
      dataDir: dir,
      cpgDomain: 'TENANT_A',
      domainExport: 'hostWithoutDomain',
    });
    expect(caOut).toBe(path.join(dir, 'ca.pem'));
    for (const f of SIMULATOR_FLAGS) expect(f.help.length).toBeGreaterThan(10);
  });

  test('bad values are usage errors', () => {
    expect(() => simulatorOptionsFromFlags(['--cpg', 'X'])).toThrow(UsageError);
    expect(() => simulatorOptionsFromFlags(['--cpg', 'X:12Q'])).toThrow(UsageError);
    expect(() => simulatorOptionsFromFlags(['--error-code', 'NOPE=400/1'])).toThrow(UsageError);
    expect(() => simulatorOptionsFromFlags(['--snapshot-create-status', '204'])).toThrow(UsageError);
    expect(() => simulatorOptionsFromFlags(['--tls-cert', 'x'])).toThrow(UsageError);
    expect(() => simulatorOptionsFromFlags(['--profile', '9.9'])).toThrow(UsageError);
  });
});
