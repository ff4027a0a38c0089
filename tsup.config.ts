import { defineConfig } from 'tsup';

// Two library entry points: the browser-safe core and the Node-only helpers (backend loading,
// image files). The CLI is an executable bundle of its own.
export default defineConfig([
  {
    entry: { index: 'src/index.ts', node: 'src/node/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@tensorflow\//, 'sharp', 'commander', 'cli-progress', 'fflate', 'webgpu'],
  },
  {
    entry: { cli: 'src/cli/index.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'es2022',
    banner: { js: '#!/usr/bin/env node' },
    external: [/^@tensorflow\//, 'sharp', 'commander', 'cli-progress', 'fflate', 'webgpu'],
  },
]);
