// Research probe for issue 15: G's colour of one small region (eyes or bow) for each requested
// colour, at several framings, for a generator and extractor saved by
// `bench/demo_recipe.ts --save <folder>`. A framing z > 0 draws the character as a close-up with
// the eye line at half the height (z = 1: the full figure as drawn); z < 0 the same at zoom |z|
// with the eye line at 0.3 of the height, to tell a colour learned for the region from one
// learned for a place in the image.
// Usage: npx tsx bench/eye_probe.ts <folder> [eyes|bow] [size 64] [framings 1,1.5,2,3]
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { promises as fs } from 'node:fs';
import '../src/index.js'; // registers the layers the saved topology names
import { initBackend } from '../src/node/index.js';
import { generateCharacter, renderSample } from '../src/data/synth/dataset.js';
import { faceCloseUp } from '../src/data/synth/close_up.js';
import type { CharacterSpec } from '../src/data/synth/character.js';
import { DEMO_PALETTE, heldOutPairs, isHeldOut } from '../src/demo/index.js';
await initBackend('wasm');
const dir = process.argv[2]!;
const fam = (process.argv[3] ?? 'eyes') as 'eyes';
const load = async (name: string) => {
  const j = JSON.parse(await fs.readFile(`${dir}/${name}.json`, 'utf8'));
  const b = await fs.readFile(`${dir}/${name}.bin`);
  return tfl.loadLayersModel(tf.io.fromMemory({ ...j, weightData: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) }));
};
const g = await load('generator');
const e = await load('extractor');
const size = Number(process.argv[4] ?? 64);
const pairs = heldOutPairs();
for (const zoom of (process.argv[5] ?? '1,1.5,2,3').split(',').map(Number)) {
  let right = 0, all = 0;
  const res: Record<string, number[][]> = {};
  for (let i = 0; i < 16; i++) {
    const s = generateCharacter(i, { size, colorChoices: DEMO_PALETTE, seed: 1001, reject: (x) => isHeldOut(x, pairs) });
    if (!s.spec.colors[fam]) continue;
    for (const tag of DEMO_PALETTE[fam]) {
      let spec: CharacterSpec = { ...s.spec, colors: { ...s.spec.colors, [fam]: tag } };
      if (zoom !== 1) spec = faceCloseUp(spec, Math.abs(zoom), zoom < 0 ? 0.3 : 0.5);
      const r = renderSample(spec, size);
      const out = tf.tidy(() => {
        const line = tf.tensor4d(r.lineArt.data, [1, size, size, 1]);
        const cvt = tf.tensor2d(r.multiHot.cvt, [1, r.multiHot.cvt.length]);
        const f = e.predict(line) as tf.Tensor | tf.Tensor[];
        return (g.predict([line, Array.isArray(f) ? f[0]! : f, cvt]) as tf.Tensor[])[0]!;
      });
      const d = out.dataSync(); out.dispose();
      const m = (r.masks as any)[fam] as Float32Array;
      let w = 0; const acc = [0, 0, 0];
      for (let p = 0; p < size * size; p++) if (m[p]! > 0.5) { w++; for (let k = 0; k < 3; k++) acc[k] += (d[p * 3 + k]! + 1) * 127.5; }
      (res[tag] ??= []).push(acc.map((x) => x / w));
    }
  }
  console.log(`zoom ${zoom}: ` + Object.entries(res).map(([t, rows]) => `${t.split('_')[0]} ${[0, 1, 2].map((k) => (rows.reduce((a, r) => a + r[k]!, 0) / rows.length).toFixed(0)).join(',')}`).join(' | '));
}
