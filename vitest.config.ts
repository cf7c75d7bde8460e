import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Integration tests share one Temporal dev server; two cores, so keep the fan-out small.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
