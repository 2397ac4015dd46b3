import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.integration.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    // Real servers start in hooks (ClickHouse can take tens of seconds on a cold CI box).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file starts its own brokers; on a 2-core machine running files in parallel only
    // turns startup latency into timeouts.
    fileParallelism: false,
  },
});
