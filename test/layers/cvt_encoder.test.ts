import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CVTEncoder } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { checkLayerGradients } from '../helpers/randomize.js';
import { expectLayerRoundTrip, maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, useReferenceFixture } from '../helpers/reference_fixture.js';

const CVT_KEYS = /^(Linear|colorConv|colorFC)\./;

describe('CVTEncoder', () => {
  it('gives the spatial feature and the SECat vector with the PyTorch shapes and keys', () => {
    const layer = new CVTEncoder({ spatialSize: 16 });
    const [spatial, vector] = layer.apply(tf.zeros([3, 115])) as tf.Tensor[];
    expect(spatial.shape).toEqual([3, 16, 16, 64]);
    expect(vector.shape).toEqual([3, 64]);
    expect(layer.computeOutputShape([null, 115])).toEqual([
      [null, 16, 16, 64],
      [null, 64],
    ]);
    const keys = layer.torchParams().map((p) => p.key);
    expect(keys).toEqual([
      'Linear.weight', 'Linear.bias',
      'colorConv.0.weight', 'colorConv.0.bias', 'colorConv.2.weight', 'colorConv.2.bias',
      'colorConv.4.weight', 'colorConv.4.bias',
      'colorFC.0.weight', 'colorFC.0.bias', 'colorFC.1.weight', 'colorFC.1.bias',
      'colorFC.2.weight', 'colorFC.2.bias', 'colorFC.3.weight', 'colorFC.3.bias',
    ]);
    // Linear 115→8192, three convs, four Linears (the reference's 256 px sizes).
    const expected =
      115 * 8192 + 8192 + (32 * 9 * 64 + 64) + 2 * (64 * 9 * 64 + 64) + (115 * 64 + 64) + 3 * (64 * 64 + 64);
    expect(layer.countParams()).toBe(expected);
  });

  it('puts ReLUs between the colorFC layers (and renumbers their keys) with fcRelu', async () => {
    const plain = new CVTEncoder({ spatialSize: 1, linearChannels: 2, channels: 2, embeddingSize: 3 });
    const relu = new CVTEncoder({ spatialSize: 1, linearChannels: 2, channels: 2, embeddingSize: 3, fcRelu: true });
    plain.build([null, 4]);
    relu.build([null, 4]);
    expect(relu.torchParams().map((p) => p.key).filter((k) => k.startsWith('colorFC'))).toEqual([
      'colorFC.0.weight', 'colorFC.0.bias', 'colorFC.2.weight', 'colorFC.2.bias',
      'colorFC.4.weight', 'colorFC.4.bias', 'colorFC.6.weight', 'colorFC.6.bias',
    ]);
    relu.setWeights(plain.getWeights());
    // Negative first-layer outputs make the two differ.
    const w = plain.getWeights();
    const fc0 = plain.torchParams().findIndex((p) => p.key === 'colorFC.0.bias');
    w[fc0] = tf.fill([3], -10);
    plain.setWeights(w);
    relu.setWeights(w);
    const x = randomTensor([2, 4], 1, 0, 1);
    const a = (plain.apply(x) as tf.Tensor[])[1];
    const b = (relu.apply(x) as tf.Tensor[])[1];
    // With every first-layer output negative, the ReLU zeroes them: the rest is constant.
    const expectedB = tf.tidy(() => {
      let v: tf.Tensor = tf.zeros([2, 3]);
      for (const i of [1, 2, 3]) {
        const k = plain.torchParams().find((p) => p.key === `colorFC.${i}.weight`)!.variable.read();
        const bias = plain.torchParams().find((p) => p.key === `colorFC.${i}.bias`)!.variable.read();
        v = tf.add(tf.matMul(v as tf.Tensor2D, k as tf.Tensor2D), bias);
        if (i < 3) v = tf.relu(v);
      }
      return v;
    });
    expect(await maxAbsDiff(b, expectedB)).toBeLessThan(1e-6);
    expect(await maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
  });

  it('views the Linear output in PyTorch NCHW order', async () => {
    const layer = new CVTEncoder({ spatialSize: 2, linearChannels: 3, channels: 2, embeddingSize: 2 });
    layer.build([null, 1]);
    // Linear weight = 0, bias = 0..11: NCHW element (c, y, x) holds c·4 + y·2 + x.
    const w = layer.getWeights();
    w[0] = tf.zeros([1, 12]);
    w[1] = tf.range(0, 12);
    layer.setWeights(w);
    const flat = layer.linearOutput(tf.zeros([1, 1]) as tf.Tensor2D);
    expect(Array.from((await flat.data()))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('rejects bad arguments and inputs with a clear message', () => {
    expect(() => new CVTEncoder({ spatialSize: 0 })).toThrow(/spatialSize must be a positive integer/);
    const layer = new CVTEncoder({ spatialSize: 2 });
    expect(() => layer.apply(tf.zeros([1, 2, 2, 3]))).toThrow(/CVT multi-hot input \[batch, cvtCount\]/);
  });

  it('passes a finite-difference gradient check (input and every weight)', async () => {
    const layer = new CVTEncoder({ spatialSize: 2, linearChannels: 4, channels: 4, embeddingSize: 4, fcRelu: true });
    const n = await checkLayerGradients(layer, randomTensor([2, 5], 3, 0, 1), 42, { eps: 1e-3, samples: 3 });
    expect(n).toBeGreaterThan(40);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    const layer = new CVTEncoder({ spatialSize: 2, linearChannels: 4, channels: 6, embeddingSize: 5, fcRelu: true });
    await expectLayerRoundTrip(layer, [7], randomTensor([2, 7], 4, 0, 1));
  });

  it('does not leak tensors', () => {
    const layer = new CVTEncoder({ spatialSize: 2, linearChannels: 4, channels: 4, embeddingSize: 4 });
    const x = randomTensor([1, 5], 5, 0, 1);
    expectNoTensorLeak(() => tf.dispose(layer.apply(x) as tf.Tensor[]));
  });

  describe('parity with the reference Generator (generator_small, 64 px)', () => {
    const fixture = useReferenceFixture('generator_small');

    it('matches intermediate.Linear, colorConv and colorFC within 1e-4', async () => {
      const ref = fixture.tensors;
      const layer = new CVTEncoder({ spatialSize: 4 });
      layer.build([null, 115]);
      const report = loadTorchStateDict(layer, ref, { ignore: (k) => !CVT_KEYS.test(k) });
      expect(report.loaded.length).toBe(16);
      const cvt = ref['input.cvt'] as tf.Tensor2D;
      const [spatial, vector] = layer.apply(cvt) as tf.Tensor[];
      expect(await maxAbsDiff(layer.linearOutput(cvt), ref['intermediate.Linear'])).toBeLessThan(1e-4);
      expect(await maxAbsDiff(spatial, nhwc(ref['intermediate.colorConv']))).toBeLessThan(1e-4);
      expect(await maxAbsDiff(vector, ref['intermediate.colorFC'])).toBeLessThan(1e-4);
    });
  });
});
