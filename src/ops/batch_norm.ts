import * as tf from '@tensorflow/tfjs-core';
import { batchNormTraining } from '../kernels/batch_norm_train.js';

/** Parameters and options of {@link batchNormTorch}. */
export interface BatchNormTorchArgs {
  /** Per-channel scale (PyTorch `weight`). */
  gamma: tf.Tensor1D;
  /** Per-channel shift (PyTorch `bias`). */
  beta: tf.Tensor1D;
  /** Running mean, used when not normalising with batch statistics. */
  runningMean: tf.Tensor1D;
  /** Running (unbiased) variance, used when not normalising with batch statistics. */
  runningVar: tf.Tensor1D;
  /** Normalise with the batch's own statistics (PyTorch train mode). */
  useBatchStats: boolean;
  /** Variance epsilon. PyTorch's default 1e-5. */
  epsilon?: number;
  /** Weight of the new batch statistic in the running average. PyTorch's default 0.1. */
  momentum?: number;
}

/** Output of {@link batchNormTorch}. */
export interface BatchNormTorchResult {
  /** The normalised tensor. */
  y: tf.Tensor;
  /** Updated running mean and variance, when batch statistics were used; else undefined. */
  newRunningMean?: tf.Tensor1D;
  newRunningVar?: tf.Tensor1D;
}

/**
 * Batch normalisation over the last axis with PyTorch's `BatchNorm2d` semantics: batch
 * statistics normalise with the biased variance, while the running variance is updated with
 * the unbiased one (`var · n / (n − 1)`), `running = (1 − momentum)·running + momentum·batch`.
 */
export function batchNormTorch(x: tf.Tensor, args: BatchNormTorchArgs): BatchNormTorchResult {
  const epsilon = args.epsilon ?? 1e-5;
  const momentum = args.momentum ?? 0.1;
  if (!args.useBatchStats) {
    const y = tf.tidy(() => {
      const scale = tf.mul(args.gamma, tf.rsqrt(tf.add(args.runningVar, epsilon)));
      const shift = tf.sub(args.beta, tf.mul(args.runningMean, scale));
      return tf.add(tf.mul(x, scale), shift);
    });
    return { y };
  }
  const count = x.size / x.shape[x.rank - 1];
  if (count < 2) {
    throw new Error(
      `batchNormTorch: batch statistics need more than one value per channel, got input shape ` +
        `[${x.shape.join(', ')}]; use a larger batch or spatial size, or running statistics.`,
    );
  }
  // A hand-written gradient keeps only x and per-channel vectors on the tape (composed ops keep
  // about six activation-sized tensors per layer, which fills wasm's 4 GB at 256 px).
  const { y, mean, variance } = batchNormTraining(x, args.gamma, args.beta, epsilon);
  try {
    const newRunningMean = tf.tidy(() =>
      tf.add(tf.mul(args.runningMean, 1 - momentum), tf.mul(mean, momentum)),
    ) as tf.Tensor1D;
    const newRunningVar = tf.tidy(() =>
      tf.add(
        tf.mul(args.runningVar, 1 - momentum),
        tf.mul(variance, (momentum * count) / (count - 1)),
      ),
    ) as tf.Tensor1D;
    return { y, newRunningMean, newRunningVar };
  } finally {
    // Also when an allocation fails (e.g. the wasm heap is full): the statistics are kept tensors.
    mean.dispose();
    variance.dispose();
  }
}
