import { defineConfig } from 'tsup';

// The library's entry points: the browser-safe core, its groups (data, synth, eval, io, training)
// and the Node-only helpers (backend loading, files, images); package.json exports each. The CLI
// is an executable bundle of its own.
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      data: 'src/data/index.ts',
      synth: 'src/data/synth/index.ts',
      eval: 'src/eval/index.ts',
      io: 'src/io/index.ts',
      training: 'src/training/index.ts',
      node: 'src/node/index.ts',
    },
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
