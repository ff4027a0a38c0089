import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad.js';

/*
 * ReLU variants whose gradients keep only the output on the tape. tf.relu keeps its input and
 * tf.add keeps both inputs (for their shapes), so `relu(add(a, b))` after a BatchNorm keeps
 * three activation-sized tensors where one suffices: the gradient of ReLU is `dy · step(y)`,
 * and `y > 0` exactly when the input is > 0, so the values are those of the composition.
 */

type Unary = (a: tf.Tensor) => tf.Tensor;
type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

const reluOnOutput = customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const y = tf.relu(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      [tf.mul(dy as tf.Tensor, tf.step(saved[0]!))],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Unary;

const addReluOnOutput = customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  const y = tf.relu(tf.add(a, b));
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = tf.mul(dy as tf.Tensor, tf.step(saved[0]!));
      return [g, tf.clone(g)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Binary;

/** `tf.relu(x)` whose gradient keeps only the output on the tape. */
export function reluKeepingOutput<T extends tf.Tensor>(x: T): T {
  if (x.dtype !== 'float32') return tf.relu(x);
  return reluOnOutput(x) as T;
}

/**
 * `tf.relu(tf.add(a, b))` for two tensors of the same shape (a residual join) whose gradient
 * keeps only the output on the tape; other shapes fall back to the composition.
 */
export function addReluKeepingOutput<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  const same = a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]);
  if (!same || a.dtype !== 'float32' || b.dtype !== 'float32') return tf.relu(tf.add(a, b)) as T;
  return addReluOnOutput(a, b) as T;
}
