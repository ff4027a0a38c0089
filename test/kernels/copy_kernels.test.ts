import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFastKernel, registerFastKernels, unregisterFastKernels } from '../../src/kernels/register.js';
import { initBackend } from '../../src/node/backend.js';
import { randomTensor } from '../helpers/gradcheck.js';

// wasm's Slice, SplitV and Concat are replaced by in-place copies; they must give the cpu
// backend's results exactly (they only move values).
let initial = '';
beforeAll(async () => {
  initial = tf.getBackend();
  await initBackend('wasm');
  await tf.setBackend(initial);
});

function on(backend: string, f: () => tf.Tensor | tf.Tensor[]): Array<{ shape: number[]; values: number[] }> {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const out = f();
      return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) }));
    });
  } finally {
    tf.setBackend(previous);
  }
}

const sliceCases: Array<{ shape: number[]; begin: number[]; size: number[] }> = [
  { shape: [10], begin: [3], size: [5] },
  { shape: [4, 7], begin: [1, 2], size: [2, 3] },
  { shape: [4, 7], begin: [1, 0], size: [3, 7] }, // contiguous rows
  { shape: [3, 5, 6], begin: [0, 1, 0], size: [3, 3, 6] }, // whole last axis merged
  { shape: [2, 6, 5, 8], begin: [1, 1, 2, 3], size: [1, 4, 3, 2] }, // short rows
  { shape: [2, 6, 5, 40], begin: [0, 2, 1, 4], size: [2, 3, 4, 20] }, // long rows
  { shape: [2, 3, 4, 2, 3, 5], begin: [1, 0, 1, 0, 1, 2], size: [1, 3, 2, 2, 2, 3] }, // rank 6
  { shape: [3, 4, 5], begin: [0, 0, 0], size: [0, 4, 5] }, // empty
];

describe('wasm copy kernels', () => {
  it('are registered on wasm only', () => {
    for (const k of ['Slice', 'SplitV', 'Concat']) {
      expect(isFastKernel(k, 'wasm'), k).toBe(true);
      expect(isFastKernel(k, 'cpu'), k).toBe(false);
    }
  });

  it.each(sliceCases)('Slice %o matches cpu (float32 and int32)', ({ shape, begin, size }) => {
    const f = () => tf.slice(randomTensor(shape, 3), begin, size);
    expect(on('wasm', f)).toEqual(on('cpu', f));
    const g = () => tf.slice(tf.cast(tf.mul(randomTensor(shape, 4), 100), 'int32'), begin, size);
    expect(on('wasm', g)).toEqual(on('cpu', g));
  });

  it('SplitV matches cpu on every axis, equal and uneven parts', () => {
    const shape = [2, 5, 6, 12];
    for (let axis = 0; axis < 4; axis++) {
      const parts = shape[axis]! % 2 === 0 ? 2 : [2, 3];
      const f = () => tf.split(randomTensor(shape, 5), parts, axis);
      expect(on('wasm', f), `axis ${axis}`).toEqual(on('cpu', f));
    }
    const groups = () => tf.split(randomTensor([2, 4, 4, 32], 6), 16, 3);
    expect(on('wasm', groups)).toEqual(on('cpu', groups));
  });

  it('Concat matches cpu on every axis, with an empty input, short and long rows', () => {
    for (let axis = 0; axis < 4; axis++) {
      const f = () => tf.concat([randomTensor([2, 3, 4, 5], 7), randomTensor([2, 3, 4, 5], 8), randomTensor([2, 3, 4, 5], 9)], axis);
      expect(on('wasm', f), `axis ${axis}`).toEqual(on('cpu', f));
    }
    const mixed = () => tf.concat([randomTensor([2, 3, 3, 40], 10), tf.zeros([2, 3, 3, 0]), randomTensor([2, 3, 3, 2], 11)], 3);
    expect(on('wasm', mixed)).toEqual(on('cpu', mixed));
    const ints = () => tf.concat([tf.reshape(tf.range(0, 12, 1, 'int32'), [3, 4]), tf.reshape(tf.range(0, 6, 1, 'int32'), [3, 2])], 1);
    expect(on('wasm', ints)).toEqual(on('cpu', ints));
  });

  it('give back the stock kernels on request and come back', () => {
    unregisterFastKernels(['wasm']);
    expect(isFastKernel('Slice', 'wasm')).toBe(false);
    const f = () => tf.slice(randomTensor([3, 4, 5], 12), [1, 1, 1], [2, 2, 3]);
    const stock = on('wasm', f);
    registerFastKernels(['wasm']);
    expect(isFastKernel('Slice', 'wasm')).toBe(true);
    expect(on('wasm', f)).toEqual(stock);
  });
});

describe('Identity on wasm', () => {
  it('shares the data instead of copying it: same values, one buffer until both are disposed, no leak', async () => {
    await initBackend('wasm', { wasmThreads: 1 });
    const x = tf.tensor4d([1, -2, 3, 4, 5, 6], [1, 1, 2, 3]);
    const before = tf.memory();
    const y = tf.clone(x);
    expect(Array.from(await y.data())).toEqual([1, -2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([1, 1, 2, 3]);
    // One more tensor, no more data buffers: the clone shares x's buffer.
    expect(y.dataId).toBe(x.dataId);
    expect(tf.memory().numTensors).toBe(before.numTensors + 1);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, -2, 3, 4, 5, 6]);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors - 1);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers - 1);
    // Saved tensors of a gradient are clones too: the gradient is unchanged.
    const a = tf.tensor1d([1, 2, 3]);
    const [g] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(t, t)))([a]);
    expect(Array.from(await g!.data())).toEqual([2, 4, 6]);
    tf.dispose([a, g!]);
  });
});
