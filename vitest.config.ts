import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; interop tests (real routers in network
// namespaces) are heavier and run one file at a time in their own project.
// Both first rebuild dist/ (the daemon and CLI bundles, decisions/0024) so
// tests that start the real bins never run a stale build.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          globalSetup: ['test/support/build-dist.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**', 'test/bench/**', 'node_modules/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'interop',
          globalSetup: ['test/support/build-dist.ts'],
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
