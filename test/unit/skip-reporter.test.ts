/**
 * The skip summary (test/helpers/skip-reporter.js): reasons declared through test/helpers/skip.ts
 * in a test worker come out at the end of the run, per file with the number of skipped tests, and
 * a file with skipped tests and no reason is named too.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import SkipReporter from '../helpers/skip-reporter.js';
import { SKIP_LOG_ENV } from '../helpers/skip.js';

const saved = process.env[SKIP_LOG_ENV];
afterEach(() => {
  // The reporter under test points this at its own file; the run's reporter needs it back.
  if (saved === undefined) Reflect.deleteProperty(process.env, SKIP_LOG_ENV);
  else process.env[SKIP_LOG_ENV] = saved;
  jest.restoreAllMocks();
});

/** What the reporter writes to stderr at the end of the run. */
function summary(r: SkipReporter): string {
  const out: string[] = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  r.onRunComplete();
  jest.restoreAllMocks();
  return out.join('');
}

const result = (file: string, pending: number) => ({
  testFilePath: join(process.cwd(), file),
  numPendingTests: pending,
  numTodoTests: 0,
});

describe('skip reporter', () => {
  it('lists each declared reason with its file and skipped count, and files skipped without a reason', () => {
    const r = new SkipReporter({});
    const log = process.env[SKIP_LOG_ENV]!;
    appendFileSync(log, `${JSON.stringify({ file: 'test/node/a.test.ts', reason: 'needs root' })}\n`);
    appendFileSync(log, `${JSON.stringify({ file: 'test/node/a.test.ts', reason: 'needs root' })}\n`);
    appendFileSync(log, `${JSON.stringify({ file: 'test/e2e/demo.test.ts', reason: 'node steps not run' })}\n`);
    r.onTestResult(undefined, result('test/node/a.test.ts', 3));
    r.onTestResult(undefined, result('test/x/b.test.ts', 1));
    r.onTestResult(undefined, result('test/x/all-ran.test.ts', 0));
    const text = summary(r);
    expect(text.split('\n').filter((l) => l !== '')).toEqual([
      'Skipped, and why:',
      '  test/e2e/demo.test.ts (part of a test): node steps not run',
      '  test/node/a.test.ts (3 tests): needs root',
      '  test/x/b.test.ts (1 test): NO REASON DECLARED (use test/helpers/skip.ts)',
    ]);
    expect(existsSync(log)).toBe(false);
  });

  it('says nothing when nothing was skipped', () => {
    const r = new SkipReporter({});
    r.onTestResult(undefined, result('test/x/all-ran.test.ts', 0));
    expect(summary(r)).toBe('');
  });

  it('under a name filter (-t), lists only declared reasons', () => {
    const r = new SkipReporter({ testNamePattern: 'something' });
    r.onTestResult(undefined, result('test/x/filtered.test.ts', 7));
    expect(summary(r)).toBe('');
  });
});

/** Every .ts file under test/, as paths relative to the repository. */
function testFiles(dir = join(process.cwd(), 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? testFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [relative(process.cwd(), join(dir, e.name))]
        : [],
  );
}

describe('declared skips', () => {
  it('no test file skips through describe/it/test.skip itself (its reason would be lost: use test/helpers/skip.ts)', () => {
    const bare = /\b(?:describe|it|test)\.skip\b/;
    const offenders = testFiles().filter(
      (f) =>
        f !== 'test/helpers/skip.ts' && f !== 'test/unit/skip-reporter.test.ts' && bare.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
    expect(bare.test('const d = ok ? describe : describe.skip;')).toBe(true);
  });
});
