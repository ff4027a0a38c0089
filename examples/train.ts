// Training end to end on a small synthetic dataset, small enough for a CPU:
//   npx tsx examples/train.ts [--out runs/example] [--epochs 3]
// 1. writes 16 synthetic characters (colour, line art, tags) to <out>/data;
// 2. trains a narrow Tag2Pix (no CIT path, so no pretrained CIT extractor is needed) for all but
//    the last epoch, with the two-step curriculum and a checkpoint at each epoch end;
// 3. resumes the run from its checkpoint for the last epoch, exactly as `tag2pix train --resume`;
// 4. prints the loss terms per epoch. The run folder holds log.jsonl, loss-curve.png,
//    samples/epoch-NNN.png (line art | guide | colour | ground truth) and checkpoint.safetensors.
// For the real model: `tag2pix train --data <dataset> --cit-weights model.pth --out runs/x` (docs/training.md).
import * as path from 'node:path';
import { initBackend, readStepLog, RUN_FILES, trainCommand, writeSynthDataset } from '../src/node/index.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const out = arg('out', 'runs/example');
const epochs = Number(arg('epochs', '3'));

const backend = await initBackend();
console.log(`backend: ${backend.backend}`);
const data = path.join(out, 'data');
await writeSynthDataset({ out: data, count: 16, size: 32, seed: 1 });

const run = path.join(out, 'run');
const common = { progress: 'lines' as const, print: (line: string) => console.log(`  ${line}`) };
// A new run: stop before the last epoch (as if the machine went down after a checkpoint).
await trainCommand({
  ...common,
  out: run,
  data,
  size: 32,
  batch: 4,
  epochs: Math.max(1, epochs - 1),
  twoStepEpoch: 2, // epoch 1: segmentation (adversarial + reconstruction); from epoch 2: + tag classification
  citWeight: 40,
  cvtWeight: 40,
  layers: [1, 1, 1, 1],
  widthMultiplier: 0.25,
  cit: false,
  checkpointEvery: 0,
});
if (epochs > 1) {
  // Continue where it stopped; the checkpoint holds models, optimizers, scheduler and data position.
  await trainCommand({ ...common, out: run, resume: true, epochs });
}

const log = await readStepLog(path.join(run, RUN_FILES.log));
for (let e = 0; e < epochs; e++) {
  const steps = log.filter((r) => r.epoch === e);
  const mean = (f: (r: (typeof log)[number]) => number) => steps.reduce((a, r) => a + f(r), 0) / steps.length;
  console.log(
    `epoch ${e + 1} (${steps[0].stage}): D ${mean((r) => r.discriminator.total).toFixed(3)}, ` +
      `G ${mean((r) => r.generator.total).toFixed(1)}, L1 colour ${mean((r) => r.generator.l1Color).toFixed(4)}, ` +
      `D CVT(real) ${mean((r) => r.discriminator.cvtReal).toFixed(3)}`,
  );
}
console.log(`run folder: ${run} (loss-curve.png, samples/, log.jsonl, checkpoint.safetensors)`);
