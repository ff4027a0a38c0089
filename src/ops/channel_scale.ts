import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../kernels/custom_grad.js';
import { SPATIAL_DOT, SPATIAL_MEAN, SPATIAL_MEAN_GRAD, hasOwnKernel } from '../kernels/own_kernels.js';

/*
 * The two activation-sized steps of squeeze-and-excitation on NHWC tensors: the squeeze
 * (spatial mean) and the channel scale. Where the backend has this library's kernels (webgpu)
 * each step and each gradient is one dispatch; elsewhere they are the usual ops.
 */

/** `mean(x, [1, 2])` of an NHWC tensor: `[N, H, W, C] → [N, C]`. */
export function spatialMean(x: tf.Tensor4D): tf.Tensor2D {
  if (!hasOwnKernel(SPATIAL_MEAN) || x.dtype !== 'float32') return tf.mean(x, [1, 2]) as tf.Tensor2D;
  const engine = tf.engine();
  const mean = customGrad(((input: tf.Tensor) => ({
    value: engine.runKernel(SPATIAL_MEAN, { x: input }, {}) as tf.Tensor,
    gradFunc: (dz: tf.Tensor | tf.Tensor[]) =>
      engine.runKernel(SPATIAL_MEAN_GRAD, { dz: dz as tf.Tensor }, { inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (mean as unknown as (a: tf.Tensor) => tf.Tensor2D)(x);
}

/** `x · scale[n, c]` for NHWC `x` and a per-sample, per-channel `scale` `[N, C]`. */
export function scaleChannels(x: tf.Tensor4D, scale: tf.Tensor2D): tf.Tensor4D {
  const [n, , , c] = x.shape;
  if (!hasOwnKernel(SPATIAL_DOT) || x.dtype !== 'float32') {
    return tf.mul(x, tf.reshape(scale, [n, 1, 1, c])) as tf.Tensor4D;
  }
  const engine = tf.engine();
  const scaled = customGrad(((input: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input, s]);
    return {
      value: tf.mul(input, tf.reshape(s, [n, 1, 1, c])),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
        const g = dy as tf.Tensor;
        return [tf.mul(g, tf.reshape(ss, [n, 1, 1, c])), engine.runKernel(SPATIAL_DOT, { dy: g, x: xs }, {}) as tf.Tensor];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (scaled as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor4D)(x, scale);
}
