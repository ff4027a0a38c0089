// Time the synthetic painter takes per character of the demo's batches (64 px, close-ups
// included), and a hash of every pixel, line art and mask drawn, so a faster painter can be
// checked to draw the same. Usage: npx tsx bench/painter.ts [batches 100] [seed 5]
import { createHash } from 'node:crypto';
import { DEMO_DEFAULTS } from '../src/demo/index.js';
import { demoTrainingBatches } from './util.js';

const batches = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? 5);
const d = DEMO_DEFAULTS;
const batchAt = demoTrainingBatches(seed);
const hash = createHash('sha256');
const bytes = (a: Float32Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const t0 = performance.now();
let n = 0;
for (let b = 0; b < batches; b++) {
  for (const s of batchAt(b)) {
    n++;
    hash.update(bytes(s.color.data));
    hash.update(bytes(s.lineArt.data));
    for (const m of Object.values(s.masks)) hash.update(bytes(m));
  }
}
const ms = performance.now() - t0;
console.log(`${n} characters at ${d.size} px: ${(ms / n).toFixed(3)} ms each (hashing included); sha256 ${hash.digest('hex').slice(0, 16)}`);
