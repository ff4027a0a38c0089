// Generates the pictures of docs/data.md: XDoG line art at a few settings, the sketch/XDoG
// blend, and what the paired augmentation does to a training pair.
//
//   npx tsx examples/xdog-gallery.ts [out dir, default docs/images]
//
// The colour input is a synthetic character (the library's generator), so the script needs no
// downloaded data; the last panel runs XDoG on the real line art of ../shared/data/samples when present.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng, augmentPair, blendSketchXdog, toUint8Raster, xdog, type Raster8 } from '../src/data/index.js';
import { generateCharacter } from '../src/data/synth/index.js';
import { readImage, writePng } from '../src/node/index.js';

const outDir = process.argv[2] ?? 'docs/images';
const SIZE = 160;

// Side-by-side panels with a white gutter, for one compact PNG per figure.
function row(images: Raster8[], gutter = 6): Raster8 {
  const h = Math.max(...images.map((i) => i.height));
  const w = images.reduce((a, i) => a + i.width, 0) + gutter * (images.length - 1);
  const data = new Uint8Array(w * h * 3).fill(255);
  let x0 = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        for (let c = 0; c < 3; c++) {
          data[(y * w + x0 + x) * 3 + c] = img.data[(y * img.width + x) * img.channels + (img.channels === 3 ? c : 0)]!;
        }
      }
    }
    x0 += img.width + gutter;
  }
  return { data, width: w, height: h, channels: 3 };
}

async function main(): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  const character = generateCharacter(3, { size: SIZE });
  const color = character.color;

  // 1. XDoG at a few settings, next to the colour input.
  const settings: Array<[string, Parameters<typeof xdog>[1]]> = [
    ['published (σ 0.4, k 2.5, γ 0.95, ε −0.5, φ 1e9)', {}],
    ['σ 0.8', { sigma: 0.8 }],
    ['σ 1.5', { sigma: 1.5 }],
    ['soft threshold (γ 0.98, ε −0.02, φ 200)', { gamma: 0.98, epsilon: -0.02, phi: 200 }],
  ];
  const panels = settings.map(([, p]) => xdog(color, p));
  await writePng(path.join(outDir, 'xdog-settings.png'), row([color, ...panels]), { compressionLevel: 9 });
  console.log(`xdog-settings.png: input, then ${settings.map(([name]) => name).join(' | ')}`);

  // 2. The sketch/XDoG blend: the generator's own line art stands in for a sketchKeras output.
  const sketch = toUint8Raster(character.lineArt);
  const blends = [0, 0.5, 1].map((blend) => blendSketchXdog(sketch, color, { blend }));
  await writePng(path.join(outDir, 'xdog-blend.png'), row([sketch, ...blends]), { compressionLevel: 9 });
  console.log('xdog-blend.png: sketch, then blend 0 | 0.5 | 1 (intensity 1.7, degamma 1/1.5)');

  // 3. Paired augmentation: four draws for the same pair, colour above line art.
  const line = xdog(color);
  const draws = [1, 2, 3, 4].map((seed) => augmentPair(color, line, new Rng(seed), { size: SIZE }));
  const colors = draws.map((d) => toUint8Raster({ data: d.color, width: SIZE, height: SIZE, channels: 3 }, -1, 1));
  const lines = draws.map((d) => toUint8Raster({ data: d.lineArt, width: SIZE, height: SIZE, channels: 1 }));
  const top = row(colors);
  const bottom = row(lines);
  const grid: Raster8 = { data: new Uint8Array(top.data.length + bottom.data.length + top.width * 3 * 6).fill(255), width: top.width, height: top.height * 2 + 6, channels: 3 };
  grid.data.set(top.data, 0);
  grid.data.set(bottom.data, top.data.length + top.width * 3 * 6);
  await writePng(path.join(outDir, 'xdog-augmentation.png'), grid, { compressionLevel: 9 });
  console.log('xdog-augmentation.png: four augmentations of one pair (flip, rotation + crop, resized crop, jitter)');

  // 4. XDoG of a real line art (it thins and cleans the strokes), when the sample is available.
  const sample = path.resolve('../shared/data/samples/lineart-40.png');
  if (fs.existsSync(sample)) {
    const real = await readImage(sample, { channels: 1, size: 320 });
    await writePng(path.join(outDir, 'xdog-real-lineart.png'), row([real, xdog(real)]), { compressionLevel: 9 });
    console.log('xdog-real-lineart.png: a real line art (320 px) and its XDoG');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
