// The one-command demo as code: `npx tsx examples/demo.ts` (the same as `npm run demo`).
// Generates synthetic characters, trains a reduced Tag2Pix on the fastest backend available,
// and writes demo-output/: figure8-grid.png, loss-curve.png, report.md, report.json.
import { runDemo } from '../src/demo/index.js';

const result = await runDemo({
  out: 'demo-output',
  // Everything below is the default; change it to trade time for quality.
  size: 64,
  trainingData: 'fresh', // new characters every batch
  trainCount: 1024, // per epoch
  batchSize: 16,
  epochs: 17,
  warmupEpochs: 15, // G alone on the reconstruction loss, then 2 adversarial epochs
  learningRate: 2e-3, // lowered linearly over the second half of the epochs that fit the budget
  trainingBudgetSeconds: 480,
  twoStepEpoch: 1,
  widthMultiplier: 0.25,
  tagEncoderWidth: 1,
  decoderLayers: [1, 1, 1, 1],
  decoderBlock: 'secat',
  discriminatorBlocks: { stageBlocks: [1, 1, 1, 1], topBlocks: 0 },
  seed: 1, // data and initial weights: the same seed gives the same run
});
console.log(`hair ${(result.test.perFamily['hair']!.accuracy * 100).toFixed(1)}%, eyes ${(result.test.perFamily['eyes']!.accuracy * 100).toFixed(1)}%`);
