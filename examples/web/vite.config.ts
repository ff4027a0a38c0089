import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

// The page imports the library through src/tag2pix.ts (its source, in this repository); an
// application that installed tag2pix from npm imports 'tag2pix' and needs nothing here.
export default defineConfig({
  root: here,
  base: './', // relative asset URLs: the built page works from any folder of any static host
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repoRoot] } },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    outDir: `${here}dist`,
    emptyOutDir: true,
    target: 'es2022',
    // tfjs (core + layers + the GPU backends) is large by nature; it is split per backend below.
    chunkSizeWarningLimit: 4000,
  },
  worker: { format: 'es' },
});
