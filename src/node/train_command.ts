// `tag2pix train` as a function: builds the models, data loader, scheduler and trainer from
// options (or from a run folder's checkpoint with `resume`) and runs the training loop.
import { promises as fs } from 'node:fs';
import { OptionError, OutputError, WeightsError, quoteValue, type OptionNamer } from '../errors.js';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { loadTorchStateDict } from '../io/torch_state_dict.js';
import { ChangingLossScheduler } from '../losses/changing_loss_scheduler.js';
import { buildCITExtractor } from '../models/se_resnext50.js';
import { buildTag2PixDiscriminator } from '../models/discriminator.js';
import { buildTag2PixGenerator } from '../models/generator.js';
import { Tag2PixTrainer } from '../training/trainer.js';
import { restoreTrainer, type TrainingCheckpoint } from '../training/checkpoint.js';
import { readCheckpoint } from './checkpoint.js';
import { createDataLoader, describeSkipped, openDataset } from './dataset.js';
import { RUN_FILES, runTrainingInFolder, type ProgressMode, type RunTrainingInFolderResult } from './train.js';
import { HOW_TO_GET_WEIGHTS, listWeightFiles, readStateDicts } from './weights.js';

/** Everything that defines a training run; stored in its checkpoints. */
export interface TrainRunConfig {
  /** Dataset folder (reference layout or manifest folder) or manifest file. */
  data: string;
  /** Image size S (multiple of 16). Default 256. */
  size: number;
  /** Batch size. Default 4. */
  batch: number;
  /** Epochs to train. Default 30. */
  epochs: number;
  /** First epoch, counted from 1, with classification losses (the published flag). Default 10. */
  twoStepEpoch: number;
  /**
   * First epochs in which G trains on the reconstruction loss alone, without D (a warm-up the
   * published recipe does not have). Default 0. Runs saved before it existed have none.
   */
  warmupEpochs?: number;
  /** First epoch, counted from 1, of the brightness stage; null = never. Default null. */
  brightnessEpoch: number | null;
  /** CIT and CVT classification weights from `twoStepEpoch` on. Default 1, 1. */
  citWeight: number;
  cvtWeight: number;
  /** Adam learning rate for G and D. Default 2e-4. */
  learningRate: number;
  /** Seed of data order and augmentation. Default 0. */
  seed: number;
  /** Checkpoint every this many steps (0 = only at epoch ends). Default 500. */
  checkpointEvery: number;
  /** Generator decoder bottlenecks per block. Default [12, 8, 5, 5]. */
  layers: [number, number, number, number];
  /** Channel width multiplier of G and D. Default 1. */
  widthMultiplier: number;
  /** Use the CIT feature path (needs `citWeights`). Default true. */
  cit: boolean;
  /** CIT extractor weights (the CIT network's model.pth or a safetensors export). */
  citWeights?: string;
  /** Starting weights for G and/or D (e.g. the official tag2pix_256.pkl), files or folders. */
  init?: string[];
  /** BatchNorm in the generator (the published 512 px model has none). Default true. */
  batchNorm: boolean;
  /**
   * Gradient checkpointing in G's and D's bottlenecks (same results, much less memory, a slower
   * step; see docs/training.md). A new run that does not say takes {@link recomputeByDefault}
   * (on for wasm at large sizes and batches). Not part of the results, so `resume` may change it.
   */
  recompute: boolean;
  /** Use at most this many samples. */
  limit?: number;
  /** Leave out dataset entries whose files are missing (default: such entries are an error). */
  skipMissing?: boolean;
}

/** Options of {@link trainCommand}: the run configuration and how to run it. */
export interface TrainCommandOptions extends Partial<TrainRunConfig> {
  /** Run folder. */
  out: string;
  /** Continue the run in `out` from its checkpoint (its configuration wins; `epochs` may grow). */
  resume?: boolean;
  /** Progress display. Default `auto`. */
  progress?: ProgressMode;
  /** Where progress lines and messages go. Default console.log. */
  print?: (line: string) => void;
  /** Stop cleanly after this epoch (0-based), e.g. for time-boxed sessions. */
  stopAfterEpoch?: number;
  /** Stop cleanly (with a checkpoint) when aborted; the CLI aborts on Ctrl-C. */
  signal?: AbortSignal;
  /** Skip loss-curve and sample-grid images. */
  skipImages?: boolean;
  /** Largest training image accepted, in pixels (default `DEFAULT_MAX_PIXELS`); not stored in the run. */
  maxPixels?: number;
}

/** The published defaults (256 px run) where the CLI does not say otherwise. */
export const TRAIN_DEFAULTS: Omit<TrainRunConfig, 'data'> = {
  size: 256,
  batch: 4,
  epochs: 30,
  twoStepEpoch: 10,
  warmupEpochs: 0,
  brightnessEpoch: null,
  citWeight: 1,
  cvtWeight: 1,
  learningRate: 2e-4,
  seed: 0,
  checkpointEvery: 500,
  layers: [12, 8, 5, 5],
  widthMultiplier: 1,
  cit: true,
  batchNorm: true,
  recompute: false,
};

/** Narrowest and widest width multipliers `trainCommand` accepts (below 1/16 layers keep < 4 channels). */
export const WIDTH_MULTIPLIER_RANGE = [1 / 16, 4] as const;

/** Largest image size `trainCommand` accepts (the published models are 256 and 512 px). */
export const MAX_TRAIN_SIZE = 1024;

function validate(c: TrainRunConfig): void {
  const bad = (option: string, text: (name: OptionNamer) => string): never => {
    throw new OptionError(text, { option });
  };
  const integer = (option: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(option, (name) => `${name(option)} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}, got ${quoteValue(v)}.`);
    }
  };
  integer('batch', c.batch, 1);
  integer('epochs', c.epochs, 1);
  integer('seed', c.seed, 0);
  if (typeof c.size !== 'number' || !Number.isInteger(c.size) || c.size < 32 || c.size > MAX_TRAIN_SIZE || c.size % 16 !== 0) {
    bad('size', (name) => `${name('size')} must be a multiple of 16 from 32 to ${MAX_TRAIN_SIZE}, got ${quoteValue(c.size)}.`);
  }
  integer('twoStepEpoch', c.twoStepEpoch, 0);
  if (c.warmupEpochs !== undefined) integer('warmupEpochs', c.warmupEpochs, 0);
  if (c.brightnessEpoch !== null) integer('brightnessEpoch', c.brightnessEpoch, 0);
  for (const [key, v] of [['citWeight', c.citWeight], ['cvtWeight', c.cvtWeight]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(key, (name) => `${name(key)} must be a number >= 0, got ${quoteValue(v)}.`);
  }
  if (typeof c.learningRate !== 'number' || !(c.learningRate > 0) || !Number.isFinite(c.learningRate)) {
    bad('learningRate', (name) => `${name('learningRate')} must be a number > 0, got ${quoteValue(c.learningRate)}.`);
  }
  integer('checkpointEvery', c.checkpointEvery, 0);
  if (!Array.isArray(c.layers) || c.layers.length !== 4 || c.layers.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 64)) {
    bad('layers', (name) => `${name('layers')} must be 4 integers from 1 to 64 (bottlenecks per decoder block), got ${quoteValue(JSON.stringify(c.layers))}.`);
  }
  const [narrowest, widest] = WIDTH_MULTIPLIER_RANGE;
  if (typeof c.widthMultiplier !== 'number' || !(c.widthMultiplier >= narrowest && c.widthMultiplier <= widest)) {
    bad(
      'widthMultiplier',
      (name) =>
        `${name('widthMultiplier')} must be from ${narrowest} to ${widest} (1 = the published model; below ${narrowest} ` +
        `layers keep fewer than 4 channels and learn nothing), got ${quoteValue(c.widthMultiplier)}.`,
    );
  }
  if (c.limit !== undefined) integer('limit', c.limit, 1);
  if (c.cit && !c.citWeights) {
    throw new OptionError(
      (name) =>
        `the CIT feature path needs the pretrained CIT extractor: pass ${name('citWeights')} <model.pth or .safetensors>, ` +
        `or ${name('cit=false')} to train a generator without it.`,
      { option: 'citWeights', hint: HOW_TO_GET_WEIGHTS },
    );
  }
}

/** The run folder must be a folder (or not exist yet). */
async function checkRunFolder(out: string): Promise<void> {
  if (typeof out !== 'string' || out === '') {
    throw new OptionError((name) => `${name('out')} must name the run folder.`, { option: 'out' });
  }
  const stat = await fs.stat(out).catch(() => undefined);
  if (stat && !stat.isDirectory()) {
    throw new OutputError((name) => `${name('out')} ${quoteValue(out, 200)} is a file, not a run folder; choose a folder name.`, {
      option: 'out',
      file: out,
    });
  }
}

async function loadInitialWeights(sources: string[], generator: LayersModel, discriminator: LayersModel): Promise<string[]> {
  const loaded: string[] = [];
  for (const file of await listWeightFiles(sources)) {
    for (const dict of await readStateDicts(file)) {
      try {
        const label = dict.entry ? `${file} (${dict.entry})` : file;
        if (dict.kind === 'generator') {
          loadTorchStateDict(generator, dict.tensors);
          loaded.push(`generator from ${label}`);
        } else if (dict.kind === 'discriminator') {
          loadTorchStateDict(discriminator, dict.tensors);
          loaded.push(`discriminator from ${label}`);
        }
      } finally {
        tf.dispose(Object.values(dict.tensors));
      }
    }
  }
  if (loaded.length === 0) {
    throw new WeightsError((name) => `${name('init')}: no generator or discriminator weights in ${sources.map((f) => quoteValue(f, 200)).join(', ')}.`, {
      option: 'init',
    });
  }
  return loaded;
}

async function loadCitExtractor(file: string, size: number): Promise<LayersModel> {
  const dicts = await readStateDicts(file);
  try {
    const dict = dicts.find((d) => d.kind === 'cit-extractor');
    if (!dict) {
      throw new WeightsError((name) => `${name('citWeights')}: ${quoteValue(file, 200)} holds no CIT extractor weights.`, {
        option: 'citWeights',
        file,
        hint: HOW_TO_GET_WEIGHTS,
      });
    }
    // As the published code runs it: batch statistics always (it never calls eval() on it).
    const extractor = buildCITExtractor({ inputSize: size, batchNormMode: 'batch-stats' });
    loadTorchStateDict(extractor, dict.tensors, { ignore: (k) => /^(layer3|layer4|fc)\./.test(k) });
    return extractor;
  } finally {
    for (const d of dicts) tf.dispose(Object.values(d.tensors));
  }
}

/**
 * Activation size of a step (`size² × batch × widthMultiplier`) above which a new run on wasm
 * recomputes its bottlenecks unless told: 4 times a 64 px batch of 4, whose full tape peaks at
 * about 0.75 GB of RSS, so about 2 GB, half of wasm's 32-bit heap. A 256 px batch of 2 peaks at
 * 3.9 GB without recompute (docs/performance.md, "Memory").
 */
const RECOMPUTE_ABOVE = 64 * 64 * 4 * 4;

/**
 * Whether a new run recomputes its bottlenecks when the caller does not say: on wasm, when a
 * step's activations (see {@link RECOMPUTE_ABOVE}) would fill much of its 4 GB heap. Same values;
 * smaller steps run 10-20 % faster without it, within 1.2x PyTorch's memory at 64 px.
 */
export function recomputeByDefault(backend: string, size: number, batch: number, widthMultiplier = 1): boolean {
  return backend === 'wasm' && size * size * batch * widthMultiplier > RECOMPUTE_ABOVE;
}

/**
 * Trains Tag2Pix as `tag2pix train` does: a new run in `out`, or with `resume` the run whose
 * checkpoint is in `out`, continuing bit for bit.
 */
export async function trainCommand(options: TrainCommandOptions): Promise<RunTrainingInFolderResult> {
  const print = options.print ?? ((l: string) => console.log(l));
  await checkRunFolder(options.out);
  const checkpointFile = path.join(options.out, RUN_FILES.checkpoint);
  let checkpoint: TrainingCheckpoint | undefined;
  let restored = false;
  const owned: Array<{ dispose(): void }> = [];
  try {
    let config: TrainRunConfig;
    if (options.resume) {
      checkpoint = await readCheckpoint(checkpointFile);
      config = checkpoint.state.config as unknown as TrainRunConfig;
      if (options.epochs !== undefined) config = { ...config, epochs: options.epochs };
      // Recompute changes memory and time, not the values: a resumed run may switch it.
      config = { ...config, recompute: options.recompute ?? config.recompute ?? false };
      print(`resuming ${options.out} at epoch ${checkpoint.state.epoch + 1} step ${checkpoint.state.step + 1} (saved ${checkpoint.state.savedAt})`);
    } else {
      const exists = await fs.stat(checkpointFile).then(() => true, () => false);
      if (exists) {
        throw new OutputError(
          (name) => `${quoteValue(options.out, 200)} already holds a training run (${RUN_FILES.checkpoint}); pass ${name('resume')} to continue it or choose another ${name('out')}.`,
          { option: 'out', file: checkpointFile },
        );
      }
      if (!options.data) {
        throw new OptionError((name) => `${name('data')} <dataset folder or manifest> is required.`, { option: 'data' });
      }
      const { out: _o, resume: _r, progress: _p, print: _pr, stopAfterEpoch: _s, signal: _sg, skipImages: _si, maxPixels: _mp, ...given } = options;
      const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
      config = { ...TRAIN_DEFAULTS, ...defined, data: options.data } as TrainRunConfig;
      if (config.citWeights) config.citWeights = path.resolve(config.citWeights);
      if (config.init) config.init = config.init.map((p) => path.resolve(p));
      config.data = path.resolve(config.data);
      if (options.recompute === undefined) {
        config.recompute = recomputeByDefault(tf.getBackend(), config.size, config.batch, config.widthMultiplier);
        if (config.recompute) {
          print('recompute: on (the default on wasm for a step this large, whose full tape would fill much of its 4 GB heap; --no-recompute turns it off)');
        }
      }
    }
    validate(config);

    // The data first: a wrong path or a dataset smaller than a batch fails before any model exists.
    const dataset = await openDataset(config.data, {
      ...(config.limit !== undefined ? { limit: config.limit } : {}),
      ...(config.skipMissing ? { skipMissing: true } : {}),
    });
    const skipped = describeSkipped(dataset);
    if (skipped) print(`warning: ${skipped}`);
    if (dataset.samples.length < config.batch) {
      throw new OptionError(
        (name) =>
          `${name('batch')} ${config.batch} is larger than the dataset (${dataset.samples.length} sample${dataset.samples.length === 1 ? '' : 's'} ` +
          `in ${quoteValue(config.data, 200)}); lower ${name('batch')} to at most ${dataset.samples.length}.`,
        { option: 'batch' },
      );
    }

    const generator = buildTag2PixGenerator({
      inputSize: config.size,
      decoderLayers: config.layers,
      widthMultiplier: config.widthMultiplier,
      citFeatures: config.cit,
      batchNorm: config.batchNorm,
      recompute: config.recompute,
    });
    owned.push(generator);
    const discriminator = buildTag2PixDiscriminator({
      inputSize: config.size,
      widthMultiplier: config.widthMultiplier,
      recompute: config.recompute,
    });
    owned.push(discriminator);
    const citExtractor = config.cit ? await loadCitExtractor(config.citWeights!, config.size) : undefined;
    if (citExtractor) owned.push(citExtractor);
    if (!checkpoint && config.init) {
      for (const line of await loadInitialWeights(config.init, generator, discriminator)) print(`initial ${line}`);
    }
    const scheduler = checkpoint
      ? ChangingLossScheduler.fromJSON(checkpoint.state.scheduler)
      : ChangingLossScheduler.tag2pix({
          twoStepEpoch: config.twoStepEpoch,
          warmupEpochs: config.warmupEpochs ?? 0,
          brightnessEpoch: config.brightnessEpoch,
          citWeight: config.citWeight,
          cvtWeight: config.cvtWeight,
        });
    const adam = { learningRate: config.learningRate };
    const trainer = new Tag2PixTrainer({
      generator,
      discriminator,
      citExtractor,
      scheduler,
      generatorOptimizer: adam,
      discriminatorOptimizer: adam,
    });
    owned.unshift(trainer);
    if (checkpoint) {
      restored = true; // restoreTrainer disposes the checkpoint's tensors, also when it fails
      restoreTrainer(trainer, checkpoint);
    }

    // As published: full batches only (the reference stops each epoch at len // batch_size).
    const loader = createDataLoader(dataset, {
      imageSize: config.size,
      batchSize: config.batch,
      seed: config.seed,
      dropLast: true,
      ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {}),
    });
    print(
      `training ${dataset.samples.length} samples, ${loader.batchesPerEpoch} batches of ${config.batch} per epoch, ` +
        `${config.size} px, epochs ${config.epochs}, backend ${tf.getBackend()}; run folder ${options.out}`,
    );
    return await runTrainingInFolder({
      trainer,
      data: loader,
      out: options.out,
      epochs: config.epochs,
      seed: config.seed,
      config: config as unknown as Record<string, unknown>,
      checkpointEvery: config.checkpointEvery,
      resumeCursor: checkpoint?.state.dataCursor,
      progress: options.progress,
      print,
      stopAfterEpoch: options.stopAfterEpoch,
      signal: options.signal,
      skipImages: options.skipImages,
    });
  } finally {
    if (checkpoint && !restored) tf.dispose(Object.values(checkpoint.tensors));
    for (const o of owned) o.dispose();
  }
}
