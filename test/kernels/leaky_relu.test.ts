// LeakyReLU on wasm as x · step(x, α) (src/kernels/leaky_relu.ts): the same values and gradients,
// bit for bit, as tfjs's own kernel and gradient, without their scalar kernels; put back by
// unregisterFastKernels; other dtypes and backends keep tfjs's path.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFastKernel, registerFastKernels, unregisterFastKernels } from '../../src/kernels/register.js';
import { initBackend } from '../../src/node/backend.js';
import { randomTensor } from '../helpers/gradcheck.js';

beforeAll(async () => {
  await initBackend('wasm', { wasmThreads: 1 });
});

/** LeakyReLU's value and gradient for `sum(leakyRelu(x) · probe)`, and the kernels they ran. */
async function valueAndGradient(x: tf.Tensor, probe: tf.Tensor, alpha: number) {
  let out: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    const y = tf.leakyRelu(x, alpha);
    const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(a, alpha), probe)))([x]);
    out = [y, g!];
  });
  const [y, g] = out as [tf.Tensor, tf.Tensor];
  const result = { y: Array.from(await y.data()), g: Array.from(await g.data()), kernels: new Set(info.kernels.map((k) => k.name)) };
  tf.dispose(out);
  return result;
}

describe('LeakyReLU on wasm', () => {
  it('equals tfjs kernel and gradient bit for bit, through Step instead of Greater and Select, and leaks nothing', async () => {
    expect(isFastKernel('LeakyRelu', 'wasm')).toBe(true);
    // Zeros and negative zeros too: the kink belongs to the α side, as in tfjs.
    const x = tf.concat([tf.reshape(randomTensor([2, 5, 5, 8], 1, -3, 3), [-1]), tf.tensor1d([0, -0, 1e-30, -1e-30])]);
    const probe = randomTensor(x.shape, 2);
    const before = tf.memory().numTensors;
    for (const alpha of [0.2, 0.01]) {
      const ours = await valueAndGradient(x, probe, alpha);
      unregisterFastKernels(['wasm']);
      let stock;
      try {
        stock = await valueAndGradient(x, probe, alpha);
      } finally {
        registerFastKernels(['wasm']);
      }
      expect(ours.y).toEqual(stock.y);
      expect(ours.g).toEqual(stock.g);
      // (Ours is still registered as LeakyRelu; it runs Step and Multiply inside.)
      for (const name of ['Greater', 'Select']) {
        expect(ours.kernels.has(name), name).toBe(false);
        expect(stock.kernels.has(name), name).toBe(true);
      }
      expect(ours.kernels.has('Step')).toBe(true);
      expect(stock.kernels.has('Step')).toBe(false);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, probe]);
  });

  it('leaves int32 tensors and the cpu backend on tfjs path', async () => {
    const ints = tf.tensor1d([-3, 0, 4], 'int32');
    const info = await tf.profile(() => tf.leakyRelu(ints, 0.5));
    expect(info.kernels.map((k) => k.name)).toContain('LeakyRelu');
    ints.dispose();
    await initBackend('cpu');
    const x = tf.tensor1d([-2, 3]);
    const cpu = await tf.profile(() => tf.grads((a: tf.Tensor) => tf.sum(tf.leakyRelu(a, 0.2)))([x]));
    expect(cpu.kernels.map((k) => k.name)).toEqual(expect.arrayContaining(['LeakyRelu', 'Greater', 'Select']));
    const [g] = tf.grads((a: tf.Tensor) => tf.sum(tf.leakyRelu(a, 0.2)))([x]);
    expect(Array.from(await g!.data())).toEqual([Math.fround(0.2), 1]);
    tf.dispose([x, g!]);
    await initBackend('wasm', { wasmThreads: 1 });
  });
});
