import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { batchNormTorch, type BatchNormTorchArgs } from '../../src/ops/batch_norm.js';
import { checkGradients, randomTensor } from './gradcheck.js';
import { relativeDiff } from './roundtrip.js';

/** γ, β and running statistics for `c` channels, seeded (γ in [0.5, 1.5], running variance in [0.5, 2]). */
export function batchNormParams(c: number, seed: number) {
  return {
    gamma: randomTensor([c], seed, 0.5, 1.5) as tf.Tensor1D,
    beta: randomTensor([c], seed + 1) as tf.Tensor1D,
    runningMean: randomTensor([c], seed + 2) as tf.Tensor1D,
    runningVar: randomTensor([c], seed + 3, 0.5, 2) as tf.Tensor1D,
  };
}

/**
 * `batchNormTorch`'s output and running statistics, and the gradients (x, γ, β) of
 * `sum(bn(x) · probe)` when batch statistics are used (none otherwise).
 */
export function batchNormOutputs(
  x: tf.Tensor,
  p: ReturnType<typeof batchNormParams>,
  useBatchStats: boolean,
  activation: 'linear' | 'relu',
  probe: tf.Tensor,
) {
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

/** A central-difference check of `batchNormTorch` (batch statistics) in x, γ and β; returns how many elements were compared. */
export async function checkBatchNormGradients(activation: 'linear' | 'relu', channels = 3): Promise<number> {
  const p = batchNormParams(channels, 40);
  const x = randomTensor([2, 3, 3, channels], 41, -2, 2);
  const f = (xs: tf.Tensor[]) => {
    const r = batchNormTorch(xs[0]!, { ...p, gamma: xs[1] as tf.Tensor1D, beta: xs[2] as tf.Tensor1D, useBatchStats: true, activation });
    tf.dispose([r.newRunningMean, r.newRunningVar]);
    return r.y;
  };
  const compared = await checkGradients(f, [x, p.gamma, p.beta], [], { eps: 3e-3, samples: 8 });
  tf.dispose([x, ...Object.values(p)]);
  return compared;
}

/** A training BatchNorm + ReLU and its gradient through the tape, `d(bn(x)·dy)/d(x, γ, β)` (the caller disposes). */
export function batchNormTrainingStep(x: tf.Tensor, p: ReturnType<typeof batchNormParams>, dy: tf.Tensor): () => tf.Tensor[] {
  return () =>
    tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = batchNormTorch(a, { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D, useBatchStats: true, activation: 'relu' });
      tf.dispose([r.newRunningMean, r.newRunningVar]);
      return tf.mul(r.y, dy);
    })([x, p.gamma, p.beta], tf.onesLike(dy));
}

/**
 * Expects two {@link batchNormOutputs} to agree: output and running statistics within 1e-5,
 * gradients within 1e-4, relative to the second's largest value; no statistics without batch
 * statistics.
 */
export async function expectSameBatchNorm(ours: ReturnType<typeof batchNormOutputs>, theirs: ReturnType<typeof batchNormOutputs>, useBatchStats: boolean): Promise<void> {
  expect(await relativeDiff(ours.y, theirs.y), 'y').toBeLessThan(1e-5);
  if (!useBatchStats) {
    expect(ours.mean).toBeUndefined();
    return;
  }
  expect(await relativeDiff(ours.mean!, theirs.mean!), 'running mean').toBeLessThan(1e-5);
  expect(await relativeDiff(ours.variance!, theirs.variance!), 'running variance').toBeLessThan(1e-5);
  for (const [k, name] of ['x', 'gamma', 'beta'].entries()) {
    expect(await relativeDiff(ours.grads[k]!, theirs.grads[k]!), `gradient of ${name}`).toBeLessThan(1e-4);
  }
}

/** The inputs of one comparison case: x of `shape` in [−2, 3], parameters for its channels, a probe. */
export function batchNormCase(shape: number[]) {
  const c = shape[shape.length - 1]!;
  return { x: randomTensor(shape, 10 + c, -2, 3), p: batchNormParams(c, 20), probe: randomTensor(shape, 30) };
}
