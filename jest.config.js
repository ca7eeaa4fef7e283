/** Jest in native ESM mode with @swc/jest for TypeScript (see ../shared/STACK.md). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/services/**/*.test.ts', '<rootDir>/test/**/*.test.ts', '<rootDir>/conformance/**/*.test.ts'],
  testTimeout: 60000,
  // Integration suites each start their own embedded Postgres; two workers fit 2 cores.
  maxWorkers: 2,
};
