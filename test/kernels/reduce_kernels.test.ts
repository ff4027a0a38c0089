import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFastKernel } from '../../src/kernels/register.js';
import { initBackend } from '../../src/node/backend.js';
import { randomTensor } from '../helpers/gradcheck.js';

// wasm's Sum and Mean over leading axes run as a matMul with a row of ones; every reduction
// must still match the cpu backend.
let initial = '';
beforeAll(async () => {
  initial = tf.getBackend();
  await initBackend('wasm');
  await tf.setBackend(initial);
});

function on(backend: string, f: () => tf.Tensor): { shape: number[]; values: Float32Array | Int32Array } {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const t = f();
      return { shape: t.shape, values: t.dataSync() as Float32Array };
    });
  } finally {
    tf.setBackend(previous);
  }
}

function expectClose(a: ReturnType<typeof on>, b: ReturnType<typeof on>, label: string): void {
  expect(a.shape, label).toEqual(b.shape);
  let scale = 0;
  let err = 0;
  b.values.forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    err = Math.max(err, Math.abs(v - a.values[i]!));
  });
  expect(err, `${label}: error ${err}, scale ${scale}`).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1));
}

describe('wasm Sum and Mean', () => {
  it('are registered on wasm', () => {
    expect(isFastKernel('Sum', 'wasm')).toBe(true);
    expect(isFastKernel('Mean', 'wasm')).toBe(true);
  });

  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [4, 16, 16, 24], axis: [0, 1, 2], keepDims: false }, // BatchNorm statistics
    { shape: [4, 16, 16, 24], axis: [2, 0, 1], keepDims: true }, // unordered axes, keepDims
    { shape: [64, 96], axis: 0, keepDims: false }, // bias gradient
    { shape: [4, 16, 16, 24], axis: [1, 2], keepDims: false }, // SE squeeze: batched product
    { shape: [4, 16, 16, 24], axis: [2, 1], keepDims: true },
    { shape: [4, 16, 16, 24], axis: [0, 2], keepDims: false }, // not contiguous: stock kernel
    { shape: [4, 16, 16, 24], axis: [2, 3], keepDims: false }, // innermost: stock kernel
    { shape: [2, 3, 4], axis: [0, 1], keepDims: false }, // small: stock kernel
    { shape: [4, 16, 16, 24], axis: [0, 1, 2, 3], keepDims: false }, // everything: stock kernel
  ];
  it.each(cases)('%o matches cpu', ({ shape, axis, keepDims }) => {
    for (const op of [tf.sum, tf.mean]) {
      const f = () => op(tf.add(randomTensor(shape, 1), 0.5), axis, keepDims);
      expectClose(on('wasm', f), on('cpu', f), `${op.name}`);
    }
  });

  it('leaves int32 sums to the stock kernel (exact)', () => {
    const f = () => tf.sum(tf.cast(tf.mul(randomTensor([8, 32, 32], 2), 1000), 'int32'), [0, 1]);
    const wasm = on('wasm', f);
    expect(wasm.values).toBeInstanceOf(Int32Array);
    expect(Array.from(wasm.values)).toEqual(Array.from(on('cpu', f).values));
  });

  it('gives BatchNorm-style gradients equal to cpu', () => {
    const f = () => {
      const x = randomTensor([4, 8, 8, 16], 3);
      const g = tf.grad((t: tf.Tensor) => {
        const mean = tf.mean(t, [0, 1, 2]);
        const centred = tf.sub(t, mean);
        const normalised = tf.div(centred, tf.sqrt(tf.add(tf.mean(tf.square(centred), [0, 1, 2]), 1e-5)));
        return tf.sum(tf.mul(normalised, randomTensor([4, 8, 8, 16], 4)));
      });
      return g(x);
    };
    expectClose(on('wasm', f), on('cpu', f), 'grad');
  });
});
