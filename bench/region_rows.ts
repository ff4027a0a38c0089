// Where a region lies, row by row, in the demo's close-ups and in its full figures: the mean
// number of the region's pixels per row in the middle quarter of the columns, or in the 5
// columns at the left or right edge. The close-ups put a bow at the top of the frame and at its
// left edge, where every full figure has background (docs/results.md, ninth and tenth rounds).
// Usage: npx tsx bench/region_rows.ts [region bow] [batches 20] [seed 1] [columns middle|left|right]
//        [flip probability: the demo's]
import { DEMO_DEFAULTS } from '../src/demo/index.js';
import type { SynthRegion } from '../src/data/synth/painter.js';
import { demoTrainingBatches } from './util.js';

const region = (process.argv[2] ?? 'bow') as SynthRegion;
const batches = Number(process.argv[3] ?? 20);
const seed = Number(process.argv[4] ?? 1);
const size = DEMO_DEFAULTS.size;
const columns = process.argv[5] ?? 'middle';
const spans: Record<string, [number, number]> = { middle: [Math.round((size * 3) / 8), Math.round((size * 5) / 8)], left: [0, 5], right: [size - 5, size] };
if (!spans[columns]) throw new Error(`columns must be middle, left or right, got ${columns}.`);
const [from, to] = spans[columns]!;
const flipProbability = Number(process.argv[6] ?? DEMO_DEFAULTS.flipProbability);
for (const [label, closeUpShare] of [['close-ups', 1], ['full figures', 0]] as const) {
  const batchAt = demoTrainingBatches(seed, { closeUpShare, flipProbability });
  const rows = new Float64Array(size);
  let n = 0;
  for (let b = 0; b < batches; b++) {
    for (const s of batchAt(b)) {
      n++;
      for (let y = 0; y < size; y++) for (let x = from; x < to; x++) rows[y]! += s.masks[region][y * size + x]!;
    }
  }
  const shown = Array.from(rows.slice(0, size / 2), (v) => (v / n).toFixed(2));
  console.log(`${label} (${n} characters, seed ${seed}, flip probability ${flipProbability}): ${region} pixels per row in columns ${from}–${to - 1}, rows 0–${size / 2 - 1}:`);
  console.log(`  ${shown.join(' ')}`);
}
