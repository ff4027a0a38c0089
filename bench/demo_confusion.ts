// Which colours a demo run gets wrong, and what it draws instead: per family, for each requested
// colour, right/judged and the colours the wrong ones were judged as, on the run's own held-out
// and unseen-combination characters (its seed read from report.json).
// Usage: npx tsx bench/demo_confusion.ts <demo output folder> [families, default eyes,bow,skirt,dress,hair]
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadColorizer } from '../src/node/index.js';
import { generateCharacter } from '../src/data/synth/dataset.js';
import { DEMO_PALETTE, heldOutPairs, isHeldOut } from '../src/demo/index.js';
import { tagAccuracy } from '../src/eval/tag_accuracy.js';
import { colorConfusion as confusion } from './util.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/demo_confusion.ts <demo output folder> [families]');
const families = (process.argv[3] ?? 'eyes,bow,skirt,dress,hair').split(',');
const report = JSON.parse(await fs.readFile(path.join(dir, 'report.json'), 'utf8')) as { seed: number };
const seed = report.seed;
await initBackend('wasm');
const colorizer = await loadColorizer(dir);
// The demo's test sets (src/demo/run.ts): 128 characters each, palette 'demo'.
const pairs = heldOutPairs();
const synth = { size: colorizer.config.inputSize, colorChoices: DEMO_PALETTE };
const test = Array.from({ length: 128 }, (_, i) => generateCharacter(i, { ...synth, seed: seed + 1000, reject: (s) => isHeldOut(s, pairs) }));
const unseen = Array.from({ length: 128 }, (_, i) => generateCharacter(i, { ...synth, seed: seed + 2000, reject: (s) => !isHeldOut(s, pairs) }));
const colorize = ({ lineArt, cvt }: { lineArt: tf.Tensor4D; cvt: tf.Tensor2D }): tf.Tensor4D =>
  tf.tidy(() => {
    const out = colorizer.citExtractor!.predict(lineArt);
    const features = (Array.isArray(out) ? out[0] : out)!;
    return (colorizer.generator.predict([lineArt, features, cvt]) as tf.Tensor[])[0] as tf.Tensor4D;
  });
console.log(`${dir}: seed ${seed}`);
for (const [name, set] of [['held-out', test], ['unseen', unseen]] as const) {
  const r = await tagAccuracy(colorize, set, { families: DEMO_PALETTE });
  for (const f of families) console.log(`${name} ${f} ${(100 * (r.perFamily[f]?.accuracy ?? NaN)).toFixed(1)} %: ${confusion(r, f)}`);
}
colorizer.dispose();
