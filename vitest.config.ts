import { defineConfig } from 'vitest/config'

// `import … from 'mandate/agent'` resolves to the TypeScript source (package.json exports, docs/decisions/0014);
// the rest are Vite's default server conditions, which a condition list replaces.
const ssr = { resolve: { conditions: ['mandate-source', 'module', 'node', 'development|production'] } }

export default defineConfig({
  test: {
    projects: [
      { ssr, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        ssr,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        ssr,
        test: {
          // Pages in Debian's Chromium (test/support/browser.ts): skipped, with a notice, where it is missing.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
