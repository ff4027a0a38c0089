import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { GuideDecoder } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { conv2dTransposeTorch } from '../../src/ops/conv.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { expectMatchesReference, referenceConvTranspose2d } from '../helpers/reference.js';
import { checkLayerGradients } from '../helpers/randomize.js';
import { expectLayerRoundTrip, maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, useReferenceFixture } from '../helpers/reference_fixture.js';

describe('conv2dTransposeTorch as the GuideDecoder uses it', () => {
  const cases = [
    { cin: 6, out: 4, stride: 2, padding: 1, outputPadding: 1, h: 3, w: 4 },
    { cin: 4, out: 3, stride: 1, padding: 1, outputPadding: 0, h: 5, w: 5 },
    { cin: 3, out: 2, stride: 2, padding: 1, outputPadding: 1, h: 1, w: 1 },
  ];
  for (const cs of cases) {
    it(`matches the nested-loop reference: ${JSON.stringify(cs)}`, async () => {
      await expectMatchesReference(
        (x, k) => conv2dTransposeTorch(x, k, cs),
        (x, xShape, k, kShape) => referenceConvTranspose2d(x, xShape, k, kShape, cs.stride, cs.padding, cs.outputPadding),
        [2, cs.h, cs.w, cs.cin],
        [3, 3, cs.out, cs.cin],
        11,
      );
    });
  }
});

describe('GuideDecoder', () => {
  it('doubles the size three times and has the reference keys and parameter count', () => {
    const layer = new GuideDecoder();
    const y = layer.apply(tf.zeros([2, 4, 3, 256])) as tf.Tensor;
    expect(y.shape).toEqual([2, 32, 24, 3]);
    expect(layer.computeOutputShape([null, 32, 32, 256])).toEqual([null, 256, 256, 3]);
    expect(layer.torchParams().map((p) => p.key)).toEqual([
      '0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias', '6.weight', '6.bias',
    ]);
    // PyTorch ConvTranspose2d weights [in, out, 3, 3] in the tf layout [3, 3, out, in].
    expect(layer.getWeights()[0].shape).toEqual([3, 3, 128, 256]);
    expect(layer.countParams()).toBe(
      256 * 128 * 9 + 128 + 128 * 64 * 9 + 64 + 64 * 32 * 9 + 32 + 32 * 3 * 9 + 3,
    );
  });

  it('supports other widths and returns logits with outputActivation linear', async () => {
    const tanh = new GuideDecoder({ filters: [8, 4], outputChannels: 2 });
    const linear = new GuideDecoder({ filters: [8, 4], outputChannels: 2, outputActivation: 'linear' });
    const x = randomTensor([1, 3, 3, 5], 21);
    tanh.apply(x);
    linear.apply(x);
    linear.setWeights(tanh.getWeights());
    const logits = linear.apply(x) as tf.Tensor;
    expect(logits.shape).toEqual([1, 12, 12, 2]);
    expect(await maxAbsDiff(tanh.apply(x) as tf.Tensor, tf.tanh(logits))).toBeLessThan(1e-6);
  });

  it('rejects bad arguments and inputs with a clear message', () => {
    expect(() => new GuideDecoder({ filters: [8, 0] })).toThrow(/filters\[1\] must be a positive integer, got 0/);
    expect(() => new GuideDecoder({ outputActivation: 'relu' as 'tanh' })).toThrow(/outputActivation must be one of tanh, linear/);
    expect(() => new GuideDecoder().apply(tf.zeros([2, 8]))).toThrow(/NHWC input/);
  });

  it('passes a finite-difference gradient check (input and every weight)', async () => {
    const layer = new GuideDecoder({ filters: [4, 3], outputChannels: 2 });
    const n = await checkLayerGradients(layer, randomTensor([2, 2, 3, 4], 22), 41, { eps: 1e-3, samples: 4 });
    expect(n).toBeGreaterThan(20);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    const layer = new GuideDecoder({ filters: [5, 4], outputActivation: 'linear' });
    await expectLayerRoundTrip(layer, [3, 3, 6], randomTensor([2, 3, 3, 6], 23));
  });

  it('does not leak tensors', () => {
    const layer = new GuideDecoder({ filters: [4], outputChannels: 2 });
    const x = randomTensor([1, 3, 3, 4], 24);
    expectNoTensorLeak(() => tf.dispose(layer.apply(x) as tf.Tensor));
  });

  describe('parity with the reference Generator (generator_small, 64 px)', () => {
    const fixture = useReferenceFixture('generator_small');

    it('matches deconv_for_decoder (and its pre-tanh logits) from deconv1 within 1e-4', async () => {
      const ref = fixture.tensors;
      const layer = new GuideDecoder();
      const logits = new GuideDecoder({ outputActivation: 'linear' });
      const x = nhwc(ref['intermediate.deconv1']);
      for (const l of [layer, logits]) {
        l.build(x.shape);
        loadTorchStateDict(l, ref, { prefix: 'deconv_for_decoder' });
      }
      expect(await maxAbsDiff(layer.apply(x) as tf.Tensor, nhwc(ref['intermediate.deconv_for_decoder']))).toBeLessThan(1e-4);
      expect(await maxAbsDiff(logits.apply(x) as tf.Tensor, nhwc(ref['intermediate.deconv_for_decoder.6']))).toBeLessThan(1e-4);
    });
  });
});
