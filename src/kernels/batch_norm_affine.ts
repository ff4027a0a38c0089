import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad.js';
import { hasArrayKernel, type ArrayKernelSpec } from './array_kernel.js';
import { withBatchStatistics, type BatchNormTrainingResult } from './batch_norm_train.js';
import {
  BATCH_NORM_GRAD_INPUT,
  BATCH_NORM_GRAD_SUMS,
  CHANNEL_MOMENTS,
  batchNormPassesHandle,
  gradAttrs,
} from './batch_norm_passes.js';

/*
 * BatchNorm over the last axis of an NHWC tensor for backends whose 1×1 depthwise convolution
 * with bias and activation is one fast kernel (wasm: XNNPACK, SIMD and threaded). The
 * normalisation is a per-channel affine map `x·scale + shift`, so it and its ReLU are one such
 * convolution, where the composition is a broadcast multiply, a broadcast add and a ReLU, each a
 * pass over the activation (on wasm the channel-broadcast multiply alone takes as long as the
 * convolution: 150–500 µs against 120–180 µs on [4, 32, 32, 128], scratch measurement). The
 * backward pass uses the same map for x̂ and for the input gradient:
 *   x̂ = x·invstd − mean·invstd,  g = dy · step(x̂·γ + β) (ReLU) or dy,
 *   dβ = Σg,  dγ = Σ(g·x̂),  dx = g·(γ·invstd) + x̂·(−dγ·k) − dβ·k,  k = γ·invstd / M:
 * ten passes with the ReLU where the composition makes twelve (seven against ten without). The
 * tape keeps x and per-channel vectors only, not the ReLU's output. Where the backend has the
 * loops of batch_norm_passes.ts, the statistics are one kernel (two reads of x) and the backward
 * pass two (the sums, then dx: four reads and one write).
 */

/** Backends where {@link affineBatchNormTraining} and {@link affineBatchNormInference} are used. */
const AFFINE_BACKENDS = new Set(['wasm']);

/** Whether the active backend normalises `x` through the channel-affine kernels. */
export function usesAffineBatchNorm(x: tf.Tensor): boolean {
  return x.rank === 4 && x.dtype === 'float32' && AFFINE_BACKENDS.has(tf.getBackend()) && tf.getKernel(BATCH_NORM_AFFINE, tf.getBackend()) != null;
}

/**
 * `act(x·scale + shift)` per channel of an NHWC tensor, as one 1×1 depthwise convolution. The
 * kernel is run directly: `tf.fused.depthwiseConv2d` splits off the activation whenever
 * gradients are being recorded, and no gradient is taken through this call.
 */
function channelAffine(x: tf.Tensor4D, scale: tf.Tensor1D, shift: tf.Tensor1D | undefined, activation: 'linear' | 'relu'): tf.Tensor4D {
  const c = x.shape[3];
  const inputs: tf.NamedTensorMap = { x, filter: tf.reshape(scale, [1, 1, c, 1]) };
  if (shift) inputs['bias'] = shift;
  const attrs = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], activation };
  return tf.engine().runKernel(tf.FusedDepthwiseConv2D, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** Name of the kernel that turns statistics into the affine map (wasm and cpu). */
export const BATCH_NORM_AFFINE = 'Tag2PixBatchNormAffine';
/** Name of the kernel that turns the gradient sums into the input gradient's maps (wasm and cpu). */
export const BATCH_NORM_AFFINE_GRAD = 'Tag2PixBatchNormAffineGrad';

/**
 * Per channel, from `mean`, `variance`, `gamma`, `beta`: `scale = γ·invstd`,
 * `shift = β − mean·scale`, `invstd = 1/√(var + ε)` and `−mean·invstd` (x̂'s shift), in one call
 * where the ops make six kernels of a few hundred values each.
 */
export const batchNormAffineSpec: ArrayKernelSpec = {
  inputs: ['mean', 'variance', 'gamma', 'beta'],
  outputShapes: (shapes) => [shapes[0]!, shapes[0]!, shapes[0]!, shapes[0]!],
  compute([mean, variance, gamma, beta], [scale, shift, invStd, xhatShift], attrs) {
    const epsilon = attrs['epsilon'] as number;
    for (let c = 0; c < mean!.length; c++) {
      const is = 1 / Math.sqrt(variance![c]! + epsilon);
      const s = gamma![c]! * is;
      scale![c] = s;
      shift![c] = beta![c]! - mean![c]! * s;
      invStd![c] = is;
      xhatShift![c] = -mean![c]! * is;
    }
  },
};

/**
 * Per channel, from `dBeta = Σg`, `dGamma = Σg·x̂`, `gamma` and `invStd`: the maps of
 * `dx = g·(γ·invstd) + x̂·(−dγ·k) − dβ·k`, `k = γ·invstd / count`.
 */
export const batchNormAffineGradSpec: ArrayKernelSpec = {
  inputs: ['dBeta', 'dGamma', 'gamma', 'invStd'],
  outputShapes: (shapes) => [shapes[0]!, shapes[0]!, shapes[0]!],
  compute([dBeta, dGamma, gamma, invStd], [upScale, xhatScale, shift], attrs) {
    const count = attrs['count'] as number;
    for (let c = 0; c < dBeta!.length; c++) {
      const s = gamma![c]! * invStd![c]!;
      const k = s / count;
      upScale![c] = s;
      xhatScale![c] = -dGamma![c]! * k;
      shift![c] = -dBeta![c]! * k;
    }
  },
};

/** Name of the kernel that updates both running statistics (wasm and cpu). */
export const BATCH_NORM_AFFINE_RUNNING = 'Tag2PixBatchNormAffineRunning';

/**
 * PyTorch's running averages in one call (the ops make six of a few hundred values each):
 * `mean' = (1 − momentum)·mean + momentum·batchMean`, `var' = (1 − momentum)·var +
 * momentum·n/(n − 1)·batchVar` (the biased batch variance enters unbiased).
 */
export const batchNormAffineRunningSpec: ArrayKernelSpec = {
  inputs: ['runningMean', 'runningVar', 'mean', 'variance'],
  outputShapes: (shapes) => [shapes[0]!, shapes[0]!],
  compute([runningMean, runningVar, mean, variance], [newMean, newVar], attrs) {
    const momentum = attrs['momentum'] as number;
    const count = attrs['count'] as number;
    const unbiased = (momentum * count) / (count - 1);
    for (let c = 0; c < mean!.length; c++) {
      newMean![c] = runningMean![c]! * (1 - momentum) + mean![c]! * momentum;
      newVar![c] = runningVar![c]! * (1 - momentum) + variance![c]! * unbiased;
    }
  },
};

/** Runs one of the coefficient kernels. */
function coefficients(name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number>): tf.Tensor1D[] {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor1D[];
}

/** Normalisation with given (running) statistics, no gradient of its own beyond the ops'. */
export function affineBatchNormInference(
  x: tf.Tensor4D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  activation: 'linear' | 'relu',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [scale, shift] = coefficients(BATCH_NORM_AFFINE, { mean, variance, gamma, beta }, { epsilon });
    return channelAffine(x, scale!, shift!, activation);
  });
}

/** Training-mode BatchNorm (batch statistics) and its activation, with the gradient above. */
export function affineBatchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  activation: 'linear' | 'relu',
): BatchNormTrainingResult<tf.Tensor4D> {
  const axes = [0, 1, 2];
  const count = x.size / x.shape[3];
  // Without a tape (batch statistics in inference: the CIT extractor), x − m as the 1×1 depthwise
  // map x·1 + (−m), exact: a 256 px colourisation was faster so in 6 of 6 alternating runs (by
  // 1–14 %); in training the broadcast subtraction is as fast or faster (docs/performance.md).
  const centreByAffine = !tf.engine().isTapeOn();
  // The statistics, the gradient sums and the input gradient as one loop each
  // (src/kernels/batch_norm_passes.ts) where the backend has them; the compositions otherwise.
  const passes = batchNormPassesHandle(x.shape) && hasArrayKernel(CHANNEL_MOMENTS);
  const relu = activation === 'relu';
  return withBatchStatistics((keepStatistics) => {
    const normalise = customGrad(((input: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
      let m: tf.Tensor1D;
      let v: tf.Tensor1D;
      if (passes) {
        [m, v] = tf.engine().runKernel(CHANNEL_MOMENTS, { x: input }) as [tf.Tensor1D, tf.Tensor1D];
      } else {
        m = tf.mean(input, axes) as tf.Tensor1D;
        // Centred before squaring, as the composition: no cancellation in the variance.
        const centred = centreByAffine ? channelAffine(input, tf.onesLike(m), tf.neg(m), 'linear') : tf.sub(input, m);
        v = tf.mean(tf.square(centred), axes) as tf.Tensor1D;
      }
      const [scale, shift, invStd, xhatShift] = coefficients(BATCH_NORM_AFFINE, { mean: m, variance: v, gamma: g, beta: b }, { epsilon });
      keepStatistics(m, v);
      save([input, invStd!, xhatShift!, g, b]);
      return {
        value: channelAffine(input, scale!, shift!, activation),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [xs, is, xs0, gs, bs] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
          if (passes) {
            const perChannel = { x: xs, dy: dy as tf.Tensor4D, invStd: is, xhatShift: xs0, gamma: gs, beta: bs };
            const [dBeta, dGamma] = tf.engine().runKernel(BATCH_NORM_GRAD_SUMS, perChannel, gradAttrs(relu)) as [tf.Tensor1D, tf.Tensor1D];
            const [upScale, xhatScale, dxShift] = coefficients(BATCH_NORM_AFFINE_GRAD, { dBeta, dGamma, gamma: gs, invStd: is }, { count });
            const dx = tf.engine().runKernel(
              BATCH_NORM_GRAD_INPUT, { ...perChannel, upScale: upScale!, xhatScale: xhatScale!, dxShift: dxShift! }, gradAttrs(relu),
            ) as tf.Tensor4D;
            return [dx, dGamma, dBeta];
          }
          const xhat = channelAffine(xs, is, xs0, 'linear');
          let up = dy as tf.Tensor4D;
          if (relu) up = tf.mul(up, tf.step(channelAffine(xhat, gs, bs, 'linear'))) as tf.Tensor4D;
          const dBeta = tf.sum(up, axes) as tf.Tensor1D;
          const dGamma = tf.sum(tf.mul(up, xhat), axes) as tf.Tensor1D;
          const [upScale, xhatScale, dxShift] = coefficients(BATCH_NORM_AFFINE_GRAD, { dBeta, dGamma, gamma: gs, invStd: is }, { count });
          const dx = tf.add(channelAffine(up, upScale!, undefined, 'linear'), channelAffine(xhat, xhatScale!, dxShift!, 'linear'));
          return [dx, dGamma, dBeta];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return normalise(x, gamma, beta) as tf.Tensor4D;
  });
}

/** PyTorch's running averages through {@link BATCH_NORM_AFFINE_RUNNING} (`[newMean, newVar]`). */
export function affineRunningStatistics(
  running: { runningMean: tf.Tensor1D; runningVar: tf.Tensor1D },
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  momentum: number,
  count: number,
): { newRunningMean: tf.Tensor1D; newRunningVar: tf.Tensor1D } {
  const [newRunningMean, newRunningVar] = coefficients(
    BATCH_NORM_AFFINE_RUNNING,
    { runningMean: running.runningMean, runningVar: running.runningVar, mean, variance },
    { momentum, count },
  );
  return { newRunningMean: newRunningMean!, newRunningVar: newRunningVar! };
}
