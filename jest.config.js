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
  testTimeout: 30000,
  // The default reporter, then a summary of skipped tests and why (test/helpers/skip.ts).
  reporters: ['default', '<rootDir>/test/helpers/skip-reporter.js'],
};
