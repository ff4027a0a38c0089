import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { checkGradients, randomTensor } from './gradcheck.js';

// The gradient-check helper guards every layer test, so it must itself be able to fail.
describe('checkGradients', () => {
  const square = tf.customGrad((x, save) => {
    save([x as tf.Tensor]);
    return {
      value: tf.square(x as tf.Tensor),
      gradFunc: (dy, saved) => tf.mul(dy, tf.mul(saved[0], 2)),
    };
  });
  const wrongSquare = tf.customGrad((x, save) => {
    save([x as tf.Tensor]);
    return {
      value: tf.square(x as tf.Tensor),
      gradFunc: (dy, saved) => tf.mul(dy, tf.mul(saved[0], 2.2)),
    };
  });

  it('passes a correct gradient', () => {
    const x = randomTensor([3, 4], 1);
    expect(checkGradients((xs) => square(xs[0]), [x])).toBeGreaterThan(3);
  });

  it('fails a gradient that is 10% off', () => {
    const x = randomTensor([3, 4], 1);
    expect(() => checkGradients((xs) => wrongSquare(xs[0]), [x])).toThrow(/analytic .* vs numeric/);
  });

  it('sets kinks aside but fails when most samples sit on them', () => {
    // relu at exactly 0 everywhere: every element is a kink.
    const zeros = tf.zeros([2, 3]);
    expect(() => checkGradients((xs) => tf.relu(xs[0]), [zeros])).toThrow(/away from a kink/);
    // Away from 0 relu is smooth and passes.
    const x = tf.add(randomTensor([2, 3], 2, 0.5, 1), 0);
    expect(checkGradients((xs) => tf.relu(xs[0]), [x])).toBeGreaterThan(3);
  });
});
