// customGrad (src/kernels/custom_grad.ts): what `save` is given is kept only once the forward
// function has returned, so a forward pass that fails after saving leaks nothing (tfjs's own
// customGrad keeps the saved tensors for a backward pass that never comes).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { customGrad } from '../../src/kernels/custom_grad.js';

type Forward = (x: tf.Tensor, save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor };

/** A forward pass that saves its input and an intermediate, then fails allocating. */
const failing: Forward = (x, save) => {
  save([x, tf.mul(x, 2)]);
  throw new Error('allocation failed');
};

/** Tensors left alive by a failing gradient computation through `op`. */
function leakedBy(op: (x: tf.Tensor) => tf.Tensor): number {
  const x = tf.tensor1d([1, 2, 3]);
  const before = tf.memory().numTensors;
  expect(() => tf.tidy(() => tf.grads((a: tf.Tensor) => tf.sum(op(a)))([x]))).toThrow('allocation failed');
  const leaked = tf.memory().numTensors - before;
  x.dispose();
  return leaked;
}

describe('customGrad', () => {
  it('keeps nothing when the forward pass throws after saving (tfjs customGrad keeps what it saved)', () => {
    expect(leakedBy(tf.customGrad(failing as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor)).toBeGreaterThan(0);
    expect(leakedBy(customGrad(failing) as (x: tf.Tensor) => tf.Tensor)).toBe(0);
  });

  it('gives the gradient function what was saved, and frees it after the backward pass', async () => {
    const square = customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return { value: tf.square(x), gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, tf.mul(s!, 2)) };
    }) as Forward) as (x: tf.Tensor) => tf.Tensor;
    const x = tf.tensor1d([1, -2, 3]);
    const before = tf.memory().numTensors;
    const [g] = tf.grads((a: tf.Tensor) => tf.sum(square(a)))([x]);
    expect(Array.from(await g!.data())).toEqual([2, -4, 6]);
    g!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
