import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

// The page imports 'tag2pix' (and its subpaths) like any application. Inside this repository the
// names point at the library's source (tsconfig.json maps them the same way for the type
// checker); an application that installed tag2pix from npm needs no alias at all.
export default defineConfig({
  root: here,
  base: './', // relative asset URLs: the built page works from any folder of any static host
  resolve: {
    alias: [
      { find: /^tag2pix$/, replacement: `${repoRoot}src/index.ts` },
      { find: /^tag2pix\/(data|eval|io|training)$/, replacement: `${repoRoot}src/$1/index.ts` },
      { find: /^tag2pix\/synth$/, replacement: `${repoRoot}src/data/synth/index.ts` },
    ],
  },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repoRoot] } },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    outDir: `${here}dist`,
    emptyOutDir: true,
    target: 'es2022',
    // tfjs (core + layers) is large by nature; the GPU backends load as chunks of their own.
    chunkSizeWarningLimit: 4000,
    // Two pages: colourising (index.html) and training in the browser (train.html).
    rollupOptions: { input: { main: `${here}index.html`, train: `${here}train.html` } },
  },
});
