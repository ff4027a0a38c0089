// The squeeze (spatial mean) and channel scale of SE/SECat on webgpu
// (src/kernels/webgpu/squeeze_excitation.ts) against their compositions: values, gradients, a
// whole SECat layer, a finite-difference check, one dispatch each.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECat } from '../../../src/layers/squeeze_excitation.js';
import { SPATIAL_MEAN, hasOwnKernel } from '../../../src/kernels/own_kernels.js';
import { scaleChannels, spatialMean } from '../../../src/ops/channel_scale.js';
import { checkGradients, randomTensor } from '../../helpers/gradcheck.js';
import { randomizeTrainableWeights } from '../../helpers/randomize.js';
import { dispatchesOf, relativeDiff, startWebGPUForTests, withComposites } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

describe('squeeze and channel scale on webgpu', () => {
  it('are registered for webgpu only', () => {
    expect(hasOwnKernel(SPATIAL_MEAN)).toBe(true);
    expect(tf.getKernel(SPATIAL_MEAN, 'wasm')).toBeUndefined();
  });

  it('equal the composition in value and gradients', async () => {
    const x = randomTensor([2, 5, 3, 7], 1) as tf.Tensor4D;
    const s = randomTensor([2, 7], 2) as tf.Tensor2D;
    const probe = randomTensor([2, 5, 3, 7], 3);
    const probeZ = randomTensor([2, 7], 4);
    const run = () => {
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.add(tf.sum(tf.mul(scaleChannels(a as tf.Tensor4D, b as tf.Tensor2D), probe)), tf.sum(tf.mul(spatialMean(a as tf.Tensor4D), probeZ)));
      return [spatialMean(x), scaleChannels(x, s), ...tf.grads(f)([x, s])];
    };
    const ours = run();
    const composed = await withComposites(run);
    for (const [i, name] of ['mean', 'scaled', 'dx', 'ds'].entries()) {
      expect(await relativeDiff(ours[i]!, composed[i]!), name).toBeLessThan(1e-5);
    }
    tf.dispose([x, s, probe, probeZ, ...ours, ...composed]);
  });

  it('give a SECat layer the composition\'s output and gradients', async () => {
    const layer = new SECat({ reduction: 4 });
    const x = randomTensor([2, 4, 4, 16], 5) as tf.Tensor4D;
    const tag = randomTensor([2, 8], 6) as tf.Tensor2D;
    layer.apply([x, tag]);
    randomizeTrainableWeights(layer, 7);
    const run = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply([x, tag]) as tf.Tensor)) as tf.Scalar);
      return [value, ...Object.values(grads)];
    };
    const ours = run();
    const composed = await withComposites(run);
    for (const [i, t] of ours.entries()) expect(await relativeDiff(t, composed[i]!), `output ${i}`).toBeLessThan(1e-5);
    tf.dispose([x, tag, ...ours, ...composed]);
  });

  it('pass a finite-difference gradient check', async () => {
    const x = randomTensor([2, 3, 2, 4], 8) as tf.Tensor4D;
    const s = randomTensor([2, 4], 9) as tf.Tensor2D;
    const f = (xs: tf.Tensor[]) => [scaleChannels(xs[0] as tf.Tensor4D, xs[1] as tf.Tensor2D), spatialMean(xs[0] as tf.Tensor4D)];
    expect(await checkGradients(f, [x, s])).toBeGreaterThanOrEqual(10);
    tf.dispose([x, s]);
  });

  it('take one dispatch each, gradients included', async () => {
    const x = randomTensor([2, 8, 8, 32], 10) as tf.Tensor4D;
    const s = randomTensor([2, 32], 11) as tf.Tensor2D;
    expect(await dispatchesOf(() => spatialMean(x))).toBe(1);
    expect(await dispatchesOf(() => scaleChannels(x, s))).toBe(1);
    const dy = randomTensor(x.shape, 12);
    // The ones (1), forward (1), the product with dy and its gradient (2), then the two
    // gradients of the scale (1 each).
    const scaleGrads = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.mul(scaleChannels(a as tf.Tensor4D, b as tf.Tensor2D), dy))([x, s], tf.onesLike(dy));
    expect(await dispatchesOf(scaleGrads)).toBeLessThanOrEqual(6);
    expect(await withComposites(() => dispatchesOf(scaleGrads))).toBeGreaterThan(await dispatchesOf(scaleGrads));
    const meanGrad = () => tf.grads((a: tf.Tensor) => spatialMean(a as tf.Tensor4D))([x], tf.onesLike(s));
    expect(await dispatchesOf(meanGrad)).toBeLessThanOrEqual(3);
    tf.dispose([x, s, dy]);
  });
});
