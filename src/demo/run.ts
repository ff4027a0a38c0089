// The one-command demo: synthetic characters → a synthetic CIT extractor and a reduced Tag2Pix
// trained on this machine → demo-output/ with a Figure-8-style grid, loss curves, measured tag
// accuracy, and the weights `tag2pix colorize --weights demo-output` uses.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { CharacterSpec } from '../data/synth/character.js';
import { generateCharacter, synthBatch } from '../data/synth/dataset.js';
import { checkRegionWeights } from '../data/synth/pixel_weights.js';
import { formatTagAccuracy, tagAccuracy } from '../eval/tag_accuracy.js';
import { ChangingLossScheduler } from '../losses/changing_loss_scheduler.js';
import { buildTag2PixDiscriminator } from '../models/discriminator.js';
import { buildTag2PixGenerator } from '../models/generator.js';
import { initializeLikeReference } from '../models/init.js';
import { countParameters } from '../models/parameters.js';
import { buildSynthCitExtractor } from '../models/synth_cit_extractor.js';
import { buildSynthTagClassifier } from '../models/synth_tag_classifier.js';
import { exportTorchStateDict } from '../io/torch_state_dict.js';
import { writeSafetensors } from '../io/safetensors.js';
import { initBackend } from '../node/backend.js';
import { writeFileAtomic } from '../node/files.js';
import { RUN_FILES, runTrainingInFolder } from '../node/train.js';
import { pretrainSynthCitExtractor } from './extractor_pretrain.js';
import { pretrainTagClassifier } from './tag_guide_pretrain.js';
import { Tag2PixTrainer } from '../training/trainer.js';
import { demoPalette, heldOutPairs, isHeldOut, resolveDemoOptions, type DemoOptions } from './config.js';
import { figure8Grid } from './grid.js';
import { decayFactor, expectedEpochSeconds, plannedDemoEpochs, rampFactor } from './plan.js';
import { demoReport, demoSummaryJson, pct, type DemoEpoch, type DemoResult } from './report.js';
import { freshSynthBatches, freshSynthSource, synthTrainingSource, type CitFeatureFn, type SynthCursor } from './sources.js';
import type { TrainingDataSource } from '../training/batch.js';

/** File names the demo writes beside its report for `tag2pix colorize --weights <out>`. */
export const DEMO_WEIGHT_FILES = {
  /** The generator under PyTorch's keys (as `tag2pix train` writes it). */
  generator: 'generator.safetensors',
  /** The synthetic CIT extractor under PyTorch-style keys, its pretraining heads included. */
  citExtractor: 'cit_extractor.safetensors',
} as const;

/** The generator's colour output for a line art and its tags, with the frozen extractor's features. */
function colorizer(trainer: Tag2PixTrainer, citFeatures: CitFeatureFn) {
  return ({ lineArt, cvt }: { lineArt: tf.Tensor4D; cvt: tf.Tensor2D }): tf.Tensor4D => {
    const features = citFeatures(lineArt);
    const [color, guide] = trainer.generate(lineArt, cvt, features);
    tf.dispose([guide, features]);
    return color;
  };
}

/** Runs the whole demo; see {@link DemoOptions} (the defaults are {@link DEMO_DEFAULTS}). */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const c = resolveDemoOptions(options);
  checkRegionWeights(c.regionWeights);
  if (!Number.isInteger(c.tagGuideSteps) || c.tagGuideSteps < 0) {
    throw new Error(`runDemo: tagGuideSteps must be an integer >= 0 (0: no tag guide), got ${String(c.tagGuideSteps)}.`);
  }
  if (!Number.isInteger(c.learningRateRamp) || c.learningRateRamp < 0) {
    throw new Error(`runDemo: learningRateRamp must be an integer >= 0 (0: no ramp), got ${String(c.learningRateRamp)}.`);
  }
  const print = c.print ?? ((line: string) => console.log(line));
  const printResult = c.printResult ?? print;
  const { out, size, trainCount, testCount, batchSize, warmupEpochs, epochs, seed, learningRate } = c;
  const palette = demoPalette(c.palette);
  const backend = await initBackend(c.backend);
  // The load average says how busy the machine was while the times below were measured.
  const loadAtStart = os.loadavg()[0]!;
  // wasm's thread count ('auto': the cores idle at the start) changes the speed, not the numbers.
  const backendLabel = backend.wasmThreads ? `${backend.backend} (${backend.wasmThreads} thread${backend.wasmThreads === 1 ? '' : 's'})` : backend.backend;
  print(`backend: ${backendLabel}${backend.skipped.length ? ` (skipped: ${backend.skipped.map((s) => s.backend).join(', ')})` : ''}`);
  await fs.mkdir(out, { recursive: true });

  // Data: training characters avoid the held-out tag pairs; the "unseen" test set uses only them.
  const pairs = heldOutPairs();
  const synth = { size, colorChoices: palette };
  const reject = (s: CharacterSpec) => isHeldOut(s, pairs);
  const train =
    c.trainingData === 'fixed' ? Array.from({ length: trainCount }, (_, i) => generateCharacter(i, { ...synth, seed, reject })) : [];
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

  // The synthetic CIT extractor, pretrained here (seeded, on other characters than G's) and then
  // frozen: its time counts in the training budget.
  const trainStart = performance.now();
  // CPU time of this process beside the wall-clock time: on a shared machine it tells what the
  // run would take alone (one wasm thread).
  const cpuStart = process.cpuUsage();
  const cpuSeconds = (): number => {
    const u = process.cpuUsage(cpuStart);
    return (u.user + u.system) / 1e6;
  };
  const extractor = buildSynthCitExtractor({ inputSize: size, featureChannels: c.extractorFeatures, seed: seed + 11 });
  const framing = { closeUpShare: c.closeUpShare, closeUpZoom: c.closeUpZoom, closeUpPlacement: c.closeUpPlacement, flipProbability: c.flipProbability };
  const extractorBatch = freshSynthBatches({ batchSize, seed: seed + 3000, size, colorChoices: palette, reject, ...framing });
  let extractorLosses;
  try {
    extractorLosses = await pretrainSynthCitExtractor(extractor, { steps: c.extractorSteps, batchAt: extractorBatch });
  } catch (e) {
    extractor.dispose();
    throw e;
  }
  const extractorSeconds = (performance.now() - trainStart) / 1000;
  const extractorSummary = {
    parameters: countParameters(extractor),
    steps: c.extractorSteps,
    seconds: extractorSeconds,
    cpuSeconds: cpuSeconds(),
    regionAccuracy: extractorLosses.regionAccuracy,
  };
  print(
    `CIT extractor (synthetic): ${extractorSummary.parameters.toLocaleString('en')} parameters, pretrained for ${c.extractorSteps} steps in ` +
      `${extractorSeconds.toFixed(1)} s (region accuracy of the last batch ${pct(extractorLosses.regionAccuracy)}), then frozen`,
  );
  const citFeatures: CitFeatureFn = (lineArt) => tf.tidy(() => (extractor.apply(lineArt, { training: false }) as tf.Tensor[])[0] as tf.Tensor4D);
  const trainingSource: TrainingDataSource<SynthCursor> =
    c.trainingData === 'fixed'
      ? synthTrainingSource(train, batchSize, seed, citFeatures, c.regionWeights)
      : freshSynthSource({
          batchSize,
          batchesPerEpoch: Math.max(1, Math.floor(trainCount / batchSize)),
          seed,
          size,
          colorChoices: palette,
          reject,
          colorsPerLineArt: c.colorsPerLineArt,
          ...framing,
          closeUpBorder: c.closeUpBorder,
          regionWeights: c.regionWeights,
          citFeatures,
        });

  // A reduced Tag2Pix.
  const { widthMultiplier, decoderLayers, decoderBlock, seReduction } = c;
  const generator: LayersModel = buildTag2PixGenerator({
    inputSize: size,
    widthMultiplier,
    decoderLayers,
    decoderBlock,
    seReduction,
    tagEncoderWidthMultiplier: c.tagEncoderWidth,
    citChannels: c.extractorFeatures,
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
  // The optional tag guide: a colour-tag classifier pretrained here on true colourings (other
  // characters than G's, the same held-out rule), frozen; its time counts in the budget.
  let guideModel: LayersModel | undefined;
  // On a failure before the trainer owns them: every model built so far.
  const disposeModels = () => {
    for (const model of [generator, discriminator, extractor, guideModel]) model?.dispose();
  };
  if (c.tagGuideSteps > 0) {
    const guideStart = performance.now();
    guideModel = buildSynthTagClassifier({ inputSize: size, seed: seed + 13 });
    const guideBatch = freshSynthBatches({ batchSize, seed: seed + 5000, size, colorChoices: palette, reject });
    try {
      const loss = await pretrainTagClassifier(guideModel, { steps: c.tagGuideSteps, batchAt: guideBatch });
      print(
        `tag guide: ${countParameters(guideModel).toLocaleString('en')} parameters, pretrained for ${c.tagGuideSteps} steps in ` +
          `${((performance.now() - guideStart) / 1000).toFixed(1)} s (loss ${loss.toFixed(4)}), then frozen; weight ${c.tagGuideWeight} in G's warm-up loss`,
      );
    } catch (e) {
      disposeModels();
      throw e;
    }
  }
  const trainer = new Tag2PixTrainer({
    warmupTagGuide: guideModel ? { model: guideModel, weight: c.tagGuideWeight } : undefined,
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
  const sampleInputs = { ...gridSamples, citFeatures: citFeatures(gridSamples.lineArt) };
  const colorize = colorizer(trainer, citFeatures);
  const history: DemoEpoch[] = [];
  const budget = c.trainingBudgetSeconds;
  // What the run was, for its checkpoint and its report.
  const runConfig = {
    size, trainingData: c.trainingData, colorsPerLineArt: k, trainCount, testCount, batchSize, epochs, warmupEpochs,
    twoStepEpoch: c.twoStepEpoch, widthMultiplier, discriminatorWidth: c.discriminatorWidth, discriminatorBlocks: c.discriminatorBlocks,
    decoderLayers, decoderBlock, seReduction, tagEncoderWidth: c.tagEncoderWidth, learningRate, learningRateRamp: c.learningRateRamp, classificationWeight: c.classificationWeight,
    extractorSteps: c.extractorSteps, extractorFeatures: c.extractorFeatures, closeUpShare: c.closeUpShare, closeUpZoom: c.closeUpZoom, closeUpPlacement: c.closeUpPlacement,
    flipProbability: c.flipProbability, closeUpBorder: c.closeUpBorder, regionWeights: c.regionWeights, tagGuideSteps: c.tagGuideSteps, tagGuideWeight: c.tagGuideWeight, seed,
  };
  // The learning rate decays over the second half of the epochs that fit the budget, planned
  // from the first epochs' times, and rises linearly over the first `learningRateRamp` steps.
  let plannedEpochs = epochs;
  // The rate the last step used, for the epoch's report line.
  let lastStepRate = learningRate;
  const setLearningRate = (epoch: number, step: number) => {
    const lr = learningRate * (c.learningRateDecay ? decayFactor(epoch, plannedEpochs) : 1) * rampFactor(step, c.learningRateRamp);
    trainer.generatorOptimizer.setLearningRate(lr);
    trainer.discriminatorOptimizer.setLearningRate(lr);
  };
  let epochStart = performance.now();
  let stepsSoFar = 0;
  setLearningRate(1, 0);
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
      onStep: (record) => {
        lastStepRate = trainer.generatorOptimizer.options.learningRate;
        if (record.globalStep + 1 <= c.learningRateRamp) setLearningRate(record.epoch + 1, record.globalStep + 1);
      },
      // After each epoch: measure, plan the budget, set the next epoch's learning rate.
      onEpochEnd: async (end) => {
        const epoch = end.epoch + 1;
        stepsSoFar += end.steps.length;
        const probe = await tagAccuracy(colorize, test.slice(0, Math.min(test.length, 64)), { families: palette });
        const seconds = (performance.now() - trainStart) / 1000;
        const family = (f: string): number => probe.perFamily[f]?.accuracy ?? NaN;
        history.push({ epoch, steps: stepsSoFar, seconds, cpuSeconds: cpuSeconds(), overall: probe.overall, hair: family('hair'), eyes: family('eyes'), background: family('background'), l1: probe.l1, learningRate: lastStepRate });
        print(
          `after epoch ${epoch}: tag accuracy ${pct(probe.overall)} (hair ${pct(family('hair'))}, eyes ${pct(family('eyes'))}, background ${pct(family('background'))}), ` +
            `L1 ${probe.l1.toFixed(3)}, lr ${history[history.length - 1]!.learningRate.toExponential(2)}, ${seconds.toFixed(0)} s`,
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
        setLearningRate(epoch + 1, stepsSoFar);
        epochStart = performance.now();
        return undefined;
      },
    });
  } catch (e) {
    trainer.dispose();
    disposeModels();
    throw e;
  } finally {
    tf.dispose(Object.values(sampleInputs));
  }
  const tTrain = performance.now();
  const trainingCpuSeconds = cpuSeconds();
  const loadAfterTraining = os.loadavg()[0]!;

  // Judged among the colours the demo trains on, so chance is 1 / (colours in the family).
  const testReport = await tagAccuracy(colorize, test, { families: palette });
  const unseenReport = await tagAccuracy(colorize, unseen, { families: palette });
  const files: Record<string, string> = {
    lossCurve: path.join(runDir, 'loss-curve.png'),
    log: path.join(runDir, 'log.jsonl'),
    checkpoint: result.checkpoint,
  };
  // What `tag2pix colorize --weights <out>` needs: the generator and the frozen extractor.
  files['generator'] = path.join(out, DEMO_WEIGHT_FILES.generator);
  await fs.copyFile(path.join(runDir, RUN_FILES.generator), files['generator']);
  files['citExtractor'] = path.join(out, DEMO_WEIGHT_FILES.citExtractor);
  const extractorTensors = exportTorchStateDict(extractor);
  try {
    await writeFileAtomic(files['citExtractor'], writeSafetensors(extractorTensors, { network: 'tag2pix-synth-cit-extractor' }));
  } finally {
    tf.dispose(Object.values(extractorTensors));
  }
  if (!c.skipImages) {
    files['grid'] = path.join(out, 'figure8-grid.png');
    await fs.writeFile(files['grid'], await figure8Grid(trainer, test, size, citFeatures));
    await fs.copyFile(files['lossCurve']!, path.join(out, 'loss-curve.png'));
    files['lossCurve'] = path.join(out, 'loss-curve.png');
  }
  const tEval = performance.now();
  trainer.dispose();
  extractor.dispose();
  guideModel?.dispose();
  const l1 = result.steps.map((s) => s.generator['l1Color'] ?? NaN);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const warmupSteps = result.steps.filter((s) => s.stage === 'warm-up').length;
  const demo: DemoResult = {
    backend: backendLabel,
    seed,
    loadAverage: { start: loadAtStart, afterTraining: loadAfterTraining },
    extractor: extractorSummary,
    warmupSteps,
    test: testReport,
    unseen: unseenReport,
    l1PerStep: l1,
    l1Start: mean(l1.slice(0, 10)),
    l1End: mean(l1.slice(-10)),
    trainingCpuSeconds,
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
  printResult('');
  printResult('Tag accuracy on held-out characters (is the mean colour of each region nearest to the requested tag colour?):');
  printResult(formatTagAccuracy(testReport));
  printResult('');
  printResult('Tag combinations never seen in training:');
  printResult(formatTagAccuracy(unseenReport));
  printResult('');
  printResult(
    `L1 (colour output) ${demo.l1Start.toFixed(3)} → ${demo.l1End.toFixed(3)} over ${demo.steps} steps of G (${warmupSteps} warm-up) after ${c.extractorSteps} of the extractor; ` +
      `${demo.seconds.total.toFixed(0)} s in all (training ${demo.seconds.training.toFixed(0)} s) on ${demo.backend}, seed ${seed}, load average ${loadAtStart.toFixed(1)} → ${loadAfterTraining.toFixed(1)}.`,
  );
  printResult(`Colourise a line art with this run: tag2pix colorize <line art> --tags blue_hair,red_eyes --weights ${out}`);
  printResult(`Wrote ${Object.values(files).join(', ')}`);
  return demo;
}
