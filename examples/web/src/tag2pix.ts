// The page's one door to the library. An application that installed tag2pix from npm writes
// `import { … } from 'tag2pix'`; inside this repository the page takes the library's source
// instead (the same code the npm package is built from), so it needs no build step first.
export * from '../../../src/index.js';
