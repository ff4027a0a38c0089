import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { checkGradients, randomTensor } from './gradcheck.js';

// The gradient-check helper guards every layer test, so it must itself be able to fail.
describe('checkGradients', () => {
  // d/dx x² with a chosen factor: 2 is right, 2.2 is 10% off.
  const squareWithSlope = (factor: number) =>
    tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const x = args[0] as tf.Tensor;
      (args[1] as tf.GradSaveFunc)([x]);
      return {
        value: tf.square(x),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
          tf.mul(dy as tf.Tensor, tf.mul(saved[0], factor)),
      };
    });
  const square = squareWithSlope(2);
  const wrongSquare = squareWithSlope(2.2);

  it('passes a correct gradient', async () => {
    const x = randomTensor([3, 4], 1);
    expect(await checkGradients((xs) => square(xs[0]), [x])).toBeGreaterThan(3);
  });

  it('fails a gradient that is 10% off', async () => {
    const x = randomTensor([3, 4], 1);
    await expect(checkGradients((xs) => wrongSquare(xs[0]), [x])).rejects.toThrow(/analytic .* vs numeric/);
  });

  it('sets kinks aside but fails when most samples sit on them', async () => {
    // relu at exactly 0 everywhere: every element is a kink.
    const zeros = tf.zeros([2, 3]);
    await expect(checkGradients((xs) => tf.relu(xs[0]), [zeros])).rejects.toThrow(/away from a kink/);
    // Away from 0 relu is smooth and passes.
    const x = tf.add(randomTensor([2, 3], 2, 0.5, 1), 0);
    expect(await checkGradients((xs) => tf.relu(xs[0]), [x])).toBeGreaterThan(3);
  });
});
