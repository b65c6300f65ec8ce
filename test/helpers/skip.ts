/**
 * Declared skips. A test or suite that cannot run here (not root, a tool missing, a kernel
 * capability missing) says why through these helpers, and test/helpers/skip-reporter.js prints
 * every reason in a summary at the end of the run. jest itself drops the console output of a file
 * whose every test is skipped, so a `console.log` beside `describe.skip` says nothing.
 *
 *   const d = describeUnless(rootSkipReason());          // describe, or describe.skip + reason
 *   itUnless(ext4Reason)('ext4: online expand', ...);     // one test
 *   declareSkip('the fs-error half: no trigger file');   // a part skipped inside a running test
 *
 * The reason goes to the file the reporter names in $THREEPAR_TEST_SKIPS; without it (jest run
 * with other reporters) it is written straight to stderr.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';

/** The environment variable through which the reporter tells test workers where to write. */
export const SKIP_LOG_ENV = 'THREEPAR_TEST_SKIPS';

/** Records why something in the current test file is skipped. */
export function declareSkip(reason: string): void {
  const testPath = expect.getState().testPath ?? '';
  const file = testPath ? relative(process.cwd(), testPath) : '(unknown file)';
  const log = process.env[SKIP_LOG_ENV];
  if (log) appendFileSync(log, `${JSON.stringify({ file, reason })}\n`);
  else process.stderr.write(`skipped in ${file}: ${reason}\n`);
}

/** `describe` when `reason` is undefined; otherwise `describe.skip`, with the reason declared. */
export function describeUnless(reason: string | undefined): typeof describe {
  if (reason === undefined) return describe;
  declareSkip(reason);
  return describe.skip as typeof describe;
}

/** `it` when `reason` is undefined; otherwise `it.skip`, with the reason declared. */
export function itUnless(reason: string | undefined): typeof it {
  if (reason === undefined) return it;
  declareSkip(reason);
  return it.skip as typeof it;
}
