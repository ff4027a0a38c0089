import { rmSync, writeFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

// The library's entry points: the browser-safe core, its groups (data, synth, eval, io, training)
// and the Node-only helpers (backend loading, files, images); package.json exports each. The CLI
// is an executable bundle of its own.
const entry = {
  index: 'src/index.ts',
  data: 'src/data/index.ts',
  synth: 'src/data/synth/index.ts',
  eval: 'src/eval/index.ts',
  io: 'src/io/index.ts',
  training: 'src/training/index.ts',
  node: 'src/node/index.ts',
};
const external = [/^@tensorflow\//, 'sharp', 'commander', 'cli-progress', 'fflate', 'webgpu'];

// One clean before the builds below, which run side by side.
rmSync('dist', { recursive: true, force: true });

/**
 * Node's `import` of an entry: an ES module over the CommonJS build, so that a process holds one
 * copy of the library whether it imports, requires or does both (no dual-package hazard: one
 * `SECat` class, one set of registered layers and kernels). Node reads the CommonJS build's
 * export names statically (cjs-module-lexer); test/package checks that every name arrives.
 */
function writeNodeEsmWrappers(): void {
  for (const name of Object.keys(entry)) {
    writeFileSync(`dist/${name}.node.mjs`, `export * from './${name}.cjs';\n`);
  }
}

export default defineConfig([
  // ES modules for bundlers and browsers: shared chunks, one copy of every module across entries.
  {
    entry,
    format: ['esm'],
    splitting: true,
    sourcemap: true,
    target: 'es2022',
    external,
  },
  // CommonJS for Node (`require`, and `import` through the wrappers above). Split into shared
  // chunks too, so an app requiring several entries loads each module once; rollup (treeshake)
  // turns the chunks into CommonJS and gives `import.meta.url` its CommonJS meaning.
  {
    entry,
    format: ['cjs'],
    splitting: true,
    treeshake: true,
    sourcemap: true,
    target: 'es2022',
    external,
    onSuccess: async () => writeNodeEsmWrappers(),
  },
  // Declarations, one pass for both: .d.ts for `import`, .d.cts for `require`.
  { entry, format: ['esm', 'cjs'], dts: { only: true }, target: 'es2022', external },
  {
    entry: { cli: 'src/cli/index.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'es2022',
    banner: { js: '#!/usr/bin/env node' },
    external,
  },
]);
