// Tiers live in test/<tier>/: unit, simulator, wsapi, service, node (root), e2e, sanity, packaging.
// JEST_TIERS=unit,service limits a run to some tiers (used by .ci/run for the Node 24 pass).
const tiers = process.env.JEST_TIERS ? process.env.JEST_TIERS.split(',') : null;
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: tiers ? tiers.map((t) => `<rootDir>/test/${t}/**/*.test.ts`) : ['<rootDir>/test/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }] },
  // A safety net against a hung test, not a speed budget: CI is a loaded 2-core machine, where a
  // test may take many times as long as on a laptop. Tests set no shorter limits of their own.
  testTimeout: 300_000,
  // The default reporter, then a summary of skipped tests and why (test/helpers/skip.ts).
  reporters: ['default', '<rootDir>/test/helpers/skip-reporter.js'],
};
