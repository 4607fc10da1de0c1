import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: fast unit/integration tests in parallel, then the end-to-end suites (a real
// Hydra process each, and chromium) one file at a time so they do not starve a 2-core runner.
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/e2e/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          maxWorkers: 1,
          // After the unit project, so the two never compete for the CPUs.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
