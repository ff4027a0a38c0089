// BatchNorm fused with its activation on webgpu (src/kernels/webgpu/batch_norm.ts) against the
// composition it replaces: values, running statistics, gradients, a finite-difference check,
// dispatch counts, no leak.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BATCH_NORM_APPLY, hasOwnKernel } from '../../../src/kernels/own_kernels.js';
import { batchNormTorch } from '../../../src/ops/batch_norm.js';
import { batchNormCase, batchNormOutputs, batchNormParams, batchNormTrainingStep, checkBatchNormGradients, expectSameBatchNorm } from '../../helpers/batch_norm.js';
import { randomTensor } from '../../helpers/gradcheck.js';
import { dispatchesOf, startWebGPUForTests, withComposites } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

describe('fused BatchNorm + activation on webgpu', () => {
  it('is registered for webgpu only', () => {
    expect(hasOwnKernel(BATCH_NORM_APPLY)).toBe(true);
    expect(tf.getKernel(BATCH_NORM_APPLY, 'cpu')).toBeUndefined();
  });

  for (const shape of [[2, 3, 4, 5], [7, 3], [2, 33, 17, 2]]) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const useBatchStats of [true, false]) {
        it(`equals the composition: [${shape}], ${activation}, ${useBatchStats ? 'batch' : 'running'} statistics`, async () => {
          const { x, p, probe } = batchNormCase(shape);
          const ours = batchNormOutputs(x, p, useBatchStats, activation, probe);
          const composed = await withComposites(() => batchNormOutputs(x, p, useBatchStats, activation, probe));
          await expectSameBatchNorm(ours, composed, useBatchStats);
          tf.dispose([x, probe, ...Object.values(p), ours.y, composed.y, ...ours.grads, ...composed.grads]);
          tf.dispose([ours.mean, ours.variance, composed.mean, composed.variance].filter((t): t is tf.Tensor1D => t != null));
        });
      }
    }
  }

  it('passes a finite-difference gradient check (x, γ, β), with ReLU', async () => {
    expect(await checkBatchNormGradients('relu')).toBeGreaterThanOrEqual(12);
  });

  it('takes 4 dispatches forward in training (1 at inference) and 4 backward', async () => {
    const p = batchNormParams(16, 50);
    const x = randomTensor([2, 8, 8, 16], 51);
    const train = () => {
      const r = batchNormTorch(x, { ...p, useBatchStats: true, activation: 'relu' });
      return [r.y, r.newRunningMean!, r.newRunningVar!];
    };
    expect(await dispatchesOf(train)).toBe(4);
    expect(await dispatchesOf(() => batchNormTorch(x, { ...p, useBatchStats: false, activation: 'relu' }).y)).toBe(1);
    const dy = randomTensor(x.shape, 52);
    // A gradient through the tape: the forward (4), the product with dy (1), then ours.
    const withGrad = batchNormTrainingStep(x, p, dy);
    const ours = await dispatchesOf(withGrad);
    const composed = await withComposites(() => dispatchesOf(withGrad));
    expect(ours).toBeLessThanOrEqual(4 + 1 + 4 + 2);
    expect(composed).toBeGreaterThan(2 * ours);
    tf.dispose([x, dy, ...Object.values(p)]);
  });

  it('rejects a bad activation and a single value per channel, and leaks nothing', async () => {
    const p = batchNormParams(2, 60);
    const x = randomTensor([1, 1, 1, 2], 61);
    const before = tf.memory().numTensors;
    expect(() => batchNormTorch(x, { ...p, useBatchStats: true })).toThrow(/more than one value per channel/);
    expect(() => batchNormTorch(x, { ...p, useBatchStats: false, activation: 'gelu' as 'relu' })).toThrow(/activation must be 'linear' or 'relu'/);
    expect(() => batchNormTorch(randomTensor([2, 3], 62), { ...p, useBatchStats: true })).toThrow(/gamma must be \[3\]/);
    expect(tf.memory().numTensors).toBe(before + 1); // the [2, 3] input of the last call
    const x2 = randomTensor([2, 2, 2, 2], 63);
    const step = () => tf.dispose(tf.grads((a: tf.Tensor) => {
      const r = batchNormTorch(a, { ...p, useBatchStats: true, activation: 'relu' });
      tf.dispose([r.newRunningMean, r.newRunningVar]);
      return tf.sum(r.y);
    })([x2]));
    step();
    const settled = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(settled);
    tf.dispose([x, x2, ...Object.values(p)]);
  });
});
