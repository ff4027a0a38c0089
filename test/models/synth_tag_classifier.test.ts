import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildSynthTagClassifier } from '../../src/models/synth_tag_classifier.js';
import { pretrainTagClassifier } from '../../src/demo/tag_guide_pretrain.js';
import { generateCharacter } from '../../src/data/synth/index.js';

describe('buildSynthTagClassifier', () => {
  it('maps a colour image to one logit per CVT tag, at any batch size', () => {
    const model = buildSynthTagClassifier({ inputSize: 32 });
    const y = tf.tidy(() => (model.apply(tf.zeros([3, 32, 32, 3])) as tf.Tensor).shape);
    expect(y).toEqual([3, 115]);
    expect(model.outputs[0]!.shape).toEqual([null, 115]);
    model.dispose();
  });

  it('refuses a size that three stride-2 stages cannot halve', () => {
    expect(() => buildSynthTagClassifier({ inputSize: 30 })).toThrow(/inputSize must be a multiple of 8/);
    expect(() => buildSynthTagClassifier({ inputSize: 32, cvtCount: 0 })).toThrow(/cvtCount/);
  });

  it('is seeded: the same seed gives the same weights, another seed others', () => {
    const w = (seed: number) => {
      const m = buildSynthTagClassifier({ inputSize: 16, seed });
      const values = Array.from(m.getWeights()[0]!.dataSync());
      m.dispose();
      return values;
    };
    expect(w(4)).toEqual(w(4));
    expect(w(4)).not.toEqual(w(5));
  });
});

describe('pretrainTagClassifier', () => {
  it('trains the classifier in place on true colourings, with a finite loss, leaking nothing', async () => {
    const model = buildSynthTagClassifier({ inputSize: 32 });
    const samples = [0, 1, 2, 3].map((i) => generateCharacter(i, { size: 32, seed: 9 }));
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const n = tf.memory().numTensors;
    const losses: number[] = [];
    const last = await pretrainTagClassifier(model, { steps: 3, batchAt: () => samples, onStep: (_, loss) => losses.push(loss) });
    expect(losses).toHaveLength(3);
    expect(Number.isFinite(last)).toBe(true);
    expect(losses[2]).toBeLessThan(losses[0]!);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).not.toEqual(before);
    expect(tf.memory().numTensors).toBe(n);
    model.dispose();
  });
});
