// Renders one held-out character with each eye (or another family's) colour through a generator
// saved by bench/demo_recipe.ts --save, full figure and close-ups, for a look at what it paints.
// Usage: npx tsx bench/recipe_grid.ts <save dir> <out.png> [--family eyes] [--size 64] [--index 3]
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { generateCharacter, renderSample, synthBatch } from '../src/data/synth/dataset.js';
import { faceCloseUp } from '../src/data/synth/close_up.js';
import '../src/index.js';
import { initBackend } from '../src/node/backend.js';
import { DEMO_PALETTE, lineArtFeatures } from '../src/demo/index.js';
import { encodePng } from '../src/node/image.js';
import type { TagFamily } from '../src/data/synth/palette.js';

const [dir, out] = process.argv.slice(2);
const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback);
const family = opt('family', 'eyes') as TagFamily;
const size = Number(opt('size', '64'));
const index = Number(opt('index', '3'));
await initBackend();
const load = async (name: string): Promise<tfl.LayersModel | undefined> => {
  try {
    const json = JSON.parse(await fs.readFile(`${dir}/${name}.json`, 'utf8'));
    const bin = await fs.readFile(`${dir}/${name}.bin`);
    json.weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
    return await tfl.loadLayersModel(tf.io.fromMemory(json));
  } catch {
    return undefined;
  }
};
const generator = (await load('generator'))!;
const extractor = await load('extractor');
const base = generateCharacter(index, { size, colorChoices: DEMO_PALETTE, seed: 1001 });
const tiles: Buffer[] = [];
const cell = 160;
const zooms = [1, 1.9, 3];
for (const zoom of zooms) {
  const spec = zoom === 1 ? base.spec : faceCloseUp(base.spec, zoom, 0.5);
  for (const tag of DEMO_PALETTE[family]) {
    const s = renderSample({ ...spec, colors: { ...spec.colors, [family]: tag } }, size);
    const b = synthBatch([s]);
    const f = extractor ? tf.tidy(() => (extractor.apply(b.lineArt) as tf.Tensor[])[0]!) : lineArtFeatures(b.lineArt);
    const [color] = generator.apply([b.lineArt, f, b.cvt], { training: false }) as tf.Tensor[];
    const img = tf.tidy(() => tf.squeeze(color!, [0])) as tf.Tensor3D;
    tiles.push(await sharp(await encodePng(img, { range: [-1, 1] })).resize(cell, cell, { kernel: 'nearest' }).png().toBuffer());
    tiles.push(await sharp(await encodePng(s.color)).resize(cell, cell, { kernel: 'nearest' }).png().toBuffer());
    tf.dispose([img, color!, f, ...Object.values(b)]);
  }
}
const cols = DEMO_PALETTE[family].length * 2;
await sharp({ create: { width: cols * cell, height: zooms.length * cell, channels: 3, background: 'white' } })
  .composite(tiles.map((t, k) => ({ input: t, left: (k % cols) * cell, top: Math.floor(k / cols) * cell })))
  .png()
  .toFile(out!);
