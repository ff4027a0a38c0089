import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { GroupedConv2D } from '../../src/index.js';
import { composedGroupedConvForTest, conv2dTorch } from '../../src/ops/conv.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectMatchesReference, referenceConv2d } from '../helpers/reference.js';
import { expectLayerRoundTrip } from '../helpers/roundtrip.js';

describe('conv2dTorch', () => {
  const cases = [
    { c: 8, out: 8, k: 3, stride: 1, padding: 1, groups: 4, h: 5 }, // 2 per group: depthwise + sum
    { c: 16, out: 8, k: 3, stride: 2, padding: 1, groups: 2, h: 6 }, // 8 per group: split/concat
    { c: 8, out: 16, k: 3, stride: 2, padding: 1, groups: 2, h: 7 },
    { c: 6, out: 12, k: 3, stride: 2, padding: 0, groups: 6, h: 8 }, // depthwise, multiplier 2
    { c: 4, out: 6, k: 1, stride: 1, padding: 0, groups: 1, h: 3 },
    { c: 3, out: 4, k: 7, stride: 2, padding: 3, groups: 1, h: 9 },
  ];
  for (const cs of cases) {
    it(`matches the nested-loop reference: ${JSON.stringify(cs)}`, async () => {
      await expectMatchesReference(
        (x, k) => conv2dTorch(x, k, cs),
        (x, xShape, k, kShape) => referenceConv2d(x, xShape, k, kShape, cs.stride, cs.padding, cs.groups),
        [2, cs.h, cs.h + 1, cs.c],
        [cs.k, cs.k, cs.c / cs.groups, cs.out],
        1,
      );
    });
  }

  it('pads symmetrically like PyTorch for stride 2, not like TF "same"', async () => {
    // A 4×4 ramp, 3×3 all-ones kernel, stride 2, padding 1: PyTorch's first output window covers
    // rows/cols -1..1, i.e. the 2×2 top-left corner.
    const x = tf.reshape(tf.range(0, 16), [1, 4, 4, 1]) as tf.Tensor4D;
    const k = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
    const y = conv2dTorch(x, k, { stride: 2, padding: 1 });
    expect(Array.from((await y.data()))).toEqual([0 + 1 + 4 + 5, 1 + 2 + 3 + 5 + 6 + 7, 4 + 5 + 8 + 9 + 12 + 13, 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15]);
  });

  for (const groups of [1, 2]) {
    it(`adds its bias per output channel, with its gradient (groups ${groups})`, async () => {
      const x = randomTensor([2, 5, 6, 4], 11) as tf.Tensor4D;
      const k = randomTensor([3, 3, 4 / groups, 6], 12) as tf.Tensor4D;
      const bias = randomTensor([6], 13) as tf.Tensor1D;
      const options = { stride: 2, padding: 1, groups };
      const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(conv2dTorch(x, k, { ...options, bias }), tf.add(conv2dTorch(x, k, options), bias)))));
      expect((await difference.data())[0]).toBeLessThan(1e-5);
      difference.dispose();
      const n = await checkGradients(([xi, ki, bi]) => conv2dTorch(xi as tf.Tensor4D, ki as tf.Tensor4D, { ...options, bias: bi as tf.Tensor1D }), [x, k, bias]);
      expect(n).toBeGreaterThan(0);
      tf.dispose([x, k, bias]);
    });
  }

  it('is, composed, bit for bit a depthwise convolution and a sum over each group', async () => {
    // 4 inputs per group: on wasm the power-of-two case, a mean over a filter scaled by 4. Where
    // a kernel of this library's runs instead (test/kernels/grouped_conv.test.ts), it is compared
    // with this composition.
    const x = randomTensor([2, 6, 7, 8], 21) as tf.Tensor4D;
    const k = randomTensor([3, 3, 4, 6], 22) as tf.Tensor4D;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
    const y = tf.tidy(() => composedGroupedConvForTest(x, k, 2, 1, pad));
    const expected = tf.tidy(() => {
      const filter = tf.reshape(tf.transpose(tf.reshape(k, [3, 3, 4, 2, 3]), [0, 1, 3, 2, 4]), [3, 3, 8, 3]) as tf.Tensor4D;
      return tf.reshape(tf.sum(tf.reshape(tf.depthwiseConv2d(x, filter, 1, pad), [2, 6, 7, 2, 4, 3]), 4), [2, 6, 7, 6]);
    });
    expect(Array.from(await y.data())).toEqual(Array.from(await expected.data()));
    tf.dispose([x, k, y, expected]);
  });

  it('names the problem when the bias does not have one value per output channel', () => {
    const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    const k = tf.zeros([3, 3, 2, 8]) as tf.Tensor4D;
    expect(() => conv2dTorch(x, k, { bias: tf.zeros([4]) as tf.Tensor1D })).toThrow(/bias must be \[8\] \(one value per output channel\), got \[4\]/);
  });

  it('names the problem when channels do not fit the groups', () => {
    const x = tf.zeros([1, 4, 4, 6]) as tf.Tensor4D;
    const k = tf.zeros([3, 3, 2, 8]) as tf.Tensor4D;
    expect(() => conv2dTorch(x, k, { groups: 4 })).toThrow(/divisible by groups=4/);
  });
});

describe('GroupedConv2D', () => {
  it('has a really grouped kernel and the PyTorch output shape', () => {
    const layer = new GroupedConv2D({ filters: 32, kernelSize: 3, strides: 2, padding: 1, groups: 16 });
    const y = layer.apply(tf.zeros([3, 9, 10, 64])) as tf.Tensor;
    expect(y.shape).toEqual([3, 5, 5, 32]);
    expect(layer.getWeights()[0].shape).toEqual([3, 3, 4, 32]);
    expect(layer.countParams()).toBe(3 * 3 * 4 * 32 + 32);
    expect(layer.computeOutputShape([null, 9, 10, 64])).toEqual([null, 5, 5, 32]);
    expect(layer.torchParams().map((p) => p.key)).toEqual(['weight', 'bias']);
  });

  it('group g only sees input channels of group g', async () => {
    const layer = new GroupedConv2D({ filters: 4, kernelSize: 1, groups: 2, useBias: false });
    layer.build([null, 1, 1, 4]);
    layer.setWeights([tf.ones([1, 1, 2, 4])]);
    const y = layer.apply(tf.tensor4d([1, 10, 100, 1000], [1, 1, 1, 4])) as tf.Tensor;
    expect(Array.from((await y.data()))).toEqual([11, 11, 1100, 1100]);
  });

  it('rejects bad arguments with a clear message', () => {
    expect(() => new GroupedConv2D({ filters: 10, kernelSize: 3, groups: 4 })).toThrow(/filters \(10\)/);
    const layer = new GroupedConv2D({ filters: 8, kernelSize: 3, groups: 4 });
    expect(() => layer.apply(tf.zeros([1, 4, 4, 6]))).toThrow(/input channels \(6\)/);
  });

  it('passes a finite-difference gradient check (input, kernel, bias)', async () => {
    const layer = new GroupedConv2D({ filters: 8, kernelSize: 3, strides: 2, padding: 1, groups: 4 });
    const x = randomTensor([2, 5, 5, 8], 3);
    layer.apply(x);
    const n = await checkGradients((xs) => layer.apply(xs[0]) as tf.Tensor, [x], layer.trainableWeights);
    expect(n).toBeGreaterThan(10);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    const layer = new GroupedConv2D({ filters: 8, kernelSize: 3, padding: 1, groups: 2 });
    await expectLayerRoundTrip(layer, [6, 6, 8], randomTensor([2, 6, 6, 8], 4));
  });
});
