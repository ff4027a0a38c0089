import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs backends are process-global; forks keep each file's backend state apart.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
