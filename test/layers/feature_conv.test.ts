import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FeatureConv } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { checkLayerGradients } from '../helpers/randomize.js';
import { expectLayerRoundTrip, maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, useReferenceFixture } from '../helpers/reference_fixture.js';

describe('FeatureConv', () => {
  it('halves the CIT features to the bottleneck size with the reference keys', () => {
    const layer = new FeatureConv();
    const y = layer.apply(tf.zeros([2, 8, 8, 512])) as tf.Tensor;
    expect(y.shape).toEqual([2, 4, 4, 256]);
    expect(layer.computeOutputShape([null, 32, 32, 512])).toEqual([null, 16, 16, 256]);
    expect(layer.computeOutputShape([null, 7, 7, 512])).toEqual([null, 4, 4, 256]);
    expect(layer.torchParams().map((p) => p.key)).toEqual([
      'network.0.weight', 'network.3.weight', 'network.6.weight',
      'network.1.weight', 'network.1.bias', 'network.1.running_mean', 'network.1.running_var',
      'network.4.weight', 'network.4.bias', 'network.4.running_mean', 'network.4.running_var',
    ]);
    expect(layer.torchIgnoredKeys()).toEqual(['network.1.num_batches_tracked', 'network.4.num_batches_tracked']);
    // Trainable: three bias-free convs and two BatchNorm affines.
    const trainable = layer.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, b) => a! * b!, 1)!, 0);
    expect(trainable).toBe(512 * 256 * 9 + 2 * 256 * 256 * 9 + 2 * 2 * 256);
  });

  it('without BatchNorm has the renumbered keys of the reference Sequential', () => {
    const layer = new FeatureConv({ filters: 4, batchNorm: false, strides: [2, 2] });
    const y = layer.apply(tf.zeros([1, 8, 8, 3])) as tf.Tensor;
    expect(y.shape).toEqual([1, 2, 2, 4]);
    expect(layer.torchParams().map((p) => p.key)).toEqual(['network.0.weight', 'network.2.weight', 'network.4.weight']);
  });

  it('uses running statistics at inference and batch statistics in training or batch-stats mode', async () => {
    const eval_ = new FeatureConv({ filters: 4 });
    const stats = new FeatureConv({ filters: 4, batchNormMode: 'batch-stats' });
    const x = randomTensor([2, 4, 4, 3], 31);
    eval_.apply(x);
    stats.apply(x);
    stats.setWeights(eval_.getWeights());
    const a = eval_.apply(x) as tf.Tensor;
    const b = stats.apply(x) as tf.Tensor;
    const c = eval_.apply(x, { training: true }) as tf.Tensor;
    expect(await maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    expect(await maxAbsDiff(b, c)).toBeLessThan(1e-5);
  });

  it('rejects bad arguments and inputs with a clear message', () => {
    expect(() => new FeatureConv({ strides: [2, 0] })).toThrow(/strides must be two positive integers/);
    expect(() => new FeatureConv().apply(tf.zeros([2, 8]))).toThrow(/NHWC input/);
  });

  it('passes a finite-difference gradient check (input and every weight)', async () => {
    const n = await checkLayerGradients(new FeatureConv({ filters: 3 }), randomTensor([2, 4, 4, 3], 32), 40, {
      eps: 1e-3,
      samples: 4,
    });
    expect(n).toBeGreaterThan(20);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    await expectLayerRoundTrip(new FeatureConv({ filters: 4, strides: [1, 2] }), [6, 6, 5], randomTensor([2, 6, 6, 5], 33));
  });

  it('does not leak tensors, in inference or training', () => {
    const layer = new FeatureConv({ filters: 3 });
    const x = randomTensor([2, 4, 4, 3], 34);
    expectNoTensorLeak(() => {
      tf.dispose(layer.apply(x) as tf.Tensor);
      tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    });
  });

  describe('parity with the reference Generator (generator_small, 64 px)', () => {
    const fixture = useReferenceFixture('generator_small');

    it('matches intermediate.featureConv (eval mode) within 1e-4', async () => {
      const ref = fixture.tensors;
      const layer = new FeatureConv();
      const x = nhwc(ref['input.feature_tensor']);
      layer.build(x.shape);
      loadTorchStateDict(layer, ref, { prefix: 'featureConv' });
      expect(await maxAbsDiff(layer.apply(x) as tf.Tensor, nhwc(ref['intermediate.featureConv']))).toBeLessThan(1e-4);
    });
  });
});
