import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad.js';

/** Output of {@link batchNormTraining} (and of the other training BatchNorms). */
export interface BatchNormTrainingResult<Y extends tf.Tensor = tf.Tensor> {
  /** The normalised tensor, differentiable with respect to `x`, `gamma` and `beta`. */
  y: Y;
  /** Batch mean per channel (not on the gradient tape). */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel (not on the gradient tape). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation over the last axis with a hand-written gradient:
 * `y = (x − mean) · gamma / sqrt(var + eps) + beta` with the batch's own statistics.
 *
 * Composed from ops, the same computation leaves about six activation-sized tensors per layer
 * on the gradient tape (the centred input, its square, the products …). Here the tape keeps
 * only `x` and three per-channel vectors; the backward pass recomputes the normalised input:
 * `dx = gamma·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂))`, `dgamma = Σ(dy·x̂)`, `dbeta = Σdy`.
 * The statistics come back for running averages, outside the tape.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
): BatchNormTrainingResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  return withBatchStatistics((keepStatistics) => {
    const normalise = customGrad(((input: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, save: tf.GradSaveFunc) => {
      const m = tf.mean(input, axes) as tf.Tensor1D;
      const centred = tf.sub(input, m);
      const v = tf.mean(tf.square(centred), axes) as tf.Tensor1D;
      const invstd = tf.rsqrt(tf.add(v, epsilon));
      const y = tf.add(tf.mul(centred, tf.mul(scale, invstd)), shift);
      keepStatistics(m, v);
      save([input, m, invstd, scale]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const g = dy as tf.Tensor;
          const [xs, ms, is, sc] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const xhat = tf.mul(tf.sub(xs, ms), is);
          const dBeta = tf.sum(g, axes);
          const dGamma = tf.sum(tf.mul(g, xhat), axes);
          const k = tf.div(tf.mul(sc, is), count);
          const dx = tf.mul(
            tf.sub(tf.sub(tf.mul(g, count), dBeta), tf.mul(xhat, dGamma)),
            k,
          );
          return [dx, dGamma, dBeta];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return normalise(x, gamma, beta);
  });
}

/**
 * Runs a training BatchNorm whose forward pass hands its batch statistics to `keepStatistics`
 * (which keeps them past the forward pass's scope, for the running averages), and returns its
 * output with them. They are kept tensors, so they are freed again when the call fails part-way
 * (e.g. the wasm heap is full).
 */
export function withBatchStatistics<Y extends tf.Tensor>(
  run: (keepStatistics: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void) => Y,
): BatchNormTrainingResult<Y> {
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  try {
    const y = run((m, v) => {
      mean = tf.keep(m);
      variance = tf.keep(v);
    });
    return { y, mean: mean!, variance: variance! };
  } catch (err) {
    tf.dispose([mean, variance].filter((t): t is tf.Tensor1D => t != null));
    throw err;
  }
}
