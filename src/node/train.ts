// The Node training loop around Tag2PixTrainer: epochs, atomic checkpoints, resume, progress,
// JSONL loss log, loss-curve PNG and sample grids, NaN/Inf guard.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import cliProgress from 'cli-progress';
import { NonFiniteLossError, type Tag2PixBatch, type Tag2PixStepResult, type Tag2PixTrainer } from '../training/trainer.js';
import { sampleGrid } from '../training/sample_grid.js';
import { exportTorchStateDict } from '../io/torch_state_dict.js';
import { writeSafetensors } from '../io/safetensors.js';
import { readableOnHost } from './host_tensors.js';
import { saveCheckpoint, writeFileAtomic } from './checkpoint.js';
import { writePng } from './image.js';
import { lossCurveSvg, renderSvgToPng, type CurvePanel } from './loss_curve.js';

/** A batch with the data source's resume point right after it. */
export interface TrainingBatch<C = unknown> extends Tag2PixBatch {
  /** Where to resume to continue right after this batch (stored in checkpoints). */
  cursor: C;
  /** Frees the batch's tensors (default: the loop disposes the tensor fields). */
  dispose?(): void;
}

/**
 * Where the batches come from; `DataLoader` from `tag2pix` (`createDataLoader` in
 * `tag2pix/node`) is one. `epoch(e)` and `epoch(e, {from: cursor})` must give the same batches
 * for the same arguments every time (a function of the source's seed, the epoch and the
 * brightness stage): that is what makes a resumed run continue bit for bit.
 */
export interface TrainingDataSource<C = unknown> {
  /** Batches in a full epoch (for progress display). */
  readonly batchesPerEpoch: number;
  /** Set by the loop before each epoch from the scheduler's `brightnessStage`. */
  brightnessStage: boolean;
  /** The batches of `epoch`, from its start or from a batch's `cursor`. */
  epoch(epoch: number, options?: { from?: C }): AsyncIterable<TrainingBatch<C>>;
}

/** How progress is shown: a bar on a TTY, plain lines otherwise, or nothing. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'silent';

/** Options of {@link runTraining}. */
export interface RunTrainingOptions {
  trainer: Tag2PixTrainer;
  data: TrainingDataSource;
  /** Run folder: `checkpoint.safetensors`, `log.jsonl`, `loss-curve.png`, `samples/`. */
  out: string;
  /** Train until this many epochs are complete. */
  epochs: number;
  /** Seed of the data order and augmentation (stored in checkpoints). */
  seed: number;
  /** The run's configuration, stored in checkpoints. */
  config: Record<string, unknown>;
  /** Also checkpoint every this many steps (0 = only at the end of each epoch; default 0). */
  checkpointEvery?: number;
  /**
   * Where the data source resumes when the trainer's scheduler is in the middle of an epoch:
   * the checkpoint's `dataCursor` (`readCheckpoint(…).state.dataCursor`).
   */
  resumeCursor?: unknown;
  /** Samples of the sample grid (default: up to 4 of the first batch of epoch 0). */
  samples?: Pick<Tag2PixBatch, 'lineArt' | 'colour' | 'cvt' | 'citFeatures'>;
  /** Progress display (default `auto`). */
  progress?: ProgressMode;
  /** With `lines`, print a line every this many steps (default 10; the epoch end always prints). */
  lineEvery?: number;
  /** Stop cleanly after this epoch (0-based) is complete and checkpointed. */
  stopAfterEpoch?: number;
  /** Stop cleanly (checkpoint first) when aborted, e.g. on Ctrl-C. */
  signal?: AbortSignal;
  /** Where plain progress lines and messages go (default console.log). */
  print?: (line: string) => void;
  /** Skip the loss-curve PNG and sample grids (faster tests). */
  skipImages?: boolean;
}

/** One line of `log.jsonl`. */
export interface StepLogRecord {
  epoch: number;
  step: number;
  globalStep: number;
  stage: string;
  weights: Record<string, number | boolean>;
  discriminator: Record<string, number>;
  generator: Record<string, number>;
  /** Seconds the step took. */
  seconds: number;
  /** Images per second of the step. */
  imagesPerSecond: number;
}

/** What {@link runTraining} did. */
export interface RunTrainingResult {
  /** Epochs completed in total (this session and earlier ones). */
  epochsCompleted: number;
  globalStep: number;
  /** Why it returned. */
  reason: 'finished' | 'stopAfterEpoch' | 'aborted';
  /** Every step of this session. */
  steps: StepLogRecord[];
  checkpoint: string;
}

/** File names inside the run folder. */
export const RUN_FILES = {
  checkpoint: 'checkpoint.safetensors',
  /** The generator alone under PyTorch's keys: for `tag2pix colorize --weights` and PyTorch. */
  generator: 'generator.safetensors',
  log: 'log.jsonl',
  lossCurve: 'loss-curve.png',
  samples: 'samples',
} as const;

/**
 * Trains from the trainer's current position (its scheduler's epoch and step: 0 for a new
 * run, the checkpoint's for a resumed one) until `epochs` are complete. Checkpoints atomically
 * at each epoch end and every `checkpointEvery` steps. A NaN or infinite loss stops the run
 * with a {@link NonFiniteLossError} and leaves the last good checkpoint untouched.
 */
export async function runTraining(o: RunTrainingOptions): Promise<RunTrainingResult> {
  const { trainer, data } = o;
  const silent = o.progress === 'silent';
  const print = silent ? () => {} : (o.print ?? ((line: string) => console.log(line)));
  const checkpointEvery = o.checkpointEvery ?? 0;
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new Error(`runTraining: epochs must be an integer >= 1, got ${o.epochs}.`);
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0) {
    throw new Error(`runTraining: checkpointEvery must be an integer >= 0, got ${checkpointEvery}.`);
  }
  if (trainer.scheduler.step > 0 && (o.resumeCursor === undefined || o.resumeCursor === null)) {
    throw new Error(
      `runTraining: the trainer is at step ${trainer.scheduler.step} of epoch ${trainer.scheduler.epoch + 1}; pass ` +
        `resumeCursor (the checkpoint's state.dataCursor) so that the data continues there.`,
    );
  }
  const files = {
    checkpoint: path.join(o.out, RUN_FILES.checkpoint),
    generator: path.join(o.out, RUN_FILES.generator),
    log: path.join(o.out, RUN_FILES.log),
    lossCurve: path.join(o.out, RUN_FILES.lossCurve),
    samples: path.join(o.out, RUN_FILES.samples),
  };
  await fs.mkdir(o.out, { recursive: true });
  const scheduler = trainer.scheduler;
  await trimLog(files.log, scheduler.globalStep);

  const mode = resolveMode(o.progress ?? 'auto');
  const lineEvery = o.lineEvery ?? 10;
  const steps: StepLogRecord[] = [];
  // The data position: the cursor after the last batch taken, or null at an epoch boundary.
  let dataCursor: unknown = scheduler.step > 0 ? o.resumeCursor : null;
  const checkpoint = () =>
    saveCheckpoint(files.checkpoint, trainer, { seed: o.seed, dataCursor, config: o.config });
  const samples = o.skipImages ? undefined : (o.samples ? cloneSamples(o.samples) : await firstSamples(data));

  try {
    while (scheduler.epoch < o.epochs) {
      const epoch = scheduler.epoch;
      const startStep = scheduler.step;
      const weights = scheduler.current();
      if (startStep === 0) print(`epoch ${epoch + 1}/${o.epochs}: stage ${weights.stage}${weights.brightnessStage ? ' (brightness)' : ''}`);
      else print(`epoch ${epoch + 1}/${o.epochs}: resuming at step ${startStep + 1}/${data.batchesPerEpoch}`);
      const bar = mode === 'bar' ? startBar(epoch, o.epochs, data.batchesPerEpoch, startStep) : undefined;
      let aborted = false;
      data.brightnessStage = weights.brightnessStage;
      const from = startStep > 0 ? dataCursor : undefined;
      try {
        for await (const batch of data.epoch(epoch, from === undefined || from === null ? {} : { from })) {
          const t0 = performance.now();
          let result: Tag2PixStepResult;
          try {
            result = await trainer.trainStep(batch);
          } finally {
            disposeBatch(batch);
          }
          dataCursor = batch.cursor;
          const seconds = (performance.now() - t0) / 1000;
          const record = toRecord(result, scheduler.globalStep - 1, seconds, batch.lineArt.shape[0]);
          steps.push(record);
          await fs.appendFile(files.log, JSON.stringify(record) + '\n');
          if (bar) bar.update(Math.min(result.step + 1, data.batchesPerEpoch), barPayload(record));
          else if (mode === 'lines' && ((result.step + 1) % lineEvery === 0 || result.step + 1 === data.batchesPerEpoch)) {
            print(progressLine(record, o.epochs, data.batchesPerEpoch));
          }
          if (o.signal?.aborted) {
            aborted = true;
            break;
          }
          if (checkpointEvery > 0 && scheduler.globalStep % checkpointEvery === 0) await checkpoint();
        }
      } finally {
        bar?.stop();
      }
      if (aborted) {
        await checkpoint();
        print(`stopped at epoch ${scheduler.epoch + 1} step ${scheduler.step}; checkpoint ${files.checkpoint} (resume with --resume)`);
        return { epochsCompleted: scheduler.epoch, globalStep: scheduler.globalStep, reason: 'aborted', steps, checkpoint: files.checkpoint };
      }
      if (scheduler.step === 0) {
        throw new Error(`The data source gave no batch in epoch ${epoch + 1}; check the dataset.`);
      }
      trainer.endEpoch();
      dataCursor = null;
      await checkpoint();
      await writeGeneratorExport(trainer, files.generator);
      if (!o.skipImages) {
        await writeEpochImages(trainer, samples!, files, epoch);
      }
      const last = steps[steps.length - 1];
      if (last) {
        print(`epoch ${epoch + 1}/${o.epochs} done: D ${shown(last.discriminator.total, 4)} G ${last.generator.total.toFixed(4)}; checkpoint ${files.checkpoint}`);
      }
      if (o.stopAfterEpoch !== undefined && epoch >= o.stopAfterEpoch && scheduler.epoch < o.epochs) {
        return { epochsCompleted: scheduler.epoch, globalStep: scheduler.globalStep, reason: 'stopAfterEpoch', steps, checkpoint: files.checkpoint };
      }
    }
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      const where = `epoch ${scheduler.epoch + 1} step ${scheduler.step + 1}`;
      const kept = await fs.stat(files.checkpoint).then(() => `the last good checkpoint ${files.checkpoint} is kept`, () => 'no checkpoint was written yet');
      e.message = `${where}: ${e.message} Training stopped; ${kept}.`;
    }
    throw e;
  } finally {
    if (samples) tf.dispose(Object.values(samples) as tf.Tensor[]);
  }
  return { epochsCompleted: scheduler.epoch, globalStep: scheduler.globalStep, reason: 'finished', steps, checkpoint: files.checkpoint };
}

/** Writes the generator under PyTorch's state-dict keys (loadable by `loadColorizer` and PyTorch). */
async function writeGeneratorExport(trainer: Tag2PixTrainer, file: string): Promise<void> {
  const tensors = exportTorchStateDict(trainer.generator);
  try {
    const host = await readableOnHost(tensors);
    try {
      await writeFileAtomic(file, writeSafetensors(host.tensors, { network: 'tag2pix-generator' }));
    } finally {
      host.release();
    }
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Reads `log.jsonl` (every step record so far). */
export async function readStepLog(file: string): Promise<StepLogRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    // JSON writes NaN (a term a warm-up step did not compute) as null.
    .map((l) => JSON.parse(l, (_, v: unknown) => (v === null ? NaN : v)) as StepLogRecord);
}

// A resumed run redoes the steps after its checkpoint: drop their old log lines.
async function trimLog(file: string, globalStep: number): Promise<void> {
  const records = await readStepLog(file);
  const keep = records.filter((r) => r.globalStep < globalStep);
  if (keep.length === records.length && (records.length > 0 || globalStep > 0)) return;
  await writeFileAtomic(file, keep.map((r) => JSON.stringify(r) + '\n').join(''));
}

function toRecord(r: Tag2PixStepResult, globalStep: number, seconds: number, batchSize: number): StepLogRecord {
  const { stage, ...weights } = r.weights;
  return {
    epoch: r.epoch,
    step: r.step,
    globalStep,
    stage,
    weights,
    discriminator: r.discriminator,
    generator: r.generator,
    seconds: Number(seconds.toFixed(4)),
    imagesPerSecond: Number((batchSize / Math.max(seconds, 1e-9)).toFixed(3)),
  };
}

function resolveMode(mode: ProgressMode): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return process.stderr.isTTY ? 'bar' : 'lines';
}

function startBar(epoch: number, epochs: number, total: number, start: number): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      format: `epoch ${epoch + 1}/${epochs} |{bar}| {value}/{total} D {d} G {g} {ips} img/s ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, start, { d: '-', g: '-', ips: '-' });
  return bar;
}

/** A loss for display: NaN marks a term the step did not compute (D in a warm-up step). */
function shown(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

function barPayload(r: StepLogRecord): Record<string, string> {
  return {
    d: shown(r.discriminator.total, 4),
    g: r.generator.total.toFixed(2),
    ips: r.imagesPerSecond.toFixed(2),
  };
}

function progressLine(r: StepLogRecord, epochs: number, perEpoch: number): string {
  const d = r.discriminator;
  const g = r.generator;
  return (
    `epoch ${r.epoch + 1}/${epochs} step ${r.step + 1}/${perEpoch} ` +
    `D ${shown(d.total, 4)} (adv ${shown(d.advReal, 3)}/${shown(d.advFake, 3)}) ` +
    `G ${g.total.toFixed(3)} (adv ${shown(g.adv, 3)} L1 ${g.l1Colour.toFixed(4)}/${g.l1Guide.toFixed(4)}) ` +
    `${r.imagesPerSecond.toFixed(2)} img/s`
  );
}

type Samples = Pick<Tag2PixBatch, 'lineArt' | 'colour' | 'cvt' | 'citFeatures'>;

function cloneSamples(s: Samples, max = 4): Samples {
  const n = Math.min(max, s.lineArt.shape[0]);
  return tf.tidy(() => ({
    lineArt: tf.slice(s.lineArt, 0, n) as tf.Tensor4D,
    colour: tf.slice(s.colour, 0, n) as tf.Tensor4D,
    cvt: tf.slice(s.cvt, 0, n) as tf.Tensor2D,
    ...(s.citFeatures ? { citFeatures: tf.slice(s.citFeatures, 0, n) as tf.Tensor4D } : {}),
  }));
}

async function firstSamples(data: TrainingDataSource): Promise<Samples> {
  const iterator = data.epoch(0)[Symbol.asyncIterator]();
  const first = await iterator.next();
  await iterator.return?.(undefined);
  if (first.done) throw new Error('The data source gave no batch for the sample grid.');
  const samples = cloneSamples(first.value);
  disposeBatch(first.value);
  return samples;
}

function disposeBatch(batch: TrainingBatch): void {
  if (typeof batch.dispose === 'function') batch.dispose();
  else tf.dispose([batch.lineArt, batch.colour, batch.cit, batch.cvt, ...(batch.citFeatures ? [batch.citFeatures] : [])]);
}

async function writeEpochImages(
  trainer: Tag2PixTrainer,
  samples: Samples,
  files: { lossCurve: string; samples: string; log: string },
  epoch: number,
): Promise<void> {
  const [colour, guide] = trainer.generate(samples.lineArt, samples.cvt, samples.citFeatures);
  const grid = sampleGrid(samples.lineArt, guide, colour, samples.colour);
  tf.dispose([colour, guide]);
  try {
    await writePng(path.join(files.samples, `epoch-${String(epoch + 1).padStart(3, '0')}.png`), grid, { range: [0, 1] });
  } finally {
    grid.dispose();
  }
  const records = await readStepLog(files.log);
  const series = (pick: (r: StepLogRecord) => number, name: string, colour: string) => ({
    name,
    colour,
    points: records.map((r) => ({ step: r.globalStep, value: pick(r) })),
  });
  const panels: CurvePanel[] = [
    {
      title: 'Discriminator',
      series: [
        series((r) => r.discriminator.total, 'total', '#1f77b4'),
        series((r) => r.discriminator.advReal + r.discriminator.advFake, 'adversarial', '#ff7f0e'),
      ],
    },
    {
      title: 'Generator',
      series: [
        series((r) => r.generator.total, 'total', '#2ca02c'),
        series(
          (r) => (r.generator.l1Colour + Number(r.weights['beta']) * r.generator.l1Guide) * Number(r.weights['lambdaRec']),
          'λ_rec·L_rec',
          '#d62728',
        ),
      ],
    },
    {
      title: 'Classification (unweighted BCE)',
      series: [
        series((r) => r.discriminator.citReal, 'D CIT real', '#9467bd'),
        series((r) => r.discriminator.cvtReal, 'D CVT real', '#8c564b'),
        series((r) => r.generator.cit, 'G CIT', '#e377c2'),
        series((r) => r.generator.cvt, 'G CVT', '#7f7f7f'),
      ],
    },
  ];
  const epochStarts = records.filter((r) => r.step === 0).map((r) => r.globalStep);
  await writeFileAtomic(files.lossCurve, await renderSvgToPng(lossCurveSvg(panels, epochStarts)));
}
