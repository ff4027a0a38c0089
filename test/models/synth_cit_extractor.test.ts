import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildSynthCitExtractor } from '../../src/models/synth_cit_extractor.js';
import { inferSynthCitExtractorConfig } from '../../src/models/infer_config.js';
import { exportTorchStateDict } from '../../src/io/torch_state_dict.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';

describe('buildSynthCitExtractor', () => {
  it('maps line art to features and region logits at S/8 and CIT logits', () => {
    const model = buildSynthCitExtractor({ inputSize: 32, widths: [4, 8, 8], featureChannels: 6, regions: 10, citCount: 12 });
    expect(model.inputs.map((i) => i.shape)).toEqual([[null, 32, 32, 1]]);
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 4, 4, 6], [null, 4, 4, 10], [null, 12]]);
    model.dispose();
  });

  it('is seeded: the same seed gives the same weights, another seed others', async () => {
    const weights = (seed: number) => buildSynthCitExtractor({ inputSize: 16, seed }).getWeights();
    const [a, b, c] = [weights(3), weights(3), weights(4)];
    expect(await maxAbsDiff(a, b)).toBe(0);
    expect(await maxAbsDiff(a, c)).toBeGreaterThan(0);
    tf.dispose([...a, ...b, ...c]);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    const model = buildSynthCitExtractor({ inputSize: 16, widths: [4, 4, 8], featureChannels: 8, citCount: 5 });
    const restored = await saveAndLoad(model);
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 7);
    const before = tf.memory().numTensors;
    const [ya, yb] = [model.predict(x) as tf.Tensor[], restored.predict(x) as tf.Tensor[]];
    expect(await maxAbsDiff(ya, yb)).toBe(0);
    tf.dispose([...ya, ...yb]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
  });

  it('standardises its features with featureNorm unless told not to; the state dict says which', () => {
    const withNorm = buildSynthCitExtractor({ inputSize: 16, featureChannels: 6 });
    const without = buildSynthCitExtractor({ inputSize: 16, featureChannels: 6, featureNorm: false });
    expect(withNorm.getLayer('featureNorm').getClassName()).toBe('BatchNormalization');
    expect(() => without.getLayer('featureNorm')).toThrow();
    // The key shapes, as a saved file's header gives them to the loader.
    const dictShapes = (m: typeof withNorm) => {
      const dict = exportTorchStateDict(m);
      const out = Object.fromEntries(Object.entries(dict).map(([k, t]) => [k, { shape: t.shape }]));
      tf.dispose(Object.values(dict));
      return out;
    };
    const [a, b] = [Object.keys(dictShapes(withNorm)), Object.keys(dictShapes(without))];
    expect(a).toEqual(expect.arrayContaining(['featureNorm.weight', 'featureNorm.bias', 'featureNorm.running_mean', 'featureNorm.running_var']));
    expect(b.filter((k) => k.startsWith('featureNorm'))).toEqual([]);
    expect(inferSynthCitExtractorConfig(dictShapes(withNorm), 16).featureNorm).toBe(true);
    expect(inferSynthCitExtractorConfig(dictShapes(without), 16).featureNorm).toBe(false);
    withNorm.dispose();
    without.dispose();
  });

  it('names the bad option and the fix', () => {
    expect(() => buildSynthCitExtractor({ inputSize: 20 })).toThrow(/inputSize must be a multiple of 8.*got 20/);
    expect(() => buildSynthCitExtractor({ inputSize: 16, widths: [4, 8] as never })).toThrow(/widths must list 3/);
    expect(() => buildSynthCitExtractor({ inputSize: 16, featureChannels: 0 })).toThrow(/featureChannels must be a positive integer/);
    expect(() => buildSynthCitExtractor({ inputSize: 16, width: 2 } as never)).toThrow(/unknown option 'width'/);
  });
});
