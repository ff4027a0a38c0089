// Colourise a line art with colour tags.
//
//   npx tsx examples/colorize.ts [lineart] [out.png] [tags] [weights...]
//
// Defaults: ../shared/data/samples/lineart-40.png, demo-output/colorize.png, 'blue_hair, red_eyes'.
// With weights (the official tag2pix_256.pkl + model.pth, .safetensors exports of them, or your
// own trained generator + CIT extractor; see docs/weights.md), it colourises for real. Without,
// it builds a small untrained generator and CIT extractor, writes their weights as safetensors
// files and loads them back the same way; the colours are then meaningless, but every step runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { buildCITExtractor, buildTag2PixGenerator, exportTorchStateDict } from '../src/index.js';
import { writeSafetensors } from '../src/io/index.js';
import { colorizeToPng, initBackend, loadColorizer } from '../src/node/index.js';

const lineArt = process.argv[2] ?? '../shared/data/samples/lineart-40.png';
const out = process.argv[3] ?? 'demo-output/colorize.png';
const tags = process.argv[4] ?? 'blue_hair, red_eyes';
const weights = process.argv.slice(5);

/** Writes an untrained narrow 64 px generator and its CIT extractor as safetensors files. */
function writeUntrainedWeights(dir: string): string[] {
  const generator = buildTag2PixGenerator({ inputSize: 64, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1] });
  const citExtractor = buildCITExtractor({ inputSize: 64 });
  const files: string[] = [];
  for (const [name, model] of [['generator', generator], ['cit_extractor', citExtractor]] as const) {
    const dict = exportTorchStateDict(model);
    const file = path.join(dir, `${name}.safetensors`);
    fs.writeFileSync(file, writeSafetensors(dict));
    tf.dispose(Object.values(dict));
    files.push(file);
  }
  return files;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  console.log(`backend: ${backend.backend}`);
  let sources = weights;
  if (sources.length === 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-example-'));
    sources = writeUntrainedWeights(dir);
    console.log(`no weights given: wrote untrained ones to ${dir} (the colours will be meaningless)`);
  }
  const { generator, citExtractor, config, sources: from } = await loadColorizer(sources);
  console.log(`generator: ${config.inputSize} px from ${from.generator}; CIT extractor from ${from.citExtractor}`);

  const started = Date.now();
  const png = await colorizeToPng({ lineArt, tags, generator, citExtractor });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, png);
  console.log(`wrote ${out} (${png.length} bytes) in ${Date.now() - started} ms`);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
