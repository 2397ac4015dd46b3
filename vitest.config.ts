import { defineConfig } from 'vitest/config';

// Unit tests only: anything needing a real server lives in *.integration.test.ts and runs
// under vitest.integration.config.ts, so `npm run test:unit` stays fast and dependency-free.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'runtime/**/*.test.ts', 'actors/**/*.test.ts', 'adapters/**/*.test.ts'],
    exclude: ['**/*.integration.test.ts', 'dist/**', 'node_modules/**'],
  },
});
