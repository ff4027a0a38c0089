// BatchNorm fused with its activation on webgpu (src/kernels/webgpu/batch_norm.ts) against the
// composition it replaces: values, running statistics, gradients, a finite-difference check,
// dispatch counts, no leak.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BATCH_NORM_APPLY, hasOwnKernel } from '../../../src/kernels/own_kernels.js';
import { batchNormTorch, type BatchNormTorchArgs } from '../../../src/ops/batch_norm.js';
import { checkGradients, randomTensor } from '../../helpers/gradcheck.js';
import { dispatchesOf, relativeDiff, startWebGPUForTests, withComposites } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

function params(c: number, seed: number) {
  return {
    gamma: randomTensor([c], seed, 0.5, 1.5) as tf.Tensor1D,
    beta: randomTensor([c], seed + 1) as tf.Tensor1D,
    runningMean: randomTensor([c], seed + 2) as tf.Tensor1D,
    runningVar: randomTensor([c], seed + 3, 0.5, 2) as tf.Tensor1D,
  };
}

type Act = 'linear' | 'relu';

/** Output, running statistics and gradients (x, γ, β) of `sum(bn(x) · probe)`. */
function run(x: tf.Tensor, p: ReturnType<typeof params>, useBatchStats: boolean, activation: Act, probe: tf.Tensor) {
  const args = (gamma: tf.Tensor, beta: tf.Tensor): BatchNormTorchArgs => ({
    ...p, gamma: gamma as tf.Tensor1D, beta: beta as tf.Tensor1D, useBatchStats, activation, momentum: 0.1,
  });
  const r = batchNormTorch(x, args(p.gamma, p.beta));
  const grads = useBatchStats
    ? tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const q = batchNormTorch(a, args(g, b));
      tf.dispose([q.newRunningMean, q.newRunningVar]);
      return tf.sum(tf.mul(q.y, probe));
    })([x, p.gamma, p.beta])
    : [];
  return { y: r.y, mean: r.newRunningMean, variance: r.newRunningVar, grads };
}

describe('fused BatchNorm + activation on webgpu', () => {
  it('is registered for webgpu only', () => {
    expect(hasOwnKernel(BATCH_NORM_APPLY)).toBe(true);
    expect(tf.getKernel(BATCH_NORM_APPLY, 'cpu')).toBeUndefined();
  });

  for (const shape of [[2, 3, 4, 5], [7, 3], [2, 33, 17, 2]]) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const useBatchStats of [true, false]) {
        it(`equals the composition: [${shape}], ${activation}, ${useBatchStats ? 'batch' : 'running'} statistics`, async () => {
          const c = shape[shape.length - 1]!;
          const x = randomTensor(shape, 10 + c, -2, 3);
          const p = params(c, 20);
          const probe = randomTensor(shape, 30);
          const ours = run(x, p, useBatchStats, activation, probe);
          const composed = await withComposites(() => run(x, p, useBatchStats, activation, probe));
          expect(await relativeDiff(ours.y, composed.y), 'y').toBeLessThan(1e-5);
          if (useBatchStats) {
            expect(await relativeDiff(ours.mean!, composed.mean!), 'running mean').toBeLessThan(1e-5);
            expect(await relativeDiff(ours.variance!, composed.variance!), 'running variance').toBeLessThan(1e-5);
            for (const [k, name] of ['x', 'gamma', 'beta'].entries()) {
              expect(await relativeDiff(ours.grads[k]!, composed.grads[k]!), `gradient of ${name}`).toBeLessThan(1e-4);
            }
          } else {
            expect(ours.mean).toBeUndefined();
          }
          tf.dispose([x, probe, ...Object.values(p), ours.y, composed.y, ...ours.grads, ...composed.grads]);
          tf.dispose([ours.mean, ours.variance, composed.mean, composed.variance].filter((t): t is tf.Tensor1D => t != null));
        });
      }
    }
  }

  it('passes a finite-difference gradient check (x, γ, β), with ReLU', async () => {
    const p = params(3, 40);
    const x = randomTensor([2, 3, 3, 3], 41, -2, 2);
    const f = (xs: tf.Tensor[]) => {
      const r = batchNormTorch(xs[0]!, { ...p, gamma: xs[1] as tf.Tensor1D, beta: xs[2] as tf.Tensor1D, useBatchStats: true, activation: 'relu' });
      tf.dispose([r.newRunningMean, r.newRunningVar]);
      return r.y;
    };
    expect(await checkGradients(f, [x, p.gamma, p.beta], [], { eps: 3e-3, samples: 8 })).toBeGreaterThanOrEqual(12);
    tf.dispose([x, ...Object.values(p)]);
  });

  it('takes 4 dispatches forward in training (1 at inference) and 4 backward', async () => {
    const p = params(16, 50);
    const x = randomTensor([2, 8, 8, 16], 51);
    const train = () => {
      const r = batchNormTorch(x, { ...p, useBatchStats: true, activation: 'relu' });
      return [r.y, r.newRunningMean!, r.newRunningVar!];
    };
    expect(await dispatchesOf(train)).toBe(4);
    expect(await dispatchesOf(() => batchNormTorch(x, { ...p, useBatchStats: false, activation: 'relu' }).y)).toBe(1);
    const dy = randomTensor(x.shape, 52);
    // A gradient through the tape: the forward (4), the product with dy (1), then ours.
    const withGrad = () => tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = batchNormTorch(a, { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, useBatchStats: true, activation: 'relu' });
      tf.dispose([r.newRunningMean, r.newRunningVar]);
      return tf.mul(r.y, dy);
    })([x, p.gamma, p.beta], tf.onesLike(dy));
    const ours = await dispatchesOf(withGrad);
    const composed = await withComposites(() => dispatchesOf(withGrad));
    expect(ours).toBeLessThanOrEqual(4 + 1 + 4 + 2);
    expect(composed).toBeGreaterThan(2 * ours);
    tf.dispose([x, dy, ...Object.values(p)]);
  });

  it('rejects a bad activation and a single value per channel, and leaks nothing', async () => {
    const p = params(2, 60);
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
