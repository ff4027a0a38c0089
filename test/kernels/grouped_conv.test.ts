import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { GROUPED_CONV2D_DIRECT, GROUPED_CONV2D_FILTER_DIRECT } from '../../src/kernels/grouped_conv.js';
import { composedGroupedConvForTest, conv2dTorch } from '../../src/ops/conv.js';

type Pad = Parameters<typeof composedGroupedConvForTest>[4];
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const pad = (p: number): Pad => (p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]]);

/** [n, h, w, C], [kh, kw, groupIn, outC], stride, padding, groups; groupOut 2, 4, 8, 16 and 3. */
const CASES = [
  { x: [2, 9, 11, 8], k: [3, 3, 2, 8], stride: 1, padding: 1, groups: 4 },
  { x: [1, 8, 13, 16], k: [3, 3, 4, 16], stride: 1, padding: 1, groups: 4 },
  { x: [2, 9, 9, 16], k: [3, 3, 8, 16], stride: 2, padding: 1, groups: 2 },
  { x: [1, 6, 10, 32], k: [3, 3, 16, 32], stride: 1, padding: 1, groups: 2 },
  { x: [1, 7, 9, 12], k: [3, 3, 4, 9], stride: 1, padding: 1, groups: 3 },
] as const;

describe.each(['cpu', 'wasm'])('the direct grouped convolution on %s', (backend) => {
  it.each(CASES)('gives the composition\'s values and gradients, each in one kernel call where it applies: %o', async (cs) => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([...cs.x], 0, 1, 'float32', 3) as tf.Tensor4D;
    const kernel = tf.randomNormal([...cs.k], 0, 0.3, 'float32', 4) as tf.Tensor4D;
    const options = { stride: cs.stride, padding: cs.padding, groups: cs.groups };
    const profile = await tf.profile(() => conv2dTorch(x, kernel, options));
    const ours = profile.result as tf.Tensor4D;
    // Not wrapped in a tidy of its own (conv2dTorch's holds it): its intermediates go with this one.
    const theirs = tf.tidy(() => composedGroupedConvForTest(x, kernel, cs.groups, cs.stride, pad(cs.padding)));
    expect(ours.shape).toEqual(theirs.shape);
    expect(maxDiff(ours, theirs)).toBeLessThan(1e-5);
    // wasm's loop takes 2 or a multiple of 4 outputs per group; other counts keep the composition.
    const groupOut = cs.k[3] / cs.groups;
    const direct = backend === 'cpu' || groupOut === 2 || groupOut % 4 === 0;
    expect(profile.kernels.some((k) => k.name === GROUPED_CONV2D_DIRECT)).toBe(direct);

    // Gradients of a weighted sum, through the library's gradient (whose stride-1 input gradient
    // is itself a grouped conv) and through the composition's.
    const weights = tf.randomNormal(ours.shape, 0, 1, 'float32', 6);
    const loss = (f: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), weights));
    const gradients = await tf.profile(() => tf.grads(loss((a, b) => conv2dTorch(a, b, options)))([x, kernel]));
    const [dx, dk] = gradients.result as tf.Tensor[];
    // The filter gradient is one kernel of ours wherever the forward one is (groupIn is even here).
    expect(gradients.kernels.some((k) => k.name === GROUPED_CONV2D_FILTER_DIRECT)).toBe(direct);
    const [dxRef, dkRef] = tf.grads(loss((a, b) => composedGroupedConvForTest(a, b, cs.groups, cs.stride, pad(cs.padding))))([x, kernel]);
    expect(maxDiff(dx!, dxRef!)).toBeLessThan(1e-4);
    expect(maxDiff(dk!, dkRef!)).toBeLessThan(1e-4);
    tf.dispose([x, kernel, ours, theirs, weights, dx!, dk!, dxRef!, dkRef!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a non-float input in one line naming the input, and leaks nothing', async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const x = tf.zeros([1, 4, 4, 4], 'int32');
    const kernel = tf.zeros([3, 3, 2, 4]);
    expect(() => tf.engine().runKernel(GROUPED_CONV2D_DIRECT, { x, filter: kernel }, { stride: 1, padding: 1, groups: 2 })).toThrow(
      /input 'x' must be a float32 tensor/,
    );
    tf.dispose([x, kernel]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
