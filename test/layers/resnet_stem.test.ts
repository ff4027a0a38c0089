import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { ResNetStem } from '../../src/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { randomizeTrainableWeights } from '../helpers/randomize.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';

/** PyTorch MaxPool2d(3, 2, padding=1) on NHWC data: padding never wins (it is -inf). */
function referenceMaxPool(x: Float32Array, [n, h, w, c]: number[]): { data: Float32Array; shape: number[] } {
  const oh = Math.floor((h + 2 - 3) / 2) + 1;
  const ow = Math.floor((w + 2 - 3) / 2) + 1;
  const y = new Float32Array(n * oh * ow * c).fill(-Infinity);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let di = 0; di < 3; di++)
          for (let dj = 0; dj < 3; dj++) {
            const yi = 2 * i - 1 + di;
            const xj = 2 * j - 1 + dj;
            if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
            for (let k = 0; k < c; k++) {
              const o = ((b * oh + i) * ow + j) * c + k;
              y[o] = Math.max(y[o], x[((b * h + yi) * w + xj) * c + k]);
            }
          }
  return { data: y, shape: [n, oh, ow, c] };
}

describe('ResNetStem', () => {
  it('has the PyTorch shapes and top-level keys', () => {
    const stem = new ResNetStem();
    expect((stem.apply(tf.zeros([2, 64, 64, 1])) as tf.Tensor).shape).toEqual([2, 16, 16, 64]);
    expect(stem.computeOutputShape([null, 65, 30, 1])).toEqual([null, 17, 8, 64]);
    expect((stem.apply(tf.zeros([1, 65, 30, 1])) as tf.Tensor).shape).toEqual([1, 17, 8, 64]);
    expect(stem.torchParams().map((p) => p.key)).toEqual([
      'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var',
    ]);
    expect(stem.torchKeyPrefix).toBe('');
  });

  it("max-pools like PyTorch's MaxPool2d(3, 2, padding=1) (not TF 'same')", async () => {
    const stem = new ResNetStem({ filters: 3 });
    stem.build([null, 14, 10, 1]);
    randomizeTrainableWeights(stem, 1);
    // Reproduce conv → BN → ReLU with the layer's own ops, then pool with the nested-loop reference.
    const x = randomTensor([1, 14, 10, 1], 2);
    const viaLayer = stem.apply(x) as tf.Tensor;
    const [kernel, gamma, beta] = stem.getWeights();
    const pre = tf.tidy(() =>
      tf.relu(tf.add(tf.mul(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]), tf.div(gamma, Math.sqrt(1 + 1e-5))), beta)),
    );
    const ref = referenceMaxPool((await pre.data()) as Float32Array, pre.shape);
    expect(viaLayer.shape).toEqual(ref.shape);
    expect(await maxAbsDiff(viaLayer, tf.tensor(ref.data, ref.shape))).toBeLessThan(1e-5);
  });

  it('passes a finite-difference gradient check, survives save/load and does not leak', async () => {
    const stem = new ResNetStem({ filters: 4 });
    const x = randomTensor([2, 9, 9, 3], 3);
    stem.apply(x);
    randomizeTrainableWeights(stem, 4);
    const n = await checkGradients((xs) => stem.apply(xs[0], { training: true }) as tf.Tensor, [x], stem.trainableWeights, {
      eps: 1e-3,
      samples: 4,
    });
    expect(n).toBeGreaterThan(10);

    const input = tfl.input({ shape: [9, 9, 3] });
    const model = tfl.model({ inputs: input, outputs: new ResNetStem({ filters: 4, batchNormMode: 'batch-stats' }).apply(input) as tfl.SymbolicTensor });
    const restored = await saveAndLoad(model);
    expect(await maxAbsDiff(model.predict(x) as tf.Tensor, restored.predict(x) as tf.Tensor)).toBe(0);

    tf.dispose(stem.apply(x) as tf.Tensor);
    const before = tf.memory().numTensors;
    tf.dispose(stem.apply(x) as tf.Tensor);
    tf.dispose(stem.apply(x, { training: true }) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before);
  });
});
