// Where a demo generator paints over the background of full figures, and why: the mean
// |output − truth| on background pixels per 8×8 cell of 32 full figures; the same for the two
// 6-pixel side bands (rows 8–25) with the line art as it is, mirrored (output mirrored back), and
// with the left column of the extractor's feature cells replaced by the right column's. A patch
// that stays at the generator's left edge when the input is mirrored comes from the position, not
// from what is drawn (docs/results.md, tenth round); the eleventh round found which position: where
// G's stride-2 convolutions read zero padding beside uncentred CIT features, which the column swap
// keeps (bench/cell_probe.ts).
// Usage: npx tsx bench/edge_probe.ts <demo output folder> [seed of its run, 1]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/index.js';
import { loadDemoRun, unseenFullFigures } from './util.js';

const dir = process.argv[2];
if (!dir) throw new Error('Usage: npx tsx bench/edge_probe.ts <demo output folder> [seed]');
const seed = Number(process.argv[3] ?? 1);
await initBackend('cpu');
const { generator, citExtractor } = await loadDemoRun(dir);
const { samples, lineArt, cvt } = unseenFullFigures(seed);
const n = samples.length;
const size = samples[0]!.size;
const features = citExtractor!.predict(lineArt) as tf.Tensor4D;
const colour = (line: tf.Tensor4D, cit: tf.Tensor4D) => (generator.predict([line, cit, cvt]) as tf.Tensor[])[0] as tf.Tensor4D;

/** Mean |output − truth| (RGB in [-1, 1]) over the background pixels that `where` accepts. */
function backgroundError(o: Float32Array, where: (x: number, y: number) => boolean): number {
  let sum = 0;
  let count = 0;
  samples.forEach((s, i) => {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (!where(x, y) || s.masks.background[y * size + x]! < 0.99) continue;
        for (let c = 0; c < 3; c++) sum += Math.abs(o[((i * size + y) * size + x) * 3 + c]! - (s.color.data[(y * size + x) * 3 + c]! / 127.5 - 1));
        count += 3;
      }
    }
  });
  return count ? sum / count : NaN;
}

const plain = colour(lineArt, features);
const plainData = plain.dataSync() as Float32Array;
console.log(`${dir}: mean |error| × 1000 on the background pixels of ${n} full figures, per 8×8 cell (– : no background):`);
for (let r = 0; r < size / 8; r++) {
  const row = Array.from({ length: size / 8 }, (_, c) => backgroundError(plainData, (x, y) => y >> 3 === r && x >> 3 === c));
  console.log(row.map((e) => (Number.isNaN(e) ? '–' : String(Math.round(e * 1000))).padStart(5)).join(''));
}
const bands = (out: tf.Tensor4D): string => {
  const o = out.dataSync() as Float32Array;
  return `left ${(backgroundError(o, (x, y) => x < 6 && y >= 8 && y < 26) * 1000).toFixed(0)}, right ${(backgroundError(o, (x, y) => x >= size - 6 && y >= 8 && y < 26) * 1000).toFixed(0)}`;
};
const mirroredLine = tf.reverse(lineArt, 2) as tf.Tensor4D;
const mirrored = tf.reverse(colour(mirroredLine, citExtractor!.predict(mirroredLine) as tf.Tensor4D), 2) as tf.Tensor4D;
const swapped = tf.tidy(() => {
  const cells = features.shape[2];
  const right = tf.slice(features, [0, 0, cells - 1, 0], [-1, -1, 1, -1]);
  return colour(lineArt, tf.concat([right, tf.slice(features, [0, 0, 1, 0], [-1, -1, cells - 1, -1])], 2) as tf.Tensor4D);
});
console.log(`side bands (x < 6 or x ≥ ${size - 6}, rows 8–25), mean |error| × 1000:`);
console.log(`  as drawn:                                   ${bands(plain)}`);
console.log(`  line art mirrored, output mirrored back:    ${bands(mirrored)}`);
console.log(`  left feature cells replaced by the right's: ${bands(swapped)}`);
tf.dispose([lineArt, cvt, features, plain, mirroredLine, mirrored, swapped]);
generator.dispose();
citExtractor?.dispose();
