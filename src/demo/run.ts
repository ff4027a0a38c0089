// The one-command demo: synthetic characters → a reduced Tag2Pix trained on this machine →
// demo-output/ with a Figure-8-style grid, loss curves and measured tag accuracy.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { renderSample, synthBatch, generateCharacter, type SynthSample } from '../data/synth/dataset.js';
import type { CharacterSpec } from '../data/synth/character.js';
import { FAMILY_TAGS, type TagFamily } from '../data/synth/palette.js';
import { SynthRandom, sampleSeed } from '../data/synth/random.js';
import { formatTagAccuracy, tagAccuracy, type TagAccuracyReport } from '../eval/tag_accuracy.js';
import { ChangingLossScheduler } from '../losses/changing_loss_scheduler.js';
import { buildTag2PixDiscriminator, type Tag2PixDiscriminatorConfig } from '../models/discriminator.js';
import { buildTag2PixGenerator, type DecoderBlockKind } from '../models/generator.js';
import { initializeLikeReference } from '../models/init.js';
import { countParameters } from '../models/parameters.js';
import { Tag2PixTrainer } from '../training/trainer.js';
import { initBackend } from './backend.js';
import { encodePng } from './image.js';
import { renderSvgToPng } from './loss_curve.js';
import { runTraining, type ProgressMode, type StepLogRecord, type TrainingBatch, type TrainingDataSource } from './train.js';

/**
 * The colours the demo trains on: a subset of each family, far apart, so a CPU run of a few
 * minutes can learn them. `--palette full` uses every colour tag of {@link FAMILY_TAGS}.
 */
export const DEMO_PALETTE: Readonly<Record<TagFamily, readonly string[]>> = {
  hair: ['blonde_hair', 'brown_hair', 'black_hair', 'blue_hair', 'purple_hair', 'pink_hair', 'green_hair', 'red_hair', 'white_hair', 'aqua_hair'],
  eyes: ['blue_eyes', 'red_eyes', 'green_eyes', 'purple_eyes', 'yellow_eyes', 'brown_eyes'],
  shirt: FAMILY_TAGS.shirt,
  skirt: ['black_skirt', 'blue_skirt', 'red_skirt', 'green_skirt', 'white_skirt', 'pink_skirt'],
  dress: FAMILY_TAGS.dress,
  hat: FAMILY_TAGS.hat,
  bow: ['red_bow', 'blue_bow', 'white_bow', 'yellow_bow', 'black_bow'],
  background: ['white_background', 'blue_background', 'pink_background', 'yellow_background', 'black_background', 'green_background'],
};

/**
 * The demo's CVT-encoder width multiplier (see {@link DemoOptions.tagEncoderWidth}): the published
 * width, so the 64-value tag embedding is not what limits a narrow generator.
 */
export const DEMO_TAG_ENCODER_WIDTH = 1;

/** The demo's SECat reduction (see {@link DemoOptions.seReduction}). */
export const DEMO_SE_REDUCTION = 16;

/** The demo's colourings of each line art per batch (see {@link DemoOptions.coloursPerLineArt}). */
export const DEMO_COLOURS_PER_LINE_ART = 1;

/**
 * The demo's reconstruction warm-up, in epochs of 64 steps (see {@link DemoOptions.warmupEpochs}):
 * hair colours only start to follow their tags after several hundred generator steps, and a
 * warm-up step costs under half an adversarial one.
 */
export const DEMO_WARMUP_EPOCHS = 15;

/** The demo's adversarial epochs after the warm-up. */
export const DEMO_ADVERSARIAL_EPOCHS = 2;

/** D's bottlenecks per stage and after conv5, as {@link buildTag2PixDiscriminator} takes them. */
export type DiscriminatorBlocks = Required<Pick<Tag2PixDiscriminatorConfig, 'stageBlocks' | 'topBlocks'>>;

/**
 * The demo's critic: one SE-ResNeXt bottleneck per stage and none after conv5 (4 bottlenecks
 * instead of the published 11), which makes an adversarial step about 30 % cheaper.
 */
export const DEMO_DISCRIMINATOR_BLOCKS: DiscriminatorBlocks = {
  stageBlocks: [1, 1, 1, 1],
  topBlocks: 0,
};

/** Cost of an adversarial demo epoch relative to a warm-up epoch, to plan the time budget. */
const ADVERSARIAL_EPOCH_COST = 2.5;

/** Rows of the Figure-8 grid: tag combinations; the `unseen` ones never occur in training. */
export const DEMO_GRID_ROWS: ReadonlyArray<{ colours: Partial<Record<TagFamily, string>>; unseen: boolean }> = [
  { colours: { hair: 'blonde_hair', eyes: 'blue_eyes', background: 'white_background', shirt: 'white_shirt', skirt: 'blue_skirt', dress: 'blue_dress' }, unseen: false },
  { colours: { hair: 'black_hair', eyes: 'red_eyes', background: 'pink_background', shirt: 'black_shirt', skirt: 'red_skirt', dress: 'black_dress' }, unseen: false },
  { colours: { hair: 'pink_hair', eyes: 'green_eyes', background: 'blue_background', shirt: 'pink_shirt', skirt: 'white_skirt', dress: 'pink_dress' }, unseen: false },
  { colours: { hair: 'green_hair', eyes: 'yellow_eyes', background: 'pink_background', shirt: 'red_shirt', skirt: 'black_skirt', dress: 'red_dress' }, unseen: true },
  { colours: { hair: 'blue_hair', eyes: 'red_eyes', background: 'yellow_background', shirt: 'white_shirt', skirt: 'green_skirt', dress: 'white_dress' }, unseen: true },
  { colours: { hair: 'red_hair', eyes: 'purple_eyes', background: 'black_background', shirt: 'blue_shirt', skirt: 'pink_skirt', dress: 'purple_dress' }, unseen: true },
];

/** Hair/background and hair/eye pairs held out of training (those of the unseen grid rows). */
export function heldOutPairs(): Array<[string, string]> {
  return DEMO_GRID_ROWS.filter((r) => r.unseen).flatMap((r) => [
    [r.colours.hair!, r.colours.background!],
    [r.colours.hair!, r.colours.eyes!],
  ]);
}

function isHeldOut(spec: CharacterSpec, pairs: ReadonlyArray<[string, string]>): boolean {
  const tags = new Set(Object.values(spec.colours));
  return pairs.some(([a, b]) => tags.has(a) && tags.has(b));
}

/** Options of {@link runDemo}; the defaults fit in about 10 minutes on 2 CPU cores. */
export interface DemoOptions {
  /** Output folder (default `demo-output`). */
  out?: string;
  /** Image size (default 64). */
  size?: number;
  /** Training characters per epoch (default 1024). */
  trainCount?: number;
  /**
   * `fresh` (default): new characters for every batch, so no line art repeats; `fixed`: the same
   * `trainCount` characters every epoch.
   */
  trainingData?: 'fresh' | 'fixed';
  /** With `fresh` data, colourings of each line art in a batch (default {@link DEMO_COLOURS_PER_LINE_ART}). */
  coloursPerLineArt?: number;
  /** Held-out test characters for the accuracy report (default 128). */
  testCount?: number;
  /** Batch size (default 16: per image the fastest of 8, 16 and 32 on a 2-core machine). */
  batchSize?: number;
  /**
   * Epochs over the training set, warm-up included (default {@link DEMO_WARMUP_EPOCHS} +
   * {@link DEMO_ADVERSARIAL_EPOCHS}; the time budget may stop earlier).
   */
  epochs?: number;
  /**
   * Epochs at the start in which G trains on the reconstruction loss alone, without D
   * (default {@link DEMO_WARMUP_EPOCHS}; 0 = adversarial from the start, as published).
   */
  warmupEpochs?: number;
  /**
   * First epoch with the classification losses, counted from 1 as `tag2pix train`'s
   * `--two-step-epoch` (default 1: from the start; 2 makes epoch 1 segmentation only).
   */
  twoStepEpoch?: number;
  /** CIT/CVT classification weight from `twoStepEpoch` on (default 1). */
  classificationWeight?: number;
  /** Channel width of G relative to the published model (default 0.25). */
  widthMultiplier?: number;
  /** Width of G's CVT encoder alone (default {@link DEMO_TAG_ENCODER_WIDTH}). */
  tagEncoderWidth?: number;
  /** Channel width of D (default half of G's): the demo's D only needs to be a critic. */
  discriminatorWidth?: number;
  /** D's bottlenecks per stage (default {@link DEMO_DISCRIMINATOR_BLOCKS}; published `[2, 2, 2, 2]` and 3). */
  discriminatorBlocks?: DiscriminatorBlocks;
  /**
   * Training time budget in seconds (default 480): training stops at the end of the epoch after
   * which another epoch would pass it, so the demo ends in about 10 minutes on slow machines too.
   */
  trainingBudgetSeconds?: number;
  /** Bottlenecks per decoder block (default [1, 1, 1, 1]; published [12, 8, 5, 5]). */
  decoderLayers?: [number, number, number, number];
  /**
   * SECat hidden width is bottleneck channels / `seReduction` (default {@link DEMO_SE_REDUCTION}).
   */
  seReduction?: number;
  /** Decoder block kind (default `secat`). */
  decoderBlock?: DecoderBlockKind;
  /**
   * Adam learning rate of G and D (default 2e-3: ten times the published 2e-4, which learns
   * too slowly for a run of a few hundred steps; see docs/results.md).
   */
  learningRate?: number;
  /**
   * Lower the learning rate linearly over the second half of the epochs that fit the budget
   * (planned after the first two epochs, see {@link decayFactor}), e.g. ×0.75, ×0.5, ×0.25 over the
   * last three of six (default true).
   */
  learningRateDecay?: boolean;
  /** `demo` (default: a few far-apart colours per family) or `full` (every colour tag). */
  palette?: 'demo' | 'full';
  seed?: number;
  /** Backend (default: the fastest available). */
  backend?: string;
  progress?: ProgressMode;
  print?: (line: string) => void;
  /** Skip the Figure-8 grid and per-epoch images (for tests). */
  skipImages?: boolean;
}

/** Tag accuracy after one epoch of the demo. */
export interface DemoEpoch {
  epoch: number;
  /** Training steps so far. */
  steps: number;
  /** Training seconds so far (including these measurements). */
  seconds: number;
  overall: number;
  hair: number;
  eyes: number;
  background: number;
  l1: number;
}

/** What {@link runDemo} measured and wrote. */
export interface DemoResult {
  backend: string;
  /** Held-out characters with seen tag combinations. */
  test: TagAccuracyReport;
  /** Held-out characters with tag combinations never seen in training. */
  unseen: TagAccuracyReport;
  /** The generator's L1 (colour output) at every training step. */
  l1PerStep: number[];
  /** First and last 10-step mean of the generator's L1 (colour output). */
  l1Start: number;
  l1End: number;
  seconds: { data: number; training: number; evaluation: number; total: number };
  steps: number;
  /** Tag accuracy on (up to 64) held-out characters after each epoch. */
  history: DemoEpoch[];
  parameters: { generator: number; discriminator: number };
  files: Record<string, string>;
}

/**
 * The CIT extractor is a classifier pretrained on Danbooru line art; the demo has none, so its
 * features are replaced by two pooled statistics of the line art at S/8 (mean and minimum).
 */
export function lineArtFeatures(lineArt: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.concat([tf.avgPool(lineArt, 8, 8, 'valid'), tf.neg(tf.maxPool(tf.neg(lineArt), 8, 8, 'valid'))], 3),
  ) as tf.Tensor4D;
}

/** Where a {@link synthTrainingSource} continues: the epoch and the next batch in it. */
export interface SynthCursor {
  epoch: number;
  batch: number;
}

/** In-memory synthetic samples as a deterministic, resumable training source. */
export function synthTrainingSource(samples: readonly SynthSample[], batchSize: number, seed: number): TrainingDataSource<SynthCursor> {
  const batchesPerEpoch = Math.floor(samples.length / batchSize);
  if (batchesPerEpoch < 1) throw new Error(`The demo needs at least one batch: ${samples.length} samples < batch size ${batchSize}.`);
  return {
    batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const order = Array.from({ length: samples.length }, (_, i) => i);
      const rng = new SynthRandom(seed * 7919 + epoch);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < batchesPerEpoch; b++) {
        const batch = synthBatch(order.slice(b * batchSize, (b + 1) * batchSize).map((i) => samples[i]!));
        yield { ...batch, citFeatures: lineArtFeatures(batch.lineArt), cursor: { epoch, batch: b + 1 } };
      }
    },
  };
}

/** Options of {@link freshSynthSource}. */
export interface FreshSynthOptions {
  batchSize: number;
  batchesPerEpoch: number;
  seed: number;
  size: number;
  colourChoices: Readonly<Record<TagFamily, readonly string[]>>;
  /** Tag combinations training must not contain. */
  reject?: (spec: CharacterSpec) => boolean;
  /**
   * Colourings of each line art in a batch (default 1). With 2, a batch holds batchSize / 2 line
   * arts, each twice with different colours, so only the tags tell the two targets apart.
   */
  coloursPerLineArt?: number;
}

/**
 * New characters for every batch of every epoch (deterministic in seed, epoch and batch, so
 * resumable): a fixed set of a thousand line arts lets the generator recall a training
 * character's colours from its line art instead of reading the tags.
 */
export function freshSynthSource(o: FreshSynthOptions): TrainingDataSource<SynthCursor> {
  const k = o.coloursPerLineArt ?? 1;
  if (!Number.isInteger(k) || k < 1 || o.batchSize % k !== 0) {
    throw new Error(`coloursPerLineArt must be a positive integer dividing the batch size ${o.batchSize}, got ${k}.`);
  }
  const arts = o.batchSize / k;
  const synth = { size: o.size, colourChoices: o.colourChoices, seed: o.seed, reject: o.reject };
  const batchAt = (epoch: number, b: number): SynthSample[] => {
    const out: SynthSample[] = [];
    for (let a = 0; a < arts; a++) {
      const index = ((epoch - 1) * o.batchesPerEpoch + b) * arts + a;
      const base = generateCharacter(index, synth);
      out.push(base);
      const rng = new SynthRandom(sampleSeed(o.seed + 7777, index));
      for (let j = 1; j < k; j++) out.push(renderSample(recoloured(base.spec, rng, o.colourChoices, o.reject), o.size));
    }
    return out;
  };
  return {
    batchesPerEpoch: o.batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < o.batchesPerEpoch; b++) {
        const batch = synthBatch(batchAt(epoch, b));
        yield { ...batch, citFeatures: lineArtFeatures(batch.lineArt), cursor: { epoch, batch: b + 1 } };
      }
    },
  };
}

/** The same character with new colours for the families it has (avoiding `reject`ed specs). */
function recoloured(
  spec: CharacterSpec,
  rng: SynthRandom,
  choices: Readonly<Record<TagFamily, readonly string[]>>,
  reject?: (spec: CharacterSpec) => boolean,
): CharacterSpec {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const colours: Partial<Record<TagFamily, string>> = {};
    for (const family of Object.keys(spec.colours) as TagFamily[]) colours[family] = rng.pick(choices[family]);
    const next = { ...spec, colours };
    if (!reject || !reject(next)) return next;
  }
  throw new Error('recoloured: every colouring was rejected.');
}

function colouriser(trainer: Tag2PixTrainer) {
  return ({ lineArt, cvt }: { lineArt: tf.Tensor4D; cvt: tf.Tensor2D }): tf.Tensor4D => {
    const features = lineArtFeatures(lineArt);
    const [colour, guide] = trainer.generate(lineArt, cvt, features);
    tf.dispose([guide, features]);
    return colour;
  };
}

/** Runs the whole demo; see {@link DemoOptions}. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const print = options.print ?? ((line: string) => console.log(line));
  const out = options.out ?? 'demo-output';
  const size = options.size ?? 64;
  const trainCount = options.trainCount ?? 1024;
  const testCount = options.testCount ?? 128;
  const batchSize = options.batchSize ?? 16;
  const warmupEpochs = options.warmupEpochs ?? DEMO_WARMUP_EPOCHS;
  const epochs = options.epochs ?? DEMO_WARMUP_EPOCHS + DEMO_ADVERSARIAL_EPOCHS;
  const discriminatorBlocks = options.discriminatorBlocks ?? DEMO_DISCRIMINATOR_BLOCKS;
  const twoStepEpoch = options.twoStepEpoch ?? 1;
  const seed = options.seed ?? 1;
  const widthMultiplier = options.widthMultiplier ?? 0.25;
  const discriminatorWidth = options.discriminatorWidth ?? widthMultiplier / 2;
  const decoderLayers = options.decoderLayers ?? [1, 1, 1, 1];
  const decoderBlock = options.decoderBlock ?? 'secat';
  const seReduction = options.seReduction ?? DEMO_SE_REDUCTION;
  const tagEncoderWidth = options.tagEncoderWidth ?? DEMO_TAG_ENCODER_WIDTH;
  const learningRate = options.learningRate ?? 2e-3;
  const classificationWeight = options.classificationWeight ?? 1;
  const palette = options.palette === 'full' ? FAMILY_TAGS : DEMO_PALETTE;
  const backend = await initBackend(options.backend);
  print(`backend: ${backend.backend}${backend.skipped.length ? ` (skipped: ${backend.skipped.map((s) => s.backend).join(', ')})` : ''}`);
  await fs.mkdir(out, { recursive: true });

  // Data: training characters avoid the held-out tag pairs; the "unseen" test set uses only them.
  const pairs = heldOutPairs();
  const synth = { size, colourChoices: palette };
  const trainingData = options.trainingData ?? 'fresh';
  const coloursPerLineArt = options.coloursPerLineArt ?? DEMO_COLOURS_PER_LINE_ART;
  const reject = (s: CharacterSpec) => isHeldOut(s, pairs);
  const train =
    trainingData === 'fixed' ? Array.from({ length: trainCount }, (_, i) => generateCharacter(i, { ...synth, seed, reject })) : [];
  const trainingSource = (): TrainingDataSource<SynthCursor> =>
    trainingData === 'fixed'
      ? synthTrainingSource(train, batchSize, seed)
      : freshSynthSource({ batchSize, batchesPerEpoch: Math.max(1, Math.floor(trainCount / batchSize)), seed, size, colourChoices: palette, reject, coloursPerLineArt });
  const test = Array.from({ length: testCount }, (_, i) =>
    generateCharacter(i, { ...synth, seed: seed + 1000, reject: (s) => isHeldOut(s, pairs) }),
  );
  const unseen = Array.from({ length: testCount }, (_, i) =>
    generateCharacter(i, { ...synth, seed: seed + 2000, reject: (s) => !isHeldOut(s, pairs) }),
  );
  const tData = performance.now();
  print(`data: ${trainingData === 'fresh' ? `new characters every batch (${trainCount} per epoch, ${coloursPerLineArt} colouring${coloursPerLineArt === 1 ? '' : 's'} per line art)` : `${trainCount} training characters`}, ${testCount} test and ${testCount} unseen-combination characters at ${size} px (${((tData - t0) / 1000).toFixed(1)} s)`);

  // A reduced Tag2Pix.
  const generator: LayersModel = buildTag2PixGenerator({ inputSize: size, widthMultiplier, decoderLayers, decoderBlock, seReduction, tagEncoderWidthMultiplier: tagEncoderWidth, citChannels: 2 });
  const discriminator: LayersModel = buildTag2PixDiscriminator({ inputSize: size, widthMultiplier: discriminatorWidth, ...discriminatorBlocks });
  // The published init (Kaiming normal), seeded: the same command gives the same run.
  initializeLikeReference(generator, { seed });
  initializeLikeReference(discriminator, { seed: seed + 1 });
  const parameters = { generator: countParameters(generator), discriminator: countParameters(discriminator) };
  print(
    `model: G ${parameters.generator.toLocaleString('en')} parameters (${decoderBlock}, decoder ${JSON.stringify(decoderLayers)}, width ×${widthMultiplier}), ` +
      `D ${parameters.discriminator.toLocaleString('en')}; ` +
      (warmupEpochs > 0 ? `reconstruction warm-up (G alone) for epochs 1–${Math.min(warmupEpochs, epochs)}, then ` : '') +
      `two-step schedule: classification losses from epoch ${Math.max(1, twoStepEpoch, warmupEpochs + 1)} of ${epochs}`,
  );
  const adam = { learningRate, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };
  const trainer = new Tag2PixTrainer({
    generator,
    discriminator,
    generatorOptimizer: adam,
    discriminatorOptimizer: adam,
    scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs, twoStepEpoch, citWeight: classificationWeight, cvtWeight: classificationWeight }),
  });
  const runDir = path.join(out, 'run');
  await fs.rm(runDir, { recursive: true, force: true });
  const gridSamples = synthBatch(test.slice(0, 4));
  const sampleInputs = { lineArt: gridSamples.lineArt, colour: gridSamples.colour, cvt: gridSamples.cvt, citFeatures: lineArtFeatures(gridSamples.lineArt) };
  const colourise = colouriser(trainer);
  const history: DemoEpoch[] = [];
  const steps: StepLogRecord[] = [];
  const budget = options.trainingBudgetSeconds ?? 480;
  // What the run was, for its checkpoint and its report.
  const runConfig = {
    size, trainingData, coloursPerLineArt, trainCount, testCount, batchSize, epochs, warmupEpochs, twoStepEpoch,
    widthMultiplier, discriminatorWidth, discriminatorBlocks, decoderLayers, decoderBlock, seReduction,
    tagEncoderWidth, learningRate, classificationWeight,
  };
  const trainStart = performance.now();
  let checkpoint = '';
  // The learning rate decays over the second half of the epochs that fit the budget, planned
  // from the first epochs' times.
  let plannedEpochs = epochs;
  try {
    // One epoch per call, so the demo can measure as it goes and stop within its time budget.
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const epochStart = performance.now();
      const lr = learningRate * ((options.learningRateDecay ?? true) ? decayFactor(epoch, plannedEpochs) : 1);
      trainer.generatorOptimizer.setLearningRate(lr);
      trainer.discriminatorOptimizer.setLearningRate(lr);
      const result = await runTraining({
        trainer,
        data: trainingSource(),
        out: runDir,
        epochs,
        stopAfterEpoch: epoch - 1,
        seed,
        config: { demo: true, ...runConfig },
        samples: sampleInputs,
        progress: options.progress ?? 'auto',
        print,
        skipImages: options.skipImages,
      });
      steps.push(...result.steps);
      checkpoint = result.checkpoint;
      const probe = await tagAccuracy(colourise, test.slice(0, Math.min(test.length, 64)), { families: palette });
      const seconds = (performance.now() - trainStart) / 1000;
      const family = (f: string): number => probe.perFamily[f]?.accuracy ?? NaN;
      history.push({ epoch, steps: steps.length, seconds, overall: probe.overall, hair: family('hair'), eyes: family('eyes'), background: family('background'), l1: probe.l1 });
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
        break;
      }
    }
  } finally {
    tf.dispose(Object.values(gridSamples));
    sampleInputs.citFeatures.dispose();
  }
  const tTrain = performance.now();

  // Judged among the colours the demo trains on, so chance is 1 / (colours in the family).
  const testReport = await tagAccuracy(colourise, test, { families: palette });
  const unseenReport = await tagAccuracy(colourise, unseen, { families: palette });
  const files: Record<string, string> = {
    lossCurve: path.join(runDir, 'loss-curve.png'),
    log: path.join(runDir, 'log.jsonl'),
    checkpoint,
  };
  if (!options.skipImages) {
    files['grid'] = path.join(out, 'figure8-grid.png');
    await fs.writeFile(files['grid'], await figure8Grid(trainer, test, size));
    await fs.copyFile(files.lossCurve!, path.join(out, 'loss-curve.png'));
    files.lossCurve = path.join(out, 'loss-curve.png');
  }
  const tEval = performance.now();
  trainer.dispose();
  const l1 = steps.map((s) => s.generator.l1Colour ?? NaN);
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
    steps: steps.length,
    history,
    parameters,
    files,
  };
  files['report'] = path.join(out, 'report.md');
  files['json'] = path.join(out, 'report.json');
  await fs.writeFile(files['report'], demoReport(demo, options, runConfig));
  await fs.writeFile(
    files['json'],
    JSON.stringify({ ...demo, l1PerStep: undefined, test: { ...testReport, judgements: undefined }, unseen: { ...unseenReport, judgements: undefined } }, null, 2) + '\n',
  );
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

/**
 * How many epochs the demo expects to finish within its budget after `epoch` took `epochSeconds`
 * (`elapsedSeconds` in all so far): the epochs after it in order, as long as they fit, an
 * adversarial one costing {@link ADVERSARIAL_EPOCH_COST} warm-up ones.
 */
export function plannedDemoEpochs(o: {
  epoch: number;
  elapsedSeconds: number;
  epochSeconds: number;
  epochs: number;
  warmupEpochs: number;
  budgetSeconds: number;
}): number {
  const measured = { epoch: o.epoch, seconds: o.epochSeconds };
  let planned = o.epoch;
  let t = o.elapsedSeconds;
  for (let e = o.epoch + 1; e <= o.epochs; e++) {
    const cost = expectedEpochSeconds(e, measured, o.warmupEpochs);
    if (t + cost > o.budgetSeconds) break;
    t += cost;
    planned = e;
  }
  return planned;
}

/** Seconds `epoch` should take, given that `measured.epoch` took `measured.seconds`. */
function expectedEpochSeconds(epoch: number, measured: { epoch: number; seconds: number }, warmupEpochs: number): number {
  const cost = (e: number) => (warmupEpochs > 0 && e > warmupEpochs ? ADVERSARIAL_EPOCH_COST : 1);
  return (measured.seconds * cost(epoch)) / cost(measured.epoch);
}

/** The demo's learning-rate factor in `epoch` of `planned`: 1 for the first half, then linear. */
export function decayFactor(epoch: number, planned: number): number {
  const flat = Math.ceil(planned / 2);
  if (epoch <= flat) return 1;
  return Math.max(1, planned - epoch + 1) / (planned - flat + 1);
}

function pct(x: number): string {
  return Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)}%`;
}

function demoReport(d: DemoResult, options: DemoOptions, cfg: Record<string, unknown>): string {
  const families = [...new Set([...Object.keys(d.test.perFamily), ...Object.keys(d.unseen.perFamily)])];
  const rows = families.map((f) => {
    const a = d.test.perFamily[f];
    const b = d.unseen.perFamily[f];
    return `| ${f} | ${a ? `${pct(a.accuracy)} (${a.correct}/${a.total})` : '–'} | ${b ? `${pct(b.accuracy)} (${b.correct}/${b.total})` : '–'} | ${pct((a ?? b)!.chance)} |`;
  });
  return [
    '# Tag2Pix demo report',
    '',
    `Backend ${d.backend}; ${d.steps} training steps in ${d.seconds.training.toFixed(0)} s; whole run ${d.seconds.total.toFixed(0)} s.`,
    `Generator ${d.parameters.generator.toLocaleString('en')} parameters, discriminator ${d.parameters.discriminator.toLocaleString('en')}.`,
    '',
    `Configuration: \`${JSON.stringify({ ...cfg, palette: options.palette ?? 'demo' })}\``,
    '',
    'Tag accuracy: for each region whose colour a tag sets, whether the mean colour of the generated pixels is nearer (CIELAB) to the requested colour than to every other colour of the family the demo trains on.',
    '',
    '| family | held-out characters | unseen tag combinations | chance |',
    '|---|---|---|---|',
    ...rows,
    `| **overall** | **${pct(d.test.overall)}** | **${pct(d.unseen.overall)}** | |`,
    '',
    `L1 to ground truth (range [-1, 1]): ${d.test.l1.toFixed(4)} (held-out), ${d.unseen.l1.toFixed(4)} (unseen combinations).`,
    `Training L1 of the colour output: ${d.l1Start.toFixed(4)} (first 10 steps) → ${d.l1End.toFixed(4)} (last 10 steps).`,
    '',
    'Files: `figure8-grid.png` (one line art per column pair, each row a tag combination; rows marked unseen never occur in training), `loss-curve.png`, `run/log.jsonl`, `run/samples/`, `run/checkpoint.safetensors`.',
    '',
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/**
 * The Figure-8-style grid: for three held-out line arts, each row recolours the same line art
 * with another tag combination (ground truth beside the generated image).
 */
async function figure8Grid(trainer: Tag2PixTrainer, test: readonly SynthSample[], size: number): Promise<Buffer> {
  // Three line arts with different hair styles (as varied as the test set allows).
  const arts: SynthSample[] = [];
  for (const s of test) if (arts.length < 3 && !arts.some((a) => a.spec.hairStyle === s.spec.hairStyle)) arts.push(s);
  for (const s of test) if (arts.length < 3 && !arts.includes(s)) arts.push(s);
  const scale = size < 128 ? 2 : 1;
  const cell = size * scale;
  const labelW = 250;
  const pad = 6;
  const headerH = cell + 24;
  const rowH = cell + pad;
  const width = labelW + arts.length * (2 * cell + 3 * pad);
  const height = headerH + DEMO_GRID_ROWS.length * rowH + 30;
  const png = async (raster: SynthSample['colour'] | SynthSample['lineArt'] | tf.Tensor3D): Promise<string> => {
    const buffer = raster instanceof tf.Tensor ? await encodePng(raster, { range: [-1, 1] }) : await encodePng(raster);
    return `data:image/png;base64,${buffer.toString('base64')}`;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  const image = (href: string, x: number, y: number): string =>
    `<image x="${x}" y="${y}" width="${cell}" height="${cell}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="${href}"/>`;
  for (let a = 0; a < arts.length; a++) {
    const x = labelW + a * (2 * cell + 3 * pad);
    parts.push(image(await png(arts[a]!.lineArt), x + cell / 2 + pad, 0));
    parts.push(`<text x="${x + pad}" y="${headerH - 6}">truth</text><text x="${x + cell + 2 * pad}" y="${headerH - 6}">Tag2Pix</text>`);
  }
  for (let r = 0; r < DEMO_GRID_ROWS.length; r++) {
    const row = DEMO_GRID_ROWS[r]!;
    const y = headerH + r * rowH;
    const label = [row.colours.hair, row.colours.eyes, row.colours.background].join(' ');
    parts.push(`<text x="4" y="${y + cell / 2 - 4}">${escapeXml(label)}</text>`);
    parts.push(`<text x="4" y="${y + cell / 2 + 12}" fill="${row.unseen ? '#b00' : '#555'}">${row.unseen ? 'unseen combination' : 'shirt/skirt/dress vary'}</text>`);
    const rendered = arts.map((art) => {
      const colours: Partial<Record<TagFamily, string>> = { ...art.spec.colours };
      for (const family of Object.keys(colours) as TagFamily[]) {
        const wanted = row.colours[family];
        if (wanted) colours[family] = wanted;
      }
      return renderSample({ ...art.spec, colours }, size);
    });
    const batch = synthBatch(rendered);
    const features = lineArtFeatures(batch.lineArt);
    const [colour, guide] = trainer.generate(batch.lineArt, batch.cvt, features);
    for (let a = 0; a < arts.length; a++) {
      const x = labelW + a * (2 * cell + 3 * pad);
      const generated = tf.tidy(() => tf.squeeze(tf.slice(colour, a, 1), [0])) as tf.Tensor3D;
      parts.push(image(await png(rendered[a]!.colour), x + pad, y));
      parts.push(image(await png(generated), x + cell + 2 * pad, y));
      generated.dispose();
    }
    tf.dispose([colour, guide, features, ...Object.values(batch)]);
  }
  parts.push(`<text x="4" y="${height - 10}" fill="#555">Each row asks for the tags on the left (other families keep the character's own colours); red rows never occur in training.</text>`);
  parts.push('</svg>');
  return renderSvgToPng(parts.join('\n'));
}
