/**
 * A jest reporter (configured in jest.config.js beside the default one) that ends the run with
 * every declared skip reason (test/helpers/skip.ts), file by file, with the number of skipped
 * tests; a file with skipped tests and no declared reason is named too. It exists because jest
 * drops the console output of a file whose every test is skipped.
 *
 * Plain JavaScript: jest loads reporters without transforming them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const SKIP_LOG_ENV = 'THREEPAR_TEST_SKIPS';

export default class SkipReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
    this.dir = mkdtempSync(join(tmpdir(), 'jest-skips-'));
    this.log = join(this.dir, 'skips.jsonl');
    writeFileSync(this.log, '');
    // Workers are started after the reporters and inherit this; in-band runs read it directly.
    process.env[SKIP_LOG_ENV] = this.log;
    this.skipped = new Map();
  }

  onTestResult(_test, result) {
    const n = result.numPendingTests + result.numTodoTests;
    if (n > 0) this.skipped.set(relative(process.cwd(), result.testFilePath), n);
  }

  onRunComplete() {
    const reasons = new Map();
    let text = '';
    try {
      text = readFileSync(this.log, 'utf8');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const { file, reason } = JSON.parse(line);
      if (!reasons.has(file)) reasons.set(file, new Set());
      reasons.get(file).add(reason);
    }
    const files = [...new Set([...reasons.keys(), ...this.skipped.keys()])].sort();
    if (files.length === 0) return;
    // A name filter (-t) skips tests for its own reason: only declared reasons are worth a line then.
    const filtered = Boolean(this.globalConfig.testNamePattern);
    const lines = [];
    for (const file of files) {
      const n = this.skipped.get(file) ?? 0;
      const why = [...(reasons.get(file) ?? [])];
      if (why.length === 0 && filtered) continue;
      const count = n === 0 ? 'part of a test' : `${n} test${n === 1 ? '' : 's'}`;
      lines.push(
        `  ${file} (${count}): ${why.length > 0 ? why.join('; ') : 'NO REASON DECLARED (use test/helpers/skip.ts)'}`,
      );
    }
    if (lines.length > 0) process.stderr.write(`\nSkipped, and why:\n${lines.join('\n')}\n`);
  }
}
