import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../kernels/custom_grad.js';

// tf.customGrad's parameter type takes a variadic function; ours are binary.
type BinaryCustomGradient = (
  a: tf.Tensor,
  b: tf.Tensor,
  save: tf.GradSaveFunc,
) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

function customBinary(f: BinaryCustomGradient): (a: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  const g = customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]);
  return (a, b) => g(a, b);
}

/**
 * What a classifier output holds: `probabilities` (after a sigmoid, as the reference
 * discriminator returns them) or `logits` (before it; numerically stable at the extremes).
 */
export type LossInput = 'probabilities' | 'logits';

/** PyTorch's `BCELoss` clamps each log term at -100 so that p = 0 or 1 gives a finite loss. */
export const BCE_LOG_CLAMP = -100;

// PyTorch's BCELoss backward divides by max(p·(1 − p), 1e-12).
const BCE_GRAD_EPSILON = 1e-12;

function checkSameShape(fn: string, prediction: tf.Tensor, target: tf.Tensor): void {
  if (prediction.shape.join(',') !== target.shape.join(',')) {
    throw new Error(
      `${fn}: prediction shape [${prediction.shape.join(', ')}] and target shape ` +
        `[${target.shape.join(', ')}] differ; pass a target of the prediction's shape ` +
        `(e.g. tf.onesLike(prediction) for "real").`,
    );
  }
  if (prediction.size === 0) {
    throw new Error(`${fn}: the prediction is empty (shape [${prediction.shape.join(', ')}]).`);
  }
}

/**
 * Mean binary cross-entropy of probabilities, exactly as PyTorch's `nn.BCELoss()`:
 * `mean(−(t·max(log p, −100) + (1 − t)·max(log(1 − p), −100)))`, with PyTorch's gradient
 * `(p − t) / max(p·(1 − p), 1e-12) / n`, which stays finite at p = 0 and p = 1.
 */
export function binaryCrossEntropy(probabilities: tf.Tensor, target: tf.Tensor): tf.Scalar {
  checkSameShape('binaryCrossEntropy', probabilities, target);
  const n = probabilities.size;
  const clampedLogs = (p: tf.Tensor) => [
    tf.maximum(tf.log(p), BCE_LOG_CLAMP),
    tf.maximum(tf.log(tf.sub(1, p)), BCE_LOG_CLAMP),
  ];
  const f = customBinary((p: tf.Tensor, t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([p, t]);
    const [logP, log1mP] = clampedLogs(p);
    const perElement = tf.neg(tf.add(tf.mul(t, logP), tf.mul(tf.sub(1, t), log1mP)));
    return {
      value: tf.mean(perElement),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sp, st] = saved;
        const scale = tf.div(dy, n);
        const denominator = tf.maximum(tf.mul(sp, tf.sub(1, sp)), BCE_GRAD_EPSILON);
        const gradP = tf.mul(tf.div(tf.sub(sp, st), denominator), scale);
        const [lp, l1p] = clampedLogs(sp);
        const gradT = tf.mul(tf.sub(l1p, lp), scale);
        return [gradP, gradT];
      },
    };
  });
  return tf.tidy(() => f(probabilities, target) as tf.Scalar);
}

/**
 * Mean binary cross-entropy of logits (PyTorch's `BCEWithLogitsLoss()`), computed stably as
 * `max(z, 0) − z·t + log(1 + exp(−|z|))`; its gradient is `(sigmoid(z) − t) / n`.
 */
export function binaryCrossEntropyWithLogits(logits: tf.Tensor, target: tf.Tensor): tf.Scalar {
  checkSameShape('binaryCrossEntropyWithLogits', logits, target);
  const n = logits.size;
  const f = customBinary((z: tf.Tensor, t: tf.Tensor, save: tf.GradSaveFunc) => {
    save([z, t]);
    const perElement = tf.add(
      tf.sub(tf.relu(z), tf.mul(z, t)),
      tf.log1p(tf.exp(tf.neg(tf.abs(z)))),
    );
    return {
      value: tf.mean(perElement),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sz, st] = saved;
        const scale = tf.div(dy, n);
        return [tf.mul(tf.sub(tf.sigmoid(sz), st), scale), tf.mul(tf.neg(sz), scale)];
      },
    };
  });
  return tf.tidy(() => f(logits, target) as tf.Scalar);
}

/** Binary cross-entropy of `probabilities` or `logits` as `input` says. */
export function bce(prediction: tf.Tensor, target: tf.Tensor, input: LossInput): tf.Scalar {
  if (input === 'logits') return binaryCrossEntropyWithLogits(prediction, target);
  if (input === 'probabilities') return binaryCrossEntropy(prediction, target);
  throw new Error(`Unknown loss input "${String(input)}"; use 'probabilities' or 'logits'.`);
}

/**
 * Mean absolute error (PyTorch's `nn.L1Loss()`), with PyTorch's gradient `sign(a − b) / n`
 * (0 where the two are equal). With `pixelWeights` (`[N, H, W, 1]` for NHWC images, each ≥ 0, not all 0):
 * the weighted mean `Σ w·|a − b| / (C·Σ w)`, the same value as the plain mean where the weights
 * are uniform.
 */
export function l1Loss(prediction: tf.Tensor, target: tf.Tensor, pixelWeights?: tf.Tensor): tf.Scalar {
  checkSameShape('l1Loss', prediction, target);
  if (pixelWeights !== undefined) return weightedL1(prediction, target, pixelWeights);
  const n = prediction.size;
  const f = customBinary((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.mean(tf.abs(tf.sub(a, b))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = tf.mul(tf.sign(tf.sub(saved[0], saved[1])), tf.div(dy, n));
        return [g, tf.neg(g)];
      },
    };
  });
  return tf.tidy(() => f(prediction, target) as tf.Scalar);
}

function weightedL1(prediction: tf.Tensor, target: tf.Tensor, pixelWeights: tf.Tensor): tf.Scalar {
  const s = prediction.shape;
  const expected = [...s.slice(0, -1), 1];
  if (s.length !== 4 || pixelWeights.shape.join(',') !== expected.join(',')) {
    throw new Error(
      `l1Loss: pixelWeights must be [N, H, W, 1] for a prediction of shape [${s.join(', ')}] ` +
        `(one weight per pixel, shared by the channels), got [${pixelWeights.shape.join(', ')}].`,
    );
  }
  return tf.tidy(() => {
    const weighted = tf.sum(tf.mul(tf.abs(tf.sub(prediction, target)), pixelWeights));
    return tf.div(weighted, tf.mul(tf.sum(pixelWeights), s[3]!)) as tf.Scalar;
  });
}
