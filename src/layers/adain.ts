// AdaIN, the normalisation strategy of the paper's 'adain' decoder block (`GD_adain.py`): instance
// norm, then a per-channel scale and shift computed from the tag vector (internal).
import * as tf from '@tensorflow/tfjs-core';
import { initializers, type LayerVariable } from '@tensorflow/tfjs-layers';
import type { TorchWeightBuilder } from './torch_layer.js';

const INSTANCE_NORM_EPSILON = 1e-5;

/** One AdaIN's weights: the Linear producing `[gamma | beta]` from the tag. */
export interface AdaInParams {
  weightOrig: LayerVariable;
  bias: LayerVariable;
  fanIn: number;
}

/**
 * Adds an AdaIN for `channels` features and a `tagChannels`-wide tag under `key`, with the
 * reference's keys `style.linear.weight_orig` and `style.linear.bias`.
 */
export function buildAdaIn(b: TorchWeightBuilder, key: string, channels: number, tagChannels: number): AdaInParams {
  // StyleGAN's EqualLinear: weight ~ N(0, 1) scaled by sqrt(2 / fan_in) at run time; the bias
  // starts as gamma = 1, beta = 0.
  const weightOrig = b.weight(
    `${key}.style.linear.weight_orig`,
    [tagChannels, 2 * channels],
    'linear',
    initializers.randomNormal({ mean: 0, stddev: 1 }),
  );
  const bias = b.weight(`${key}.style.linear.bias`, [2 * channels], 'vector', initializers.zeros());
  const start = tf.tidy(() => tf.concat([tf.ones([channels]), tf.zeros([channels])]));
  bias.write(start);
  start.dispose();
  return { weightOrig, bias, fanIn: tagChannels };
}

/** Instance norm (biased variance, eps 1e-5, no affine), then `gamma·x + beta` from the tag. */
export function applyAdaIn(p: AdaInParams, x: tf.Tensor4D, tag: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const weight = tf.mul(p.weightOrig.read(), Math.sqrt(2 / p.fanIn));
    const style = tf.add(tf.matMul(tag, weight as tf.Tensor2D), p.bias.read());
    const [gamma, beta] = tf.split(style, 2, 1);
    const mean = tf.mean(x, [1, 2], true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), [1, 2], true);
    const normalised = tf.mul(centred, tf.rsqrt(tf.add(variance, INSTANCE_NORM_EPSILON)));
    return tf.add(
      tf.mul(normalised, tf.reshape(gamma!, [n, 1, 1, c])),
      tf.reshape(beta!, [n, 1, 1, c]),
    ) as tf.Tensor4D;
  });
}
