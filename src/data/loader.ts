import { Tag2PixError } from '../errors.js';
import type { TrainingDataSource } from '../training/batch.js';
import { type PairAugmentOptions, augmentPair } from './augment.js';
import {
  type DataLoaderBatch,
  type DataCursor,
  type Dataset,
  type PreparedSample,
  type SampleRecord,
  collateBatch,
  epochOrder,
  sampleRng,
  validateCursor,
} from './dataset.js';
import { type Raster } from './raster.js';

/**
 * Reads one sample's images: the colour image and the chosen line-art file, ideally already
 * resized to `size`×`size` while decoding (the Node reader does that with libvips). Throw an
 * error with `file` and `reason` (`missing`, `corrupt`, `wrong-size`) to have it skipped and counted.
 */
export type PairReader = (
  sample: SampleRecord,
  lineArtFile: string,
  size: number,
) => Promise<{ color: Raster; lineArt: Raster }>;

/** A line art that does not fit its colour image (or is too small); skipped like a corrupt file. */
export class SampleSizeError extends Tag2PixError {
  readonly reason = 'wrong-size' as const;
  declare readonly file: string;
  constructor(file: string, message: string) {
    super(message, { file });
  }
}

/** Why a sample was skipped. */
export type SkipReason = 'missing' | 'corrupt' | 'wrong-size' | 'error';

/** A skipped sample, as passed to `onWarning`. */
export interface DataWarning {
  sampleId: string;
  /** The file that failed. */
  file: string;
  reason: SkipReason;
  /** One line naming the file and the problem. */
  message: string;
}

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Side S of the square training images, pixels (multiple of 16 for the model; 256 as published). */
  imageSize: number;
  /** Samples per batch. */
  batchSize: number;
  /** Seed of every random choice: epoch order, line-art style, augmentation (default 0). */
  seed?: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /**
   * Augmentation: `true` (default) for the reference recipe, `false` for resize only (evaluation),
   * or options for {@link augmentPair} (geometric / jitter settings).
   */
  augment?: boolean | Pick<PairAugmentOptions, 'geometric' | 'jitter'>;
  /** Start with the brightness stage on (see {@link DataLoader.brightnessStage}). */
  brightnessStage?: boolean;
  /** Batches read ahead while the consumer works on the current one (default 2; 0 reads one sample at a time). */
  prefetch?: number;
  /** Drop a last batch smaller than `batchSize` (default false, as the reference). */
  dropLast?: boolean;
  /** Called for each skipped sample (default: `console.warn` of the message). */
  onWarning?: (warning: DataWarning) => void;
}

/** Counts of skipped samples since the loader was created. */
export interface SkipCounts {
  missing: number;
  corrupt: number;
  'wrong-size': number;
  error: number;
  /** Sum of the above. */
  total: number;
}

type Outcome = { ok: true; sample: PreparedSample } | { ok: false; warning: DataWarning };

/**
 * Turns a {@link Dataset} into training batches: an async iterator per epoch that prepares
 * `prefetch` batches ahead (decoding runs on the reader's threads while the trainer computes),
 * shuffles per epoch, picks a line-art style per sample, applies the paired augmentation, skips
 * (and counts, and warns about) unreadable or mis-sized files, and can resume mid-epoch from a
 * serialisable {@link DataCursor}. Every random draw derives from (seed, epoch, sample), so the
 * batches are the same for the same seed however the decoding interleaves.
 *
 * ```ts
 * const loader = new DataLoader(dataset, reader, { imageSize: 256, batchSize: 4, seed: 1 });
 * for (let epoch = 0; epoch < epochs; epoch++) {
 *   loader.brightnessStage = epoch >= brightnessEpoch;
 *   for await (const batch of loader.epoch(epoch)) { ...train...; batch.dispose(); }
 * }
 * ```
 */
export class DataLoader implements TrainingDataSource<DataCursor> {
  readonly dataset: Dataset;
  readonly options: Readonly<Required<Omit<DataLoaderOptions, 'onWarning' | 'augment'>>> & {
    augment: DataLoaderOptions['augment'];
  };
  /**
   * Line-art brightness from U(1, 7) instead of U(0.8, 1.2) (the reference's brightness stage).
   * Read when an epoch starts (so a run is reproducible and resumable); switch it between epochs,
   * e.g. from the ChangingLossScheduler.
   */
  brightnessStage: boolean;
  private readonly reader: PairReader;
  private readonly warn: (w: DataWarning) => void;
  private readonly skips: SkipCounts = { missing: 0, corrupt: 0, 'wrong-size': 0, error: 0, total: 0 };
  private lastCursor: DataCursor;

  constructor(dataset: Dataset, reader: PairReader, options: DataLoaderOptions) {
    const { imageSize, batchSize } = options;
    if (!(Number.isInteger(imageSize) && imageSize > 0)) {
      throw new Error(`DataLoader: imageSize must be a positive integer, got ${imageSize}.`);
    }
    if (!(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}.`);
    }
    if (dataset.samples.length === 0) {
      throw new Error(`DataLoader: the dataset from '${dataset.source}' is empty; there is nothing to train on.`);
    }
    this.dataset = dataset;
    this.reader = reader;
    this.options = {
      imageSize,
      batchSize,
      seed: options.seed ?? 0,
      shuffle: options.shuffle ?? true,
      augment: options.augment ?? true,
      brightnessStage: options.brightnessStage ?? false,
      prefetch: Math.max(0, options.prefetch ?? 2),
      dropLast: options.dropLast ?? false,
    };
    this.brightnessStage = this.options.brightnessStage;
    this.warn = options.onWarning ?? ((w) => console.warn(`tag2pix: ${w.message}`));
    this.lastCursor = this.cursorAt(0, 0, this.brightnessStage);
  }

  /** Number of batches in a full epoch when no file is skipped. */
  get batchesPerEpoch(): number {
    const n = this.dataset.samples.length;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Skipped samples so far, by reason. */
  get skipped(): Readonly<SkipCounts> {
    return { ...this.skips };
  }

  /** The resume point after the last batch handed out (start of epoch 0 before any). */
  cursor(): DataCursor {
    return { ...this.lastCursor };
  }

  private cursorAt(epoch: number, position: number, brightnessStage: boolean): DataCursor {
    return {
      version: 1,
      seed: this.options.seed,
      epoch,
      position,
      datasetSize: this.dataset.samples.length,
      brightnessStage,
    };
  }

  /**
   * Iterates over one epoch's batches. With `from`, starts at that cursor (its epoch and position,
   * and its brightness stage) instead of the epoch's beginning; a cursor at the end of an epoch
   * yields nothing. Throws at the end if not a single sample of the epoch could be read.
   */
  epoch(epoch: number, options: { from?: DataCursor } = {}): AsyncGenerator<DataLoaderBatch, void, undefined> {
    let start = 0;
    let stage = this.brightnessStage;
    if (options.from !== undefined) {
      validateCursor(options.from, this.options.seed, this.dataset.samples.length);
      if (options.from.epoch !== epoch) {
        throw new Error(`The cursor is for epoch ${options.from.epoch}, not ${epoch}: call epoch(${options.from.epoch}, { from }).`);
      }
      start = options.from.position;
      stage = options.from.brightnessStage;
    }
    return this.run(epoch, start, stage);
  }

  /**
   * Iterates from a cursor to the end of its epoch, then through the following epochs forever
   * (apply `brightnessStage` changes between epochs as usual).
   */
  async *resume(from: DataCursor): AsyncGenerator<DataLoaderBatch, void, undefined> {
    yield* this.epoch(from.epoch, { from });
    for (let e = from.epoch + 1; ; e++) yield* this.epoch(e);
  }

  private async *run(epoch: number, start: number, brightnessStage: boolean): AsyncGenerator<DataLoaderBatch, void, undefined> {
    const { seed, shuffle, batchSize, imageSize, prefetch, dropLast } = this.options;
    const samples = this.dataset.samples;
    const order = epochOrder(samples.length, seed, epoch, shuffle);
    // While the consumer holds a batch, the next `prefetch` batches are being read.
    const window = Math.max(1, prefetch * batchSize);
    const pending = new Map<number, Promise<Outcome>>();
    let next = start;
    let scheduled = start;
    const fill = () => {
      while (scheduled < order.length && scheduled - next < window) {
        const pos = scheduled++;
        pending.set(pos, this.prepare(order[pos]!, epoch, brightnessStage));
      }
    };
    let index = 0;
    let readOk = 0;
    let failures = 0;
    let firstFailure: DataWarning | undefined;
    try {
      fill();
      let batch: PreparedSample[] = [];
      while (next < order.length) {
        const outcome = await pending.get(next)!;
        pending.delete(next);
        next++;
        fill();
        if (outcome.ok) {
          readOk++;
          batch.push(outcome.sample);
        } else {
          failures++;
          firstFailure ??= outcome.warning;
          this.skips[outcome.warning.reason]++;
          this.skips.total++;
          const w = outcome.warning;
          this.warn({ ...w, message: `${w.message} [${this.skips.total} skipped so far]` });
        }
        const last = next >= order.length;
        if (batch.length === batchSize || (last && batch.length > 0 && !dropLast)) {
          const cursor = this.cursorAt(epoch, next, brightnessStage);
          const out = collateBatch(batch, imageSize, { epoch, index: index++, cursor });
          batch = [];
          this.lastCursor = cursor;
          yield out;
        }
      }
      if (readOk === 0 && failures > 0) {
        throw new Error(
          `Epoch ${epoch}: none of the ${failures} samples could be read (first: ${firstFailure!.message}). ` +
            'Check the dataset folder.',
        );
      }
    } finally {
      // Early exit: let in-flight reads finish quietly.
      for (const p of pending.values()) p.catch(() => undefined);
    }
  }

  /** Reads and augments one sample; never rejects. */
  private async prepare(sampleIndex: number, epoch: number, brightnessStage: boolean): Promise<Outcome> {
    const sample = this.dataset.samples[sampleIndex]!;
    const rng = sampleRng(this.options.seed, epoch, sampleIndex);
    const lineArtFile = sample.lineArts[rng.int(0, sample.lineArts.length - 1)]!;
    const size = this.options.imageSize;
    try {
      const { color, lineArt } = await this.reader(sample, lineArtFile, size);
      const aug = this.options.augment;
      const augmented = augmentPair(color, lineArt, rng, {
        size,
        geometric: aug === false ? false : aug === true || aug === undefined ? undefined : aug.geometric,
        jitter: aug === false ? false : aug === true || aug === undefined ? undefined : aug.jitter,
        brightnessStage,
      });
      const { cit, cvt } = this.dataset.vocabulary.encode(sample.tags);
      return {
        ok: true,
        sample: { id: sample.id, lineArtFile, lineArt: augmented.lineArt, color: augmented.color, cit, cvt },
      };
    } catch (err) {
      const e = err as Error & { file?: string; reason?: string };
      const reason: SkipReason =
        e.reason === 'missing' || e.reason === 'corrupt' || e.reason === 'wrong-size' ? e.reason : 'error';
      const file = e.file ?? lineArtFile;
      return {
        ok: false,
        warning: {
          sampleId: sample.id,
          file,
          reason,
          message: `skipping sample '${sample.id}' (${reason}): ${e.message}`,
        },
      };
    }
  }
}
