import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { batchNormTraining } from '../../src/kernels/batch_norm_train.js';
import { batchNormTorch } from '../../src/ops/batch_norm.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

// The fused training BatchNorm (which batchNormTorch uses for batch statistics) must equal the
// same normalisation composed from differentiable ops, in values, statistics and gradients.
describe('batchNormTraining', () => {
  const shape = [3, 5, 6, 8];
  const x = randomTensor(shape, 1, -2, 3);
  const gamma = randomTensor([8], 2, 0.5, 1.5) as tf.Tensor1D;
  const beta = randomTensor([8], 3) as tf.Tensor1D;
  const weight = randomTensor(shape, 4);
  const zeros = tf.zeros([8]) as tf.Tensor1D;
  const ones = tf.ones([8]) as tf.Tensor1D;
  const reference = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };

  it('matches the composed op in value, and batchNormTorch updates running statistics from it', async () => {
    const ours = batchNormTraining(x, gamma, beta);
    expect(await maxAbsDiff(ours.y, reference(x, gamma, beta))).toBeLessThan(1e-5);
    const moments = tf.moments(x, [0, 1, 2]);
    expect(await maxAbsDiff(ours.mean, moments.mean)).toBeLessThan(1e-5);
    expect(await maxAbsDiff(ours.variance, moments.variance)).toBeLessThan(1e-5);
    const r = batchNormTorch(x, { gamma, beta, runningMean: zeros, runningVar: ones, useBatchStats: true, momentum: 1 });
    expect(await maxAbsDiff(ours.mean, r.newRunningMean!)).toBeLessThan(1e-5);
    // momentum 1 makes the running variance the unbiased batch variance.
    const n = 3 * 5 * 6;
    expect(await maxAbsDiff(tf.mul(ours.variance, n / (n - 1)), r.newRunningVar!)).toBeLessThan(1e-4);
    tf.dispose([ours.y, ours.mean, ours.variance]);
  });

  it('has the gradients of the composed op (x, gamma, beta)', async () => {
    const loss = (f: (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), weight)))([x, gamma, beta]);
    const ours = loss((a, g, b) => {
      const r = batchNormTraining(a, g as tf.Tensor1D, b as tf.Tensor1D);
      tf.dispose([r.mean, r.variance]);
      return r.y;
    });
    const theirs = loss(reference);
    for (let i = 0; i < 3; i++) {
      const scale = Math.max(...Array.from(theirs[i]!.dataSync(), Math.abs));
      expect(scale).toBeGreaterThan(1e-2);
      expect(await maxAbsDiff(ours[i]!, theirs[i]!) / scale, `input ${i}`).toBeLessThan(1e-4);
    }
  });

  it('keeps less than half the bytes for the backward pass and leaks none', () => {
    const before = tf.memory().numTensors;
    // Bytes alive at the end of the forward pass, inside the gradient computation.
    const taped = (f: (a: tf.Tensor) => tf.Tensor): number => {
      let bytes = 0;
      const start = tf.memory().numBytes;
      const grads = tf.grads((a: tf.Tensor) => {
        const y = f(a);
        bytes = tf.memory().numBytes - start;
        return tf.sum(tf.mul(y, weight));
      })([x]);
      tf.dispose(grads);
      return bytes;
    };
    const ours = taped((a) => {
      const r = batchNormTraining(a, gamma, beta);
      tf.dispose([r.mean, r.variance]);
      return r.y;
    });
    const theirs = taped((a) => reference(a, gamma, beta));
    expect(ours).toBeGreaterThan(0);
    expect(ours).toBeLessThan(theirs / 2);
    expect(tf.memory().numTensors).toBe(before);
  });
});
