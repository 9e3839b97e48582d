/** Two tiers, told apart by name: `*.test.ts` is pure and fast, `*.int.test.ts` talks to real Redis and Kafka. */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$'],
      testEnvironment: 'node',
      transform,
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int.test.ts'],
      testEnvironment: 'node',
      transform,
      setupFilesAfterEnv: ['<rootDir>/test/helpers/integration-setup.ts'],
    },
  ],
};
