import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CVTEncoder, GuideDecoder, buildTag2PixGenerator } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, readReferenceFixture } from '../helpers/reference_fixture.js';

const FIXTURE_ENTRY = /^(input|output|intermediate)\./;

// generator_small: network.Generator(input_size=64, layers=[1,1,1,1]) in eval mode, with the
// output of every named child module.
describe('generator parity with the reference (generator_small, 64 px, eval)', () => {
  let ref: Record<string, tf.Tensor>;
  let generator: tfl.LayersModel;
  let inputs: tf.Tensor[];

  beforeAll(() => {
    ref = readReferenceFixture('generator_small');
    generator = buildTag2PixGenerator({ inputSize: 64, decoderLayers: [1, 1, 1, 1] });
    const report = loadTorchStateDict(generator, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    expect(report.missing).toEqual([]);
    inputs = [nhwc(ref['input.sketch']), nhwc(ref['input.feature_tensor']), ref['input.cvt']];
  });
  afterAll(() => {
    tf.dispose(Object.values(ref ?? {}));
    tf.dispose(inputs ?? []);
  });

  it('matches both outputs within 1e-4', async () => {
    const [color, guide] = generator.predict(inputs) as tf.Tensor[];
    expect(color.shape).toEqual([2, 64, 64, 3]);
    expect(await maxAbsDiff(color, nhwc(ref['output.full_output']))).toBeLessThan(1e-4);
    expect(await maxAbsDiff(guide, nhwc(ref['output.decoder_output']))).toBeLessThan(1e-4);
  });

  it('matches every intermediate (pre-tanh logits included) within 1e-4', async () => {
    // Reference child module → our layer whose output it equals.
    const layerOf: Record<string, string> = {
      conv1: 'conv1.3',
      conv2: 'conv2.3',
      conv3: 'conv3.3',
      conv4: 'conv4.3',
      conv5: 'conv5.3',
      featureConv: 'featureConv',
      deconv1: 'deconv1',
      deconv2: 'deconv2',
      deconv3: 'deconv3',
      deconv4: 'deconv4',
      'deconv5.2': 'deconv5.2',
      deconv5: 'deconv5.3',
      deconv_for_decoder: 'deconv_for_decoder',
    };
    const names = Object.keys(layerOf);
    const probe = tfl.model({
      inputs: generator.inputs,
      outputs: names.map((n) => generator.getLayer(layerOf[n]).output as tfl.SymbolicTensor),
    });
    const outs = probe.predict(inputs) as tf.Tensor[];
    for (const [i, n] of names.entries()) {
      const err = await maxAbsDiff(outs[i], nhwc(ref[`intermediate.${n}`]));
      expect(err, `intermediate.${n}`).toBeLessThan(1e-4);
    }

    // The CVT encoder: the raw Linear output (NCHW rows), colorConv and colorFC.
    const encoder = generator.getLayer('cvt_encoder') as CVTEncoder;
    const [colorConv, colorFC] = encoder.apply(inputs[2]) as tf.Tensor[];
    expect(await maxAbsDiff(encoder.linearOutput(inputs[2] as tf.Tensor2D), ref['intermediate.Linear'])).toBeLessThan(1e-4);
    expect(await maxAbsDiff(colorConv, nhwc(ref['intermediate.colorConv']))).toBeLessThan(1e-4);
    expect(await maxAbsDiff(colorFC, ref['intermediate.colorFC'])).toBeLessThan(1e-4);

    // The guide decoder's pre-tanh logits, from the same weights.
    const guide = generator.getLayer('deconv_for_decoder') as GuideDecoder;
    const logits = new GuideDecoder({ outputActivation: 'linear' });
    const deconv1 = outs[names.indexOf('deconv1')];
    logits.build(deconv1.shape);
    logits.setWeights(guide.getWeights());
    expect(await maxAbsDiff(logits.apply(deconv1) as tf.Tensor, nhwc(ref['intermediate.deconv_for_decoder.6']))).toBeLessThan(1e-4);
  });
});
