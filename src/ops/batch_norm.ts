import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../kernels/custom_grad.js';
import { batchNormTraining, type BatchNormTrainingResult } from '../kernels/batch_norm_train.js';
import {
  BATCH_NORM_APPLY,
  BATCH_NORM_GRAD_INPUT,
  BATCH_NORM_GRAD_STATS,
  BATCH_NORM_RUNNING,
  BATCH_NORM_STATS,
  hasOwnKernel,
} from '../kernels/own_kernels.js';
import { reluKeepingOutput } from '../kernels/relu_train.js';
import {
  affineBatchNormInference,
  affineBatchNormTraining,
  affineRunningStatistics,
  usesAffineBatchNorm,
} from '../kernels/batch_norm_affine.js';

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
  /**
   * With batch statistics, also compute the updated running statistics (default true). False
   * where the caller would discard them (batch statistics outside training).
   */
  updateRunningStats?: boolean;
  /**
   * Activation applied to the normalised tensor: `'linear'` (default) or `'relu'` (whose
   * gradient keeps only what the BatchNorm keeps). Fused into the BatchNorm where the backend
   * has this library's kernels for it (webgpu).
   */
  activation?: 'linear' | 'relu';
}

/** Output of {@link batchNormTorch}. */
export interface BatchNormTorchResult {
  /** The normalised tensor. */
  y: tf.Tensor;
  /**
   * Updated running mean and variance, when batch statistics were used (and
   * `updateRunningStats` is not false); else undefined.
   */
  newRunningMean?: tf.Tensor1D;
  newRunningVar?: tf.Tensor1D;
}

/**
 * Batch normalisation over the last axis with PyTorch's `BatchNorm2d` semantics: batch
 * statistics normalise with the biased variance, while the running variance is updated with
 * the unbiased one (`var · n / (n − 1)`), `running = (1 − momentum)·running + momentum·batch`.
 */
export function batchNormTorch(x: tf.Tensor, args: BatchNormTorchArgs): BatchNormTorchResult {
  const activation = args.activation ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') {
    throw new Error(`batchNormTorch: activation must be 'linear' or 'relu', got '${activation}'.`);
  }
  if (hasOwnKernel(BATCH_NORM_APPLY) && x.dtype === 'float32' && (args.useBatchStats || !tf.engine().isTapeOn())) {
    return fusedBatchNorm(x, args, activation);
  }
  if (usesAffineBatchNorm(x) && (args.useBatchStats || !tf.engine().isTapeOn())) {
    return affineBatchNorm(x as tf.Tensor4D, args, activation);
  }
  const r = composedBatchNorm(x, args);
  if (activation === 'relu') {
    const y = r.y;
    r.y = reluKeepingOutput(y);
    y.dispose();
  }
  return r;
}

function composedBatchNorm(x: tf.Tensor, args: BatchNormTorchArgs): BatchNormTorchResult {
  const epsilon = args.epsilon ?? 1e-5;
  if (!args.useBatchStats) {
    const y = tf.tidy(() => {
      const scale = tf.mul(args.gamma, tf.rsqrt(tf.add(args.runningVar, epsilon)));
      const shift = tf.sub(args.beta, tf.mul(args.runningMean, scale));
      return tf.add(tf.mul(x, scale), shift);
    });
    return { y };
  }
  const count = checkBatchCount(x);
  // A hand-written gradient keeps only x and per-channel vectors on the tape (composed ops keep
  // about six activation-sized tensors per layer, which fills wasm's 4 GB at 256 px).
  return withRunningStatistics(batchNormTraining(x, args.gamma, args.beta, epsilon), args, (mean, variance) =>
    runningStatistics(args, mean, variance, count),
  );
}

/** {@link batchNormTorch} as per-channel affine maps (wasm: src/kernels/batch_norm_affine.ts). */
function affineBatchNorm(x: tf.Tensor4D, args: BatchNormTorchArgs, activation: 'linear' | 'relu'): BatchNormTorchResult {
  const epsilon = args.epsilon ?? 1e-5;
  checkChannelVectors(x, args);
  if (!args.useBatchStats) {
    return { y: affineBatchNormInference(x, args.runningMean, args.runningVar, args.gamma, args.beta, epsilon, activation) };
  }
  const count = checkBatchCount(x);
  return withRunningStatistics(affineBatchNormTraining(x, args.gamma, args.beta, epsilon, activation), args, (mean, variance) =>
    affineRunningStatistics(args, mean, variance, args.momentum ?? 0.1, count),
  );
}

/**
 * A training BatchNorm's result with the updated running statistics (unless the caller discards
 * them); the batch statistics are kept tensors, freed here also when an allocation fails (e.g.
 * the wasm heap is full).
 */
function withRunningStatistics(
  { y, mean, variance }: BatchNormTrainingResult,
  args: BatchNormTorchArgs,
  update: (mean: tf.Tensor1D, variance: tf.Tensor1D) => { newRunningMean: tf.Tensor1D; newRunningVar: tf.Tensor1D },
): BatchNormTorchResult {
  try {
    return args.updateRunningStats === false ? { y } : { y, ...update(mean, variance) };
  } finally {
    mean.dispose();
    variance.dispose();
  }
}

/** PyTorch's running averages: the biased batch variance enters unbiased (`· n / (n − 1)`). */
function runningStatistics(args: BatchNormTorchArgs, mean: tf.Tensor1D, variance: tf.Tensor1D, count: number) {
  const momentum = args.momentum ?? 0.1;
  return tf.tidy(() => ({
    newRunningMean: tf.add(tf.mul(args.runningMean, 1 - momentum), tf.mul(mean, momentum)) as tf.Tensor1D,
    newRunningVar: tf.add(tf.mul(args.runningVar, 1 - momentum), tf.mul(variance, (momentum * count) / (count - 1))) as tf.Tensor1D,
  }));
}

/** Throws unless γ, β and the running statistics are `[C]` for an input of C channels. */
function checkChannelVectors(x: tf.Tensor, args: BatchNormTorchArgs): void {
  const channels = x.shape[x.rank - 1]!;
  for (const [name, v] of Object.entries({ gamma: args.gamma, beta: args.beta, runningMean: args.runningMean, runningVar: args.runningVar })) {
    if (v.rank !== 1 || v.shape[0] !== channels) {
      throw new Error(`batchNormTorch: ${name} must be [${channels}] for input [${x.shape.join(', ')}], got [${v.shape.join(', ')}].`);
    }
  }
}

/** Values per channel; throws when batch statistics are impossible. */
function checkBatchCount(x: tf.Tensor): number {
  const count = x.size / x.shape[x.rank - 1]!;
  if (count < 2) {
    throw new Error(
      `batchNormTorch: batch statistics need more than one value per channel, got input shape ` +
        `[${x.shape.join(', ')}]; use a larger batch or spatial size, or running statistics.`,
    );
  }
  return count;
}

/**
 * {@link batchNormTorch} through this library's fused kernels (webgpu): statistics in one
 * dispatch, normalisation and activation in another, each running statistic in one; the
 * gradient is two dispatches (per-channel sums, then the input gradient). The tape keeps `x`,
 * the `[2, C]` statistics, γ and β, as the composition's.
 */
function fusedBatchNorm(x: tf.Tensor, args: BatchNormTorchArgs, activation: 'linear' | 'relu'): BatchNormTorchResult {
  const epsilon = args.epsilon ?? 1e-5;
  const momentum = args.momentum ?? 0.1;
  const engine = tf.engine();
  const attrs = { epsilon, activation } as unknown as tf.NamedAttrMap;
  checkChannelVectors(x, args);
  if (!args.useBatchStats) {
    const y = engine.runKernel(BATCH_NORM_APPLY, {
      x, mean: args.runningMean, variance: args.runningVar, gamma: args.gamma, beta: args.beta,
    }, attrs) as tf.Tensor;
    return { y };
  }
  const count = checkBatchCount(x);
  let stats: tf.Tensor2D | undefined;
  const normalise = customGrad(((input: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const s = engine.runKernel(BATCH_NORM_STATS, { x: input }, {}) as tf.Tensor2D;
    stats = tf.keep(s);
    save([input, s, gamma, beta]);
    return {
      value: engine.runKernel(BATCH_NORM_APPLY, { x: input, mean: s, variance: s, gamma, beta }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ss, gs, bs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const inputs = { dy: dy as tf.Tensor, x: xs, stats: ss, gamma: gs, beta: bs };
        const sums = engine.runKernel(BATCH_NORM_GRAD_STATS, inputs, attrs) as tf.Tensor2D;
        const dx = engine.runKernel(BATCH_NORM_GRAD_INPUT, { ...inputs, sums }, attrs) as tf.Tensor;
        const [dBeta, dGamma] = tf.unstack(sums) as [tf.Tensor1D, tf.Tensor1D];
        return [dx, dGamma, dBeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = (normalise as unknown as (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor)(x, args.gamma, args.beta);
  try {
    if (args.updateRunningStats === false) return { y };
    const running = (r: tf.Tensor1D, row: number, take: number) =>
      engine.runKernel(BATCH_NORM_RUNNING, { running: r, stats: stats! }, { row, keep: 1 - momentum, take } as unknown as tf.NamedAttrMap) as tf.Tensor1D;
    const newRunningMean = running(args.runningMean, 0, momentum);
    const newRunningVar = running(args.runningVar, 1, (momentum * count) / (count - 1));
    return { y, newRunningMean, newRunningVar };
  } finally {
    stats!.dispose(); // a kept tensor, also when an allocation fails
  }
}
