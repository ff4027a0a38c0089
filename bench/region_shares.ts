// Each region's share of the pixels in the demo's training batches (close-ups included), which is
// its share of G's reconstruction loss without region weights.
// Usage: npx tsx bench/region_shares.ts [batches 16] [seed 1]
import { DEMO_DEFAULTS } from '../src/demo/index.js';
import { SYNTH_REGIONS } from '../src/data/synth/painter.js';
import { demoTrainingBatches } from './util.js';

const batches = Number(process.argv[2] ?? 16);
const seed = Number(process.argv[3] ?? 1);
const d = DEMO_DEFAULTS;
const batchAt = demoTrainingBatches(seed);
const share: Record<string, number> = {};
const present: Record<string, number> = {};
let n = 0;
for (let b = 0; b < batches; b++) {
  for (const s of batchAt(b)) {
    n++;
    for (const r of SYNTH_REGIONS) {
      const a = s.masks[r].reduce((x, y) => x + y, 0) / (s.size * s.size);
      share[r] = (share[r] ?? 0) + a;
      if (a > 0) present[r] = (present[r] ?? 0) + 1;
    }
  }
}
console.log(`${n} training characters (seed ${seed}, ${d.size} px, close-ups as the demo draws them):`);
for (const r of SYNTH_REGIONS) {
  console.log(`${r.padEnd(10)} ${((100 * share[r]!) / n).toFixed(2)} % of the pixels; ${((100 * share[r]!) / (present[r] ?? 1)).toFixed(2)} % where present (${present[r] ?? 0} characters)`);
}
