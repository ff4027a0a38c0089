// Writes docs/images/synthetic-samples.png: synthetic characters (top) and their line art (bottom).
// Usage: npx tsx examples/synth-gallery.ts [--size 128] [--count 8] [--seed 3] [--out docs/images/synthetic-samples.png]
import { generateCharacter } from '../src/data/synth/index.js';
import { writePng } from '../src/node/index.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const size = Number(arg('size', '128'));
const count = Number(arg('count', '8'));
const seed = Number(arg('seed', '3'));
const out = arg('out', 'docs/images/synthetic-samples.png');

const width = size * count;
const data = new Uint8Array(width * size * 2 * 3);
for (let k = 0; k < count; k++) {
  const s = generateCharacter(k, { size, seed });
  console.log(`${k}: ${[...s.tags.cit, ...s.tags.cvt].join(' ')}`);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const line = Math.round(s.lineArt.data[p]! * 255);
      for (let c = 0; c < 3; c++) {
        data[(y * width + k * size + x) * 3 + c] = s.color.data[p * 3 + c]!;
        data[((y + size) * width + k * size + x) * 3 + c] = line;
      }
    }
  }
}
await writePng(out, { data, width, height: size * 2, channels: 3 });
console.log(`wrote ${out}`);
