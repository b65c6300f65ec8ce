/** Types of skip-reporter.js (a plain-JavaScript jest reporter), for the test that checks it. */
export default class SkipReporter {
  constructor(globalConfig: { testNamePattern?: string | null });
  onTestResult(test: unknown, result: { testFilePath: string; numPendingTests: number; numTodoTests: number }): void;
  onRunComplete(): void;
}
