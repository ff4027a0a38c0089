// `runTraining` with a run folder: atomic checkpoints, resume, the JSONL loss log, progress on
// the terminal, and per epoch the generator's weights, a loss-curve PNG and a sample grid.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import cliProgress from 'cli-progress';
import { exportTorchStateDict } from '../io/torch_state_dict.js';
import { writeSafetensors } from '../io/safetensors.js';
import { FileFormatError, quoteValue } from '../errors.js';
import { disposeBatch, type Tag2PixBatch, type TrainingDataSource } from '../training/batch.js';
import { runLossCurveSvg } from '../training/loss_curve.js';
import { runTraining, type RunTrainingOptions, type RunTrainingResult, type StepLogRecord } from '../training/run.js';
import { sampleGrid } from '../training/sample_grid.js';
import type { GeneratorLossTerms } from '../losses/tag2pix_losses.js';
import { NonFiniteLossError, type Tag2PixTrainer } from '../training/trainer.js';
import { writeCheckpoint } from './checkpoint.js';
import { removeStaleTemporaries, writeFileAtomic } from './files.js';
import { readableOnHost } from './host_tensors.js';
import { writePng } from './image.js';
import { renderSvgToPng } from './svg.js';

/** How progress is shown: a bar on a TTY, plain lines otherwise, or nothing. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'silent';

/** Options of {@link runTrainingInFolder}: those of `runTraining` (its own sinks aside), and the folder's. */
export interface RunTrainingInFolderOptions extends Omit<RunTrainingOptions, 'onEpochStart' | 'saveCheckpoint'> {
  /** Run folder: `checkpoint.safetensors`, `log.jsonl`, `loss-curve.png`, `samples/`. */
  out: string;
  /** Samples of the sample grid (default: up to 4 of the first batch of epoch 0). */
  samples?: Omit<Tag2PixBatch, 'cit'>;
  /** Progress display (default `auto`). */
  progress?: ProgressMode;
  /** With `lines`, print a line every this many steps (default 10; the epoch end always prints). */
  lineEvery?: number;
  /** Where plain progress lines and messages go (default console.log). */
  print?: (line: string) => void;
  /** Skip the loss-curve PNG and sample grids (faster tests). */
  skipImages?: boolean;
}

/** What {@link runTrainingInFolder} did. */
export interface RunTrainingInFolderResult extends RunTrainingResult {
  /** The checkpoint file. */
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
 * {@link runTraining} writing a run folder: checkpoints atomically (at each epoch end, every
 * `checkpointEvery` steps, and on abort), appends each step to `log.jsonl` (a resumed run first
 * drops the lines of the steps it redoes), and after each epoch writes the generator under
 * PyTorch's keys, the loss-curve PNG and a sample grid, then calls `onEpochEnd`. A NaN or
 * infinite loss stops the run with a {@link NonFiniteLossError} and leaves the last good
 * checkpoint untouched.
 */
export async function runTrainingInFolder(o: RunTrainingInFolderOptions): Promise<RunTrainingInFolderResult> {
  const { trainer, data } = o;
  const silent = o.progress === 'silent';
  const print = silent ? () => {} : (o.print ?? ((line: string) => console.log(line)));
  const files = {
    checkpoint: path.join(o.out, RUN_FILES.checkpoint),
    generator: path.join(o.out, RUN_FILES.generator),
    log: path.join(o.out, RUN_FILES.log),
    lossCurve: path.join(o.out, RUN_FILES.lossCurve),
    samples: path.join(o.out, RUN_FILES.samples),
  };
  await fs.mkdir(o.out, { recursive: true });
  const scheduler = trainer.scheduler;
  // Warnings are shown even with progress 'silent'.
  const warn = o.print ?? ((line: string) => console.warn(line));
  for (const f of await removeStaleTemporaries(o.out)) warn(`removed ${f}, left by a run killed while writing it`);
  await trimLog(files.log, scheduler.globalStep, warn);
  const mode = resolveMode(o.progress ?? 'auto');
  const lineEvery = o.lineEvery ?? 10;
  const perEpoch = data.batchesPerEpoch;
  const samples = o.skipImages ? undefined : (o.samples ? cloneSamples(o.samples) : await firstSamples(data));
  let bar: cliProgress.SingleBar | undefined;
  const { out: _out, samples: _samples, progress: _progress, lineEvery: _lineEvery, print: _print, skipImages: _skip, onStep: _onStep, ...loop } = o;
  try {
    const result = await runTraining({
      ...loop,
      onEpochStart: ({ epoch, startStep, weights }) => {
        if (startStep === 0) print(`epoch ${epoch + 1}/${o.epochs}: stage ${weights.stage}${weights.brightnessStage ? ' (brightness)' : ''}`);
        else print(`epoch ${epoch + 1}/${o.epochs}: resuming at step ${startStep + 1}/${perEpoch}`);
        if (mode === 'bar') bar = startBar(epoch, o.epochs, perEpoch, startStep);
      },
      onStep: async (record, stepResult) => {
        await fs.appendFile(files.log, JSON.stringify(record) + '\n');
        await o.onStep?.(record, stepResult);
        if (bar) bar.update(Math.min(record.step + 1, perEpoch), barPayload(record));
        else if (mode === 'lines' && ((record.step + 1) % lineEvery === 0 || record.step + 1 === perEpoch)) {
          print(progressLine(record, o.epochs, perEpoch));
        }
      },
      saveCheckpoint: (checkpoint) => writeCheckpoint(files.checkpoint, checkpoint),
      onEpochEnd: async (end) => {
        bar?.stop();
        bar = undefined;
        await writeGeneratorExport(trainer, files.generator);
        if (samples) await writeEpochImages(trainer, samples, files, end.epoch);
        const last = end.steps[end.steps.length - 1];
        if (last) {
          print(`epoch ${end.epoch + 1}/${o.epochs} done: D ${shown(last.discriminator.total, 4)} G ${last.generator.total.toFixed(4)}; checkpoint ${files.checkpoint}`);
        }
        return o.onEpochEnd?.(end);
      },
    });
    if (result.reason === 'aborted') {
      print(`stopped at epoch ${scheduler.epoch + 1} step ${scheduler.step}; checkpoint ${files.checkpoint} (resume with --resume)`);
    }
    return { ...result, checkpoint: files.checkpoint };
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      const kept = await fs.stat(files.checkpoint).then(() => `the last good checkpoint ${files.checkpoint} is kept`, () => 'no checkpoint was written yet');
      e.message = `${e.message} Training stopped; ${kept}.`;
    }
    throw e;
  } finally {
    bar?.stop();
    if (samples) tf.dispose(Object.values(samples) as tf.Tensor[]);
  }
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

/** Options of {@link readStepLog}. */
export interface ReadStepLogOptions {
  /**
   * Called when the last line is torn (a crash while appending): that line is dropped and this
   * says so. Without it a torn last line is dropped silently.
   */
  onTornLine?: (message: string) => void;
}

/**
 * Reads `log.jsonl` (every step record so far). A last line that is not whole JSON (a run killed
 * while appending it) is dropped, with a warning through `onTornLine`; any other unreadable line
 * is a FileFormatError naming the file and line.
 */
export async function readStepLog(file: string, options: ReadStepLogOptions = {}): Promise<StepLogRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  const records: StepLogRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      // JSON writes NaN (a term a warm-up step did not compute) as null.
      const record = JSON.parse(line, (_, v: unknown) => (v === null ? NaN : v)) as StepLogRecord;
      if (typeof record !== 'object' || record === null || !Number.isInteger(record.globalStep)) throw new Error('not a step record');
      records.push(withCurrentKeys(record));
    } catch (e) {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!last) {
        throw new FileFormatError(
          `${quoteValue(file, 200)}:${i + 1}: not a step record (${(e as Error).message}); the log is damaged. ` +
            'Move it aside to resume without its history.',
          { file },
        );
      }
      options.onTornLine?.(
        `${file}:${i + 1}: the last line is incomplete (${line.length} characters, a crash while it was written); it is dropped.`,
      );
    }
  }
  return records;
}

/** A record of a log written before 0.2.0, whose colour L1 term was keyed `l1Color`, under today's key. */
function withCurrentKeys(r: StepLogRecord): StepLogRecord {
  const legacy: string = 'l1Colour'; // keep-spelling: the key of logs written before 0.2.0
  const current: keyof GeneratorLossTerms = 'l1Color';
  const terms: unknown = r.generator;
  if (typeof terms !== 'object' || terms === null) return r; // not a full record: kept as it is, as before
  if (legacy !== current && legacy in r.generator && !(current in r.generator)) {
    const { [legacy]: value, ...rest } = r.generator;
    r.generator = { ...rest, [current]: value! };
  }
  return r;
}

// A resumed run redoes the steps after its checkpoint: drop their old log lines (and a torn one).
async function trimLog(file: string, globalStep: number, warn: (line: string) => void): Promise<void> {
  let torn = false;
  const records = await readStepLog(file, {
    onTornLine: (message) => {
      torn = true;
      warn(`warning: ${message}`);
    },
  });
  const keep = records.filter((r) => r.globalStep < globalStep);
  if (!torn && keep.length === records.length && (records.length > 0 || globalStep > 0)) return;
  await writeFileAtomic(file, keep.map((r) => JSON.stringify(r) + '\n').join(''));
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
    `G ${g.total.toFixed(3)} (adv ${shown(g.adv, 3)} L1 ${g.l1Color.toFixed(4)}/${g.l1Guide.toFixed(4)}) ` +
    `${r.imagesPerSecond.toFixed(2)} img/s`
  );
}

type Samples = Omit<Tag2PixBatch, 'cit'>;

function cloneSamples(s: Samples, max = 4): Samples {
  const n = Math.min(max, s.lineArt.shape[0]);
  return tf.tidy(() => ({
    lineArt: tf.slice(s.lineArt, 0, n) as tf.Tensor4D,
    color: tf.slice(s.color, 0, n) as tf.Tensor4D,
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

async function writeEpochImages(
  trainer: Tag2PixTrainer,
  samples: Samples,
  files: { lossCurve: string; samples: string; log: string },
  epoch: number,
): Promise<void> {
  const [color, guide] = trainer.generate(samples.lineArt, samples.cvt, samples.citFeatures);
  const grid = sampleGrid(samples.lineArt, guide, color, samples.color);
  tf.dispose([color, guide]);
  try {
    await writePng(path.join(files.samples, `epoch-${String(epoch + 1).padStart(3, '0')}.png`), grid, { range: [0, 1] });
  } finally {
    grid.dispose();
  }
  const records = await readStepLog(files.log);
  await writeFileAtomic(files.lossCurve, await renderSvgToPng(runLossCurveSvg(records)));
}
