// What training consumes: the one batch type, and the contract of a resumable data source.
import type * as tf from '@tensorflow/tfjs-core';

/**
 * One batch, NHWC: what the data pipeline, the synthetic data and the trainer exchange.
 * Sources add what they need to it (a resume cursor, sample ids) without declaring it again.
 */
export interface Tag2PixBatch {
  /** Line art `[N, S, S, 1]` in [0, 1], white = 1. */
  lineArt: tf.Tensor4D;
  /** Ground-truth colour image `[N, S, S, 3]` in [-1, 1]. */
  color: tf.Tensor4D;
  /** CIT multi-hot `[N, numCit]` (370 for the published vocabulary). */
  cit: tf.Tensor2D;
  /** CVT multi-hot `[N, numCvt]` (115 for the published vocabulary). */
  cvt: tf.Tensor2D;
  /**
   * CIT features `[N, S/8, S/8, 512]`. When absent, the trainer computes them with its CIT
   * extractor (without gradient).
   */
  citFeatures?: tf.Tensor4D;
  /**
   * Per-pixel weights of G's reconstruction loss, `[N, S, S, 1]` (see `reconstructionLoss`).
   * Absent: every pixel counts the same, as published.
   */
  pixelWeights?: tf.Tensor4D;
}

/** A batch with the data source's resume point right after it. */
export interface TrainingBatch<C = unknown> extends Tag2PixBatch {
  /** Where to resume to continue right after this batch (stored in checkpoints). */
  cursor: C;
  /** Frees the batch's tensors (default: the loop disposes the tensor fields). */
  dispose?(): void;
}

/**
 * Where the batches come from; `DataLoader` (`tag2pix/data`, or `createDataLoader` in
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

/** Frees a batch: its own `dispose`, else its tensor fields. */
export function disposeBatch(batch: TrainingBatch): void {
  if (typeof batch.dispose === 'function') batch.dispose();
  else {
    const tensors = [batch.lineArt, batch.color, batch.cit, batch.cvt];
    if (batch.citFeatures) tensors.push(batch.citFeatures);
    if (batch.pixelWeights) tensors.push(batch.pixelWeights);
    for (const t of tensors) t.dispose();
  }
}
