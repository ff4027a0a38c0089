// The one-command demo: synthetic characters → a reduced Tag2Pix trained on this machine →
// demo-output/ with a Figure-8-style grid, loss curves and measured tag accuracy.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { CharacterSpec } from '../data/synth/character.js';
import { generateCharacter, synthBatch } from '../data/synth/dataset.js';
import { formatTagAccuracy, tagAccuracy } from '../eval/tag_accuracy.js';
import { ChangingLossScheduler } from '../losses/changing_loss_scheduler.js';
import { buildTag2PixDiscriminator } from '../models/discriminator.js';
import { buildTag2PixGenerator } from '../models/generator.js';
import { initializeLikeReference } from '../models/init.js';
import { countParameters } from '../models/parameters.js';
import { initBackend } from '../node/backend.js';
import { runTrainingInFolder } from '../node/train.js';
import { Tag2PixTrainer } from '../training/trainer.js';
import { demoPalette, heldOutPairs, isHeldOut, resolveDemoOptions, type DemoOptions } from './config.js';
import { figure8Grid } from './grid.js';
import { decayFactor, expectedEpochSeconds, plannedDemoEpochs } from './plan.js';
import { demoReport, demoSummaryJson, pct, type DemoEpoch, type DemoResult } from './report.js';
import { freshSynthSource, lineArtFeatures, synthTrainingSource, type SynthCursor } from './sources.js';
import type { TrainingDataSource } from '../training/batch.js';

/** The generator's colour output for a line art and its tags, with the demo's CIT stand-in. */
function colorizer(trainer: Tag2PixTrainer) {
  return ({ lineArt, cvt }: { lineArt: tf.Tensor4D; cvt: tf.Tensor2D }): tf.Tensor4D => {
    const features = lineArtFeatures(lineArt);
    const [color, guide] = trainer.generate(lineArt, cvt, features);
    tf.dispose([guide, features]);
    return color;
  };
}

/** Runs the whole demo; see {@link DemoOptions} (the defaults are {@link DEMO_DEFAULTS}). */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const c = resolveDemoOptions(options);
  const print = c.print ?? ((line: string) => console.log(line));
  const { out, size, trainCount, testCount, batchSize, warmupEpochs, epochs, seed, learningRate } = c;
  const palette = demoPalette(c.palette);
  const backend = await initBackend(c.backend);
  print(`backend: ${backend.backend}${backend.skipped.length ? ` (skipped: ${backend.skipped.map((s) => s.backend).join(', ')})` : ''}`);
  await fs.mkdir(out, { recursive: true });

  // Data: training characters avoid the held-out tag pairs; the "unseen" test set uses only them.
  const pairs = heldOutPairs();
  const synth = { size, colorChoices: palette };
  const reject = (s: CharacterSpec) => isHeldOut(s, pairs);
  const train =
    c.trainingData === 'fixed' ? Array.from({ length: trainCount }, (_, i) => generateCharacter(i, { ...synth, seed, reject })) : [];
  const trainingSource: TrainingDataSource<SynthCursor> =
    c.trainingData === 'fixed'
      ? synthTrainingSource(train, batchSize, seed)
      : freshSynthSource({
          batchSize,
          batchesPerEpoch: Math.max(1, Math.floor(trainCount / batchSize)),
          seed,
          size,
          colorChoices: palette,
          reject,
          colorsPerLineArt: c.colorsPerLineArt,
        });
  const test = Array.from({ length: testCount }, (_, i) => generateCharacter(i, { ...synth, seed: seed + 1000, reject }));
  const unseen = Array.from({ length: testCount }, (_, i) =>
    generateCharacter(i, { ...synth, seed: seed + 2000, reject: (s) => !isHeldOut(s, pairs) }),
  );
  const tData = performance.now();
  const k = c.colorsPerLineArt;
  print(
    `data: ${c.trainingData === 'fresh' ? `new characters every batch (${trainCount} per epoch, ${k} colouring${k === 1 ? '' : 's'} per line art)` : `${trainCount} training characters`}, ` +
      `${testCount} test and ${testCount} unseen-combination characters at ${size} px (${((tData - t0) / 1000).toFixed(1)} s)`,
  );

  // A reduced Tag2Pix.
  const { widthMultiplier, decoderLayers, decoderBlock, seReduction } = c;
  const generator: LayersModel = buildTag2PixGenerator({
    inputSize: size,
    widthMultiplier,
    decoderLayers,
    decoderBlock,
    seReduction,
    tagEncoderWidthMultiplier: c.tagEncoderWidth,
    citChannels: 2,
  });
  const discriminator: LayersModel = buildTag2PixDiscriminator({ inputSize: size, widthMultiplier: c.discriminatorWidth, ...c.discriminatorBlocks });
  // The published init (Kaiming normal), seeded: the same command gives the same run.
  initializeLikeReference(generator, { seed });
  initializeLikeReference(discriminator, { seed: seed + 1 });
  const parameters = { generator: countParameters(generator), discriminator: countParameters(discriminator) };
  print(
    `model: G ${parameters.generator.toLocaleString('en')} parameters (${decoderBlock}, decoder ${JSON.stringify(decoderLayers)}, width ×${widthMultiplier}), ` +
      `D ${parameters.discriminator.toLocaleString('en')}; ` +
      (warmupEpochs > 0 ? `reconstruction warm-up (G alone) for epochs 1–${Math.min(warmupEpochs, epochs)}, then ` : '') +
      `two-step schedule: classification losses from epoch ${Math.max(1, c.twoStepEpoch, warmupEpochs + 1)} of ${epochs}`,
  );
  const adam = { learningRate, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };
  const trainer = new Tag2PixTrainer({
    generator,
    discriminator,
    generatorOptimizer: adam,
    discriminatorOptimizer: adam,
    scheduler: ChangingLossScheduler.tag2pix({
      warmupEpochs,
      twoStepEpoch: c.twoStepEpoch,
      citWeight: c.classificationWeight,
      cvtWeight: c.classificationWeight,
    }),
  });
  const runDir = path.join(out, 'run');
  await fs.rm(runDir, { recursive: true, force: true });
  const gridSamples = synthBatch(test.slice(0, 4));
  const sampleInputs = { ...gridSamples, citFeatures: lineArtFeatures(gridSamples.lineArt) };
  const colorize = colorizer(trainer);
  const history: DemoEpoch[] = [];
  const budget = c.trainingBudgetSeconds;
  // What the run was, for its checkpoint and its report.
  const runConfig = {
    size, trainingData: c.trainingData, colorsPerLineArt: k, trainCount, testCount, batchSize, epochs, warmupEpochs,
    twoStepEpoch: c.twoStepEpoch, widthMultiplier, discriminatorWidth: c.discriminatorWidth, discriminatorBlocks: c.discriminatorBlocks,
    decoderLayers, decoderBlock, seReduction, tagEncoderWidth: c.tagEncoderWidth, learningRate, classificationWeight: c.classificationWeight,
  };
  // The learning rate decays over the second half of the epochs that fit the budget, planned
  // from the first epochs' times.
  let plannedEpochs = epochs;
  const setLearningRate = (epoch: number) => {
    const lr = learningRate * (c.learningRateDecay ? decayFactor(epoch, plannedEpochs) : 1);
    trainer.generatorOptimizer.setLearningRate(lr);
    trainer.discriminatorOptimizer.setLearningRate(lr);
  };
  const trainStart = performance.now();
  let epochStart = trainStart;
  let stepsSoFar = 0;
  setLearningRate(1);
  let result: Awaited<ReturnType<typeof runTrainingInFolder>>;
  try {
    result = await runTrainingInFolder({
      trainer,
      data: trainingSource,
      out: runDir,
      epochs,
      seed,
      config: { demo: true, ...runConfig },
      samples: sampleInputs,
      progress: c.progress ?? 'auto',
      print,
      skipImages: c.skipImages,
      // After each epoch: measure, plan the budget, set the next epoch's learning rate.
      onEpochEnd: async (end) => {
        const epoch = end.epoch + 1;
        stepsSoFar += end.steps.length;
        const probe = await tagAccuracy(colorize, test.slice(0, Math.min(test.length, 64)), { families: palette });
        const seconds = (performance.now() - trainStart) / 1000;
        const family = (f: string): number => probe.perFamily[f]?.accuracy ?? NaN;
        history.push({ epoch, steps: stepsSoFar, seconds, overall: probe.overall, hair: family('hair'), eyes: family('eyes'), background: family('background'), l1: probe.l1 });
        print(
          `after epoch ${epoch}: tag accuracy ${pct(probe.overall)} (hair ${pct(family('hair'))}, eyes ${pct(family('eyes'))}, background ${pct(family('background'))}), ` +
            `L1 ${probe.l1.toFixed(3)}, lr ${trainer.generatorOptimizer.options.learningRate.toExponential(2)}, ${seconds.toFixed(0)} s`,
        );
        const epochSeconds = (performance.now() - epochStart) / 1000;
        // Planned again after epoch 2, whose time is free of the first epoch's start-up costs.
        if (epoch <= 2) plannedEpochs = plannedDemoEpochs({ epoch, elapsedSeconds: seconds, epochSeconds, epochs, warmupEpochs, budgetSeconds: budget });
        // The next epoch costs what this one did, or more when the warm-up ends.
        const next = expectedEpochSeconds(epoch + 1, { epoch, seconds: epochSeconds }, warmupEpochs);
        if (epoch < epochs && seconds + next > budget) {
          print(`stopping after epoch ${epoch} of ${epochs}: another epoch would pass the training budget of ${budget} s (--budget).`);
          return 'stop';
        }
        setLearningRate(epoch + 1);
        epochStart = performance.now();
        return undefined;
      },
    });
  } finally {
    tf.dispose(Object.values(sampleInputs));
  }
  const tTrain = performance.now();

  // Judged among the colours the demo trains on, so chance is 1 / (colours in the family).
  const testReport = await tagAccuracy(colorize, test, { families: palette });
  const unseenReport = await tagAccuracy(colorize, unseen, { families: palette });
  const files: Record<string, string> = {
    lossCurve: path.join(runDir, 'loss-curve.png'),
    log: path.join(runDir, 'log.jsonl'),
    checkpoint: result.checkpoint,
  };
  if (!c.skipImages) {
    files['grid'] = path.join(out, 'figure8-grid.png');
    await fs.writeFile(files['grid'], await figure8Grid(trainer, test, size));
    await fs.copyFile(files['lossCurve']!, path.join(out, 'loss-curve.png'));
    files['lossCurve'] = path.join(out, 'loss-curve.png');
  }
  const tEval = performance.now();
  trainer.dispose();
  const l1 = result.steps.map((s) => s.generator['l1Color'] ?? NaN);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const demo: DemoResult = {
    backend: backend.backend,
    test: testReport,
    unseen: unseenReport,
    l1PerStep: l1,
    l1Start: mean(l1.slice(0, 10)),
    l1End: mean(l1.slice(-10)),
    seconds: {
      data: (tData - t0) / 1000,
      training: (tTrain - tData) / 1000,
      evaluation: (tEval - tTrain) / 1000,
      total: (tEval - t0) / 1000,
    },
    steps: result.steps.length,
    history,
    parameters,
    files,
  };
  files['report'] = path.join(out, 'report.md');
  files['json'] = path.join(out, 'report.json');
  await fs.writeFile(files['report'], demoReport(demo, runConfig, c.palette));
  await fs.writeFile(files['json'], demoSummaryJson(demo));
  generator.dispose();
  discriminator.dispose();
  print('');
  print('Tag accuracy on held-out characters (is the mean colour of each region nearest to the requested tag colour?):');
  print(formatTagAccuracy(testReport));
  print('');
  print('Tag combinations never seen in training:');
  print(formatTagAccuracy(unseenReport));
  print('');
  print(`L1 (colour output) ${demo.l1Start.toFixed(3)} → ${demo.l1End.toFixed(3)} over ${demo.steps} steps; ${demo.seconds.total.toFixed(0)} s in all (training ${demo.seconds.training.toFixed(0)} s) on ${demo.backend}.`);
  print(`Wrote ${Object.values(files).join(', ')}`);
  return demo;
}
