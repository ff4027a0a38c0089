import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));

// Tests that need system packages rather than npm ones run as projects of their own, so that
// `npm test` (project `node`) passes on a fresh clone with nothing but Node and `npm ci`.
// `npm run test:system` runs them; .ci/run installs their packages first; README lists them.
// Debian's Chromium (`apt-get install -y chromium`), driven through playwright-core (the webgpu
// pages run on Chromium's own SwiftShader):
const NEEDS_CHROMIUM = [
  'test/web/page.test.ts',
  'test/web/colorize_page.test.ts',
  'test/web/train_page.test.ts',
  'test/web/colorize_page_webgpu.test.ts',
  'test/web/train_webgpu.test.ts',
];
// A Vulkan driver for Dawn (the npm package `webgpu`): a GPU's, or without one Mesa's lavapipe 25
// (Debian bookworm: mesa-vulkan-drivers from bookworm-backports). `npm run test:system` also runs
// the layers, model parity, train-step parity and recompute on webgpu (TAG2PIX_BACKEND=webgpu).
const NEEDS_VULKAN = ['test/kernels/webgpu/**/*.test.ts', 'test/node/webgpu_adapter.test.ts'];
// The packed package installed into fresh apps (builds it, and installs from npm's cache, which
// the repository's `npm ci` fills): slower than the rest, so it runs with the system tests.
const PACKAGE = ['test/package/**/*.test.ts'];

export default defineConfig({
  // The package's own entry points resolve to the sources (examples import them by name), so the
  // suite needs no build.
  resolve: {
    alias: [
      { find: /^tag2pix$/, replacement: `${src}index.ts` },
      { find: /^tag2pix\/(data|eval|io|training|node)$/, replacement: `${src}$1/index.ts` },
      { find: /^tag2pix\/synth$/, replacement: `${src}data/synth/index.ts` },
    ],
  },
  test: {
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs backends are process-global; forks keep each file's backend state apart.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...NEEDS_CHROMIUM, ...NEEDS_VULKAN, ...PACKAGE],
        },
      },
      { extends: true, test: { name: 'chromium', include: NEEDS_CHROMIUM } },
      { extends: true, test: { name: 'webgpu', include: NEEDS_VULKAN } },
      { extends: true, test: { name: 'package', include: PACKAGE, testTimeout: 300_000, hookTimeout: 600_000 } },
    ],
  },
});
