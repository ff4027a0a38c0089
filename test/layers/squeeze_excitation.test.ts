import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { SECat, SqueezeExcitation, exportTorchStateDict, loadTorchStateDict } from '../../src/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { expectLayerRoundTrip, maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';
import { disposeFixture, loadFixture, seedWeights } from './torch_fixture.js';

/**
 * Plain-loop SE / SECat on NHWC data with PyTorch-layout weights W1 [hidden, C + d],
 * W2 [C, hidden]: out = x · sigmoid(W2 · relu(W1 · [mean(x), tag])).
 */
async function referenceExcitation(x: tf.Tensor4D, w1: tf.Tensor, w2: tf.Tensor, tag?: tf.Tensor2D): Promise<Float32Array> {
  const [n, h, w, c] = x.shape;
  const d = tag ? tag.shape[1] : 0;
  const hidden = w1.shape[0];
  const xs = await x.data();
  const a = await w1.data();
  const b = await w2.data();
  const t = tag ? await tag.data() : undefined;
  const out = new Float32Array(xs.length);
  for (let s = 0; s < n; s++) {
    const z = new Float64Array(c + d);
    for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) z[ch] += xs[(s * h * w + p) * c + ch] / (h * w);
    for (let k = 0; k < d; k++) z[c + k] = t![s * d + k];
    const u = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      for (let k = 0; k < c + d; k++) u[j] += a[j * (c + d) + k] * z[k];
      u[j] = Math.max(0, u[j]);
    }
    for (let ch = 0; ch < c; ch++) {
      let v = 0;
      for (let j = 0; j < hidden; j++) v += b[ch * hidden + j] * u[j];
      const scale = 1 / (1 + Math.exp(-v));
      for (let p = 0; p < h * w; p++) out[(s * h * w + p) * c + ch] = xs[(s * h * w + p) * c + ch] * scale;
    }
  }
  return out;
}

describe('SqueezeExcitation', () => {
  it('has the reference keys and shapes, hidden width C // r', () => {
    const layer = new SqueezeExcitation({ reduction: 4 });
    const y = layer.apply(tf.zeros([3, 5, 7, 18])) as tf.Tensor;
    expect(y.shape).toEqual([3, 5, 7, 18]);
    const sd = exportTorchStateDict(layer);
    expect(Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.shape]))).toEqual({
      'fc.0.weight': [4, 18],
      'fc.2.weight': [18, 4],
    });
    expect(() => new SqueezeExcitation({ reduction: 32 }).apply(tf.zeros([1, 2, 2, 16]))).toThrow(/leave no hidden units/);
  });

  it('matches a plain-loop SE with PyTorch-layout weights', async () => {
    const layer = new SqueezeExcitation();
    const x = randomTensor([2, 3, 5, 32], 1) as tf.Tensor4D;
    layer.apply(x);
    const w1 = randomTensor([2, 32], 2);
    const w2 = randomTensor([32, 2], 3);
    loadTorchStateDict(layer, { 'fc.0.weight': w1, 'fc.2.weight': w2 });
    const y = layer.apply(x) as tf.Tensor;
    expect(await maxAbsDiff(y, tf.tensor(await referenceExcitation(x, w1, w2), y.shape))).toBeLessThan(1e-6);
  });

  it('passes a finite-difference gradient check (input and weights)', async () => {
    const layer = new SqueezeExcitation({ reduction: 4 });
    const x = randomTensor([2, 3, 3, 8], 4);
    layer.apply(x);
    seedWeights(layer, 1);
    expect(await checkGradients((xs) => layer.apply(xs[0]) as tf.Tensor, [x], layer.trainableWeights)).toBeGreaterThan(12);
  });

  it('survives a save/load round trip', async () => {
    const restored = await expectLayerRoundTrip(new SqueezeExcitation({ reduction: 8 }), [4, 4, 16], randomTensor([2, 4, 4, 16], 5));
    expect((restored as SqueezeExcitation).reduction).toBe(8);
  });
});

describe('SECat', () => {
  it('matches the reference SeCatLayer (secat_layer fixture)', async () => {
    const f = loadFixture('secat_layer');
    const layer = new SECat();
    layer.apply([f.inputs['x'], f.inputs['cat_feature']]);
    const report = loadTorchStateDict(layer, f.params);
    expect(report.loaded.sort()).toEqual(['fc.0.weight', 'fc.2.weight']);
    const y = layer.apply([f.inputs['x'], f.inputs['cat_feature']]) as tf.Tensor;
    expect(await maxAbsDiff(y, f.outputs['out'])).toBeLessThanOrEqual(1e-4);
    disposeFixture(f);
  });

  it('concatenates [pooled x, tag] with hidden width C // r of the features only', async () => {
    const layer = new SECat({ reduction: 4 });
    const x = randomTensor([3, 5, 3, 16], 6) as tf.Tensor4D;
    const tag = randomTensor([3, 10], 7) as tf.Tensor2D;
    const y = layer.apply([x, tag]) as tf.Tensor;
    expect(y.shape).toEqual([3, 5, 3, 16]);
    expect(layer.computeOutputShape([[null, 5, 3, 16], [null, 10]])).toEqual([null, 5, 3, 16]);
    const sd = exportTorchStateDict(layer);
    expect(sd['fc.0.weight'].shape).toEqual([4, 26]);
    expect(sd['fc.2.weight'].shape).toEqual([16, 4]);
    const expected = await referenceExcitation(x, sd['fc.0.weight'], sd['fc.2.weight'], tag);
    expect(await maxAbsDiff(y, tf.tensor(expected, y.shape))).toBeLessThan(1e-6);
  });

  it('explains how to call it with a bad input', () => {
    const layer = new SECat();
    expect(() => layer.apply(tf.zeros([1, 2, 2, 16]))).toThrow(/two inputs \[features, tag\]/);
    expect(() => layer.apply([tf.zeros([1, 2, 2, 16]), tf.zeros([2, 8])])).toThrow(/same N/);
  });

  it('passes a finite-difference gradient check (features, tag and weights)', async () => {
    const layer = new SECat({ reduction: 4 });
    const x = randomTensor([2, 3, 3, 8], 8);
    const tag = randomTensor([2, 5], 9);
    layer.apply([x, tag]);
    seedWeights(layer, 2);
    const n = await checkGradients((xs) => layer.apply(xs) as tf.Tensor, [x, tag], layer.trainableWeights);
    expect(n).toBeGreaterThan(20);
  });

  it('survives a save/load round trip as a two-input layer', async () => {
    const x = tfl.input({ shape: [4, 4, 32] });
    const tag = tfl.input({ shape: [7] });
    const output = new SECat().apply([x, tag]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, tag], outputs: output });
    const restored = await saveAndLoad(model);
    expect(restored.layers.some((l) => l instanceof SECat)).toBe(true);
    const inputs = [randomTensor([2, 4, 4, 32], 10), randomTensor([2, 7], 11)];
    expect(await maxAbsDiff(model.predict(inputs) as tf.Tensor, restored.predict(inputs) as tf.Tensor)).toBe(0);
  });

  it('keeps tf.memory() flat over repeated calls', () => {
    const layer = new SECat();
    const x = randomTensor([2, 4, 4, 32], 12);
    const tag = randomTensor([2, 8], 13);
    expectNoTensorLeak(() => tf.dispose(layer.apply([x, tag]) as tf.Tensor));
  });
});
