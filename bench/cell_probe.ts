// Where inside a demo generator a patch at a fixed place starts: the rms over 32 full figures of
// the synthetic CIT extractor's features per S/8 cell, and per 16×16 cell of the image (S/16 at
// the bottleneck) of each input of G's bottleneck (the encoder's skip, featureConv over the CIT
// features, the CVT tag map), of the first decoder stage and of the output before its tanh.
// A cell well above its neighbours in one input and in everything after it is where a patch
// comes from (docs/results.md, eleventh round).
// Usage: npx tsx bench/cell_probe.ts <demo output folder> [seed of its run, 1]
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/node/index.js';
import { loadDemoRun, unseenFullFigures } from './util.js';

const dir = process.argv[2];
if (!dir) throw new Error('Usage: npx tsx bench/cell_probe.ts <demo output folder> [seed]');
const seed = Number(process.argv[3] ?? 1);
await initBackend('cpu');
const { generator, citExtractor } = await loadDemoRun(dir);
const { lineArt, cvt } = unseenFullFigures(seed);
const features = citExtractor!.predict(lineArt) as tf.Tensor4D;

/** Rms of `t` [N, H, W, C] over the batch and channels, per cell of a `cells` × `cells` grid. */
function cellRms(t: tf.Tensor4D, cells: number): string {
  const [n, h, w, c] = t.shape;
  const d = t.dataSync() as Float32Array;
  const side = h / cells;
  const rows: string[] = [];
  for (let r = 0; r < cells; r++) {
    const row: string[] = [];
    for (let q = 0; q < cells; q++) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        for (let y = r * side; y < (r + 1) * side; y++) {
          for (let x = q * side; x < (q + 1) * side; x++) {
            for (let k = 0; k < c; k++) sum += d[((i * h + y) * w + x) * c + k]! ** 2;
          }
        }
      }
      row.push(Math.sqrt(sum / (n * side * side * c)).toFixed(2).padStart(7));
    }
    rows.push(row.join(''));
  }
  return rows.join('\n');
}

console.log(`${dir}: rms over 32 full figures it did not train on`);
console.log(`CIT extractor features [${features.shape.slice(1)}], per S/8 cell:\n${cellRms(features, features.shape[1])}`);
const bottom = generator.getLayer('bottom').input as tfl.SymbolicTensor[];
const probes: Array<[string, tfl.SymbolicTensor]> = [
  ["encoder skip (G's conv5)", bottom[0]!],
  ['featureConv (CIT features)', bottom[1]!],
  ['CVT tag map', bottom[2]!],
  ['deconv1', generator.getLayer('deconv1').output as tfl.SymbolicTensor],
  ['output before tanh (deconv5.2)', generator.getLayer('deconv5.2').output as tfl.SymbolicTensor],
];
const probe = tfl.model({ inputs: generator.inputs, outputs: probes.map(([, t]) => t) });
const outputs = probe.predict([lineArt, features, cvt]) as tf.Tensor4D[];
outputs.forEach((t, i) => console.log(`${probes[i]![0]} [${t.shape.slice(1)}], per 16×16 cell of the image:\n${cellRms(t, 4)}`));
tf.dispose([lineArt, cvt, features, ...outputs]);
generator.dispose();
citExtractor?.dispose();
