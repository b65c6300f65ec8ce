/**
 * `npm run soak` and `npm run bench` read their flags through the CLI's one parser
 * (src/cli/flags.ts): the same syntax, the same usage errors (exit 2), twins only where declared.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, formatHelp, parseFlags, type FlagSpec } from '../../src/cli/flags.js';
import { SOAK_FLAGS, SOAK_HELP, parseSoakArgs } from '../../src/soak/options.js';
import { BENCH_FLAGS, BENCH_HELP, DEFAULTS, QUICK, WORKLOADS, parseBenchArgs } from '../../src/bench/options.js';
import { RETRY_INTERVAL_MAX_MS, RETRY_INTERVAL_START_MS } from '../../src/soak/sidecar.js';
import { describeUnless } from '../helpers/skip.js';

const ROOT = 'no root here';

describe('the shared parser', () => {
  const specs: FlagSpec[] = [
    { name: 'rate', type: 'number', min: 0, help: 'a rate' },
    { name: 'parts', type: 'list', choices: ['a', 'b'], help: 'parts' },
    { name: 'seed', type: 'string', help: 'seed', env: 'MY_SEED' },
    { name: 'quiet', type: 'boolean', help: 'quiet', env: false },
  ];

  test('number flags take decimals, refuse what is not a number or below the minimum', () => {
    expect(parseFlags(['--rate', '0.5'], specs, {}).values['rate']).toBe(0.5);
    expect(parseFlags(['--rate=2'], specs, {}).values['rate']).toBe(2);
    expect(() => parseFlags(['--rate', 'fast'], specs, {})).toThrow(/--rate must be a number, not "fast"/);
    expect(() => parseFlags(['--rate=-1'], specs, {})).toThrow(/--rate must be a number ≥ 0, not "-1"/);
    expect(() => parseFlags(['--rate='], specs, {})).toThrow(UsageError);
  });

  test('list flags with choices check every item, and repeat', () => {
    expect(parseFlags(['--parts', 'a', '--parts=b'], specs, {}).values['parts']).toEqual(['a', 'b']);
    expect(() => parseFlags(['--parts', 'a,c'], specs, {})).toThrow(/--parts: unknown value "c" \(one of: a, b\)/);
  });

  test('a twin of its own name, or none', () => {
    expect(parseFlags([], specs, { MY_SEED: '7', THREEPAR_CSI_SEED: '8' }).values['seed']).toBe('7');
    expect(parseFlags([], specs, { THREEPAR_CSI_QUIET: 'true' }).values['quiet']).toBeUndefined();
    expect(parseFlags([], specs, { THREEPAR_CSI_RATE: '3' }).values['rate']).toBe(3);
    const help = formatHelp('x', 'y', specs);
    expect(help).toContain('env: MY_SEED');
    expect(help).toContain('env: THREEPAR_CSI_RATE');
    expect(help).not.toContain('THREEPAR_CSI_QUIET');
  });
});

describe('npm run soak flags', () => {
  test('defaults: a full run, and --quick', () => {
    const full = parseSoakArgs([], {}, undefined);
    expect(full).toMatchObject({
      quick: false,
      volumes: [36, 24],
      concurrency: 4,
      faultEveryMs: 1000,
      hang: false,
      keepWork: false,
      noNode: false,
      retryStartMs: RETRY_INTERVAL_START_MS,
      retryMaxMs: RETRY_INTERVAL_MAX_MS,
    });
    expect(full.killEveryMs).toEqual([Math.round(8000 * 0.55), Math.round(8000 * 1.45)]);
    const quick = parseSoakArgs(['--quick'], {}, undefined);
    expect(quick).toMatchObject({
      quick: true,
      volumes: [3, 2],
      concurrency: 3,
      faultEveryMs: 900,
      retryStartMs: 100,
      retryMaxMs: 1000,
    });
  });

  test('without node steps (not root, or --no-node) four times the volumes', () => {
    expect(parseSoakArgs(['--quick'], {}, ROOT).volumes).toEqual([12, 8]);
    expect(parseSoakArgs(['--quick', '--no-node'], {}, undefined)).toMatchObject({ volumes: [12, 8], noNode: true });
    expect(parseSoakArgs(['--quick', '--volumes', '10'], {}, ROOT).volumes).toEqual([6, 4]);
  });

  test('rates, switches and both value syntaxes', () => {
    const c = parseSoakArgs(
      [
        '--fault-rate=0',
        '--kill-rate',
        '0',
        '--retry-start',
        '0.5',
        '--retry-max=2',
        '--hang',
        '--keep',
        '--concurrency',
        '7',
      ],
      {},
      undefined,
    );
    expect(c).toMatchObject({
      faultEveryMs: 0,
      killEveryMs: undefined,
      retryStartMs: 500,
      retryMaxMs: 2000,
      hang: true,
      keepWork: true,
      concurrency: 7,
    });
  });

  test('--seed, with SOAK_SEED as its twin (the flag wins)', () => {
    expect(parseSoakArgs(['--seed', '42'], {}, undefined).seed).toBe(42);
    expect(parseSoakArgs([], { SOAK_SEED: '9' }, undefined).seed).toBe(9);
    expect(parseSoakArgs(['--seed=5'], { SOAK_SEED: '9' }, undefined).seed).toBe(5);
    expect(() => parseSoakArgs([], { SOAK_SEED: '9,10' }, undefined)).toThrow(/SOAK_SEED must be an integer/);
    // No THREEPAR_CSI_ twins for the soak's flags.
    expect(parseSoakArgs([], { THREEPAR_CSI_VOLUMES: '1', THREEPAR_CSI_QUICK: 'true' }, undefined)).toMatchObject({
      quick: false,
      volumes: [36, 24],
    });
  });

  test.each([
    [['--bogus'], /unknown flag --bogus/],
    [['extra'], /unknown argument extra/],
    [['--fault-rate', '-1'], /--fault-rate must be a number ≥ 0/],
    [['--volumes', 'many'], /--volumes must be an integer/],
    [['--concurrency', '0'], /--concurrency must be a number ≥ 1/],
    [['--seed'], /--seed needs a value/],
    // A seed that is not a number used to start an unrepeatable run with a random seed.
    [['--seed', 'abc'], /--seed must be an integer/],
    [['--seed', '12,34'], /--seed must be an integer/],
    [['--quick', '--quick'], /--quick is given twice/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseSoakArgs(argv, {}, undefined)).toThrow(UsageError);
    expect(() => parseSoakArgs(argv, {}, undefined)).toThrow(message);
  });

  test('the help names every flag', () => {
    for (const f of SOAK_FLAGS) expect(SOAK_HELP).toContain(`--${f.name}`);
    expect(SOAK_HELP).toContain('env: SOAK_SEED');
  });
});

describe('npm run bench flags', () => {
  test('defaults, and --quick sizes', () => {
    const full = parseBenchArgs([]);
    expect(full).toMatchObject({ ...DEFAULTS, quick: false, json: false });
    expect([...full.skip]).toEqual([]);
    expect(parseBenchArgs(['--quick', '--json'])).toMatchObject({ ...DEFAULTS, ...QUICK, quick: true, json: true });
  });

  test('a flag beats the --quick size; decimals and inline values', () => {
    const o = parseBenchArgs(['--quick', '--volumes', '7', '--latency-ms=0.5', '--per-member-us', '0']);
    expect(o).toMatchObject({ volumes: 7, latencyMs: 0.5, perMemberUs: 0, nodes: QUICK.nodes });
  });

  test('--skip takes known workloads, repeated; --vluns 0 skips W1-20k', () => {
    expect([...parseBenchArgs(['--skip', 'w2,node', '--skip=w4']).skip].sort()).toEqual(['node', 'w2', 'w4']);
    expect([...parseBenchArgs(['--vluns', '0']).skip]).toEqual(['w1-20k']);
    expect(() => parseBenchArgs(['--skip', 'w9'])).toThrow(/--skip: unknown value "w9"/);
  });

  test.each([
    [['--bogus'], /unknown flag --bogus/],
    [['--volumes', '-3'], /--volumes must be a number ≥ 0/],
    [['--volumes'], /--volumes needs a value/],
    [['w1'], /unexpected argument "w1"/],
    // 0 used to be taken: the baseline's request semaphore of 0 waits forever, a pool of 0 divides by 0.
    [['--max-in-flight', '0'], /--max-in-flight must be a number ≥ 1/],
    [['--session-pool', '0'], /--session-pool must be a number ≥ 1/],
    [['--concurrency', '0'], /--concurrency must be a number ≥ 1/],
    [['--nodes', '0'], /--nodes must be a number ≥ 1/],
    [['--page-size', '0'], /--page-size must be a number ≥ 1/],
    [['--list-runs', '0'], /--list-runs must be a number ≥ 1/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });

  test('the help names every flag and workload', () => {
    for (const f of BENCH_FLAGS) expect(BENCH_HELP).toContain(`--${f.name}`);
    for (const w of WORKLOADS) expect(BENCH_HELP).toContain(w);
    expect(BENCH_HELP).not.toContain('env:');
  });
});

const SOAK = fileURLToPath(new URL('../../dist/soak/main.js', import.meta.url));
const BENCH = fileURLToPath(new URL('../../dist/bench/driver.js', import.meta.url));
/** Only against a hang: a loaded 2-core machine may take many seconds to start node. */
const SAFETY_NET_MS = 120_000;
const built = describeUnless(
  existsSync(SOAK) && existsSync(BENCH) ? undefined : 'dist/ is missing — run "npm run build" first',
);

built('the built tools', () => {
  test.each([
    ['soak', SOAK, /^soak: unknown flag --bogus/],
    ['bench', BENCH, /^bench: unknown flag --bogus/],
  ])('%s: a bad flag is one line on stderr and exit code 2, before anything starts', (_name, script, message) => {
    const r = spawnSync(process.execPath, [script, '--bogus'], { encoding: 'utf8', timeout: SAFETY_NET_MS });
    expect(r.error?.message).toBeUndefined(); // ETIMEDOUT: the safety net, not a result
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  test.each([
    ['soak', SOAK],
    ['bench', BENCH],
  ])('%s --help exits 0 with the flags', (_name, script) => {
    const r = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: SAFETY_NET_MS });
    expect(r.error?.message).toBeUndefined(); // ETIMEDOUT: the safety net, not a result
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run /);
  });
});
