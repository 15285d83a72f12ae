import { defineConfig } from 'vitest/config';

// The suites share one addon (one worker pool) and real servers on a
// 2-core machine: run files one after another, with generous timeouts.
export default defineConfig({
  test: {
    include: ['__test__/**/*.test.mjs'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
