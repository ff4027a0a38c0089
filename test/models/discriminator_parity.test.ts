import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTag2PixDiscriminator } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, readReferenceFixture } from '../helpers/reference_fixture.js';

const FIXTURE_ENTRY = /^(input|output|intermediate)\./;

describe('discriminator parity with the reference (discriminator_small, 64 px, eval)', () => {
  let ref: Record<string, tf.Tensor>;
  let x: tf.Tensor;
  beforeAll(() => {
    ref = readReferenceFixture('discriminator_small');
    x = nhwc(ref['input.x']);
  });
  afterAll(() => tf.dispose([...Object.values(ref ?? {}), x]));

  it('matches the three sigmoid outputs and every intermediate within 1e-4', async () => {
    const d = buildTag2PixDiscriminator({ inputSize: 64 });
    loadTorchStateDict(d, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    const [adv, cit, cvt] = d.predict(x) as tf.Tensor[];
    expect(adv.shape).toEqual([2, 1]);
    expect(await maxAbsDiff(adv, ref['output.adv'])).toBeLessThan(1e-4);
    expect(await maxAbsDiff(cit, ref['output.cit'])).toBeLessThan(1e-4);
    expect(await maxAbsDiff(cvt, ref['output.cvt'])).toBeLessThan(1e-4);

    const layerOf: Record<string, string> = {
      conv1: 'conv1.3',
      conv2: 'conv2.2',
      conv3: 'conv3.2',
      conv4: 'conv4.2',
      conv5: 'conv5.2',
      conv6: 'conv6.0.0',
      conv7: 'conv7.0.0',
      conv8: 'conv8.0.0',
    };
    const names = Object.keys(layerOf);
    const probe = tfl.model({ inputs: d.inputs, outputs: names.map((n) => d.getLayer(layerOf[n]).output as tfl.SymbolicTensor) });
    const outs = probe.predict(x) as tf.Tensor[];
    for (const [i, n] of names.entries()) {
      expect(await maxAbsDiff(outs[i], nhwc(ref[`intermediate.${n}`])), `intermediate.${n}`).toBeLessThan(1e-4);
    }
  });

  it('exposes logits whose sigmoid is the reference output, alone or with the probabilities', async () => {
    const logits = buildTag2PixDiscriminator({ inputSize: 64, outputs: 'logits' });
    const both = buildTag2PixDiscriminator({ inputSize: 64, outputs: 'both' });
    loadTorchStateDict(logits, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    loadTorchStateDict(both, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    const l = logits.predict(x) as tf.Tensor[];
    const b = both.predict(x) as tf.Tensor[];
    expect(b.length).toBe(6);
    for (const [i, name] of ['adv', 'cit', 'cvt'].entries()) {
      expect(await maxAbsDiff(tf.sigmoid(l[i]), ref[`output.${name}`]), name).toBeLessThan(1e-4);
      expect(await maxAbsDiff(b[i], ref[`output.${name}`]), name).toBeLessThan(1e-4);
      expect(await maxAbsDiff(b[i + 3], l[i]), name).toBeLessThan(1e-6);
    }
    // Logits are not squashed: some are negative.
    const lowest = tf.min(l[1]);
    expect((await lowest.data())[0]).toBeLessThan(0);
    lowest.dispose();
  });
});
