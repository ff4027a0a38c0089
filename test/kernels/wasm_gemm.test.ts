import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { registerFastKernels, unregisterFastKernels } from '../../src/kernels/register.js';
import { wasmMatMulLoopRuns } from '../../src/kernels/wasm_gemm.js';
import { killWasmKernelWorkersForTest, startWasmKernelWorkers, stopWasmKernelWorkers } from '../../src/node/wasm_kernel_workers.js';
import { hasRowKernelThreads } from '../../src/kernels/wasm_module/rows.js';
import { wasmKernelsOf } from '../../src/kernels/wasm_module/module.js';
import { Rng } from '../../src/data/random.js';

const randoms = (shape: number[], seed: number) => {
  const rng = new Rng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => rng.uniform(-1, 1)), shape);
};

/** `run()`'s values with tfjs-backend-wasm's own kernels (XNNPACK), ours unregistered meanwhile. */
function stockValues(run: () => tf.Tensor): Float32Array {
  unregisterFastKernels(['wasm']);
  try {
    return tf.tidy(() => run().dataSync() as Float32Array);
  } finally {
    registerFastKernels(['wasm']);
  }
}

/** `run()` with our kernels: its values and whether our loop computed it. */
function oursValues(run: () => tf.Tensor): { values: Float32Array; looped: boolean } {
  const before = wasmMatMulLoopRuns();
  const values = tf.tidy(() => run().dataSync() as Float32Array);
  return { values, looped: wasmMatMulLoopRuns() > before };
}

/** Tensors the engine tracks, and buffers the backend holds (im2col rows are one of the latter). */
const held = () => ({ tensors: tf.memory().numTensors, buffers: tf.backend().numDataIds() });

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

describe('dense products on wasm through our matMul loop', () => {
  beforeAll(async () => {
    // The threaded build, so that the loop's units also run on a helper thread.
    const report = await initBackend('wasm', { wasmThreads: 2 });
    expect(report.backend).toBe('wasm');
  });
  afterAll(async () => {
    await stopWasmKernelWorkers(tf.backend());
  });

  it('runs with the helper threads of the threaded build', () => {
    const kernels = wasmKernelsOf(tf.backend());
    expect(kernels).toBeDefined();
    expect(hasRowKernelThreads(kernels!)).toBe(true);
  });

  it.each([
    // x shape, filter shape, stride, padding; each goes through the loop (few pixels per output channel or 1×1).
    { x: [2, 6, 6, 16], w: [1, 1, 16, 32], stride: 1, pad: 'valid' as const },
    { x: [4, 4, 4, 24], w: [3, 3, 24, 64], stride: 1, pad: 'same' as const },
    { x: [4, 9, 9, 8], w: [3, 3, 8, 64], stride: 2, pad: 'same' as const },
    { x: [4, 3, 3, 32], w: [2, 2, 32, 16], stride: 1, pad: 'valid' as const },
    { x: [2, 5, 7, 8], w: [2, 3, 8, 40], stride: [1, 2] as [number, number], pad: [[0, 0], [1, 0], [2, 1], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]] },
  ])('conv2d matches XNNPACK within 1e-5 and runs our loop: %o', ({ x: xShape, w: wShape, stride, pad }) => {
    const x = randoms(xShape, 1) as tf.Tensor4D;
    const w = randoms(wShape, 2) as tf.Tensor4D;
    const run = () => tf.conv2d(x, w, stride, pad);
    const expected = stockValues(run);
    const ours = oursValues(run);
    expect(ours.looped).toBe(true);
    expect(maxDifference(ours.values, expected)).toBeLessThan(1e-5);
    tf.dispose([x, w]);
  });

  it('conv2d with a bias (FusedConv2D) adds it in the loop; with an activation it stays with XNNPACK', () => {
    const x = randoms([4, 4, 4, 16], 3) as tf.Tensor4D;
    const w = randoms([3, 3, 16, 32], 4) as tf.Tensor4D;
    const bias = randoms([32], 5) as tf.Tensor1D;
    const withBias = () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias });
    const ours = oursValues(withBias);
    expect(ours.looped).toBe(true);
    expect(maxDifference(ours.values, stockValues(withBias))).toBeLessThan(1e-5);
    const withRelu = () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' });
    const relu = oursValues(withRelu);
    expect(relu.looped).toBe(false);
    expect(maxDifference(relu.values, stockValues(withRelu))).toBe(0);
    tf.dispose([x, w, bias]);
  });

  it('leaves to XNNPACK what the loop does not handle or where XNNPACK is faster', () => {
    const cases: Array<() => tf.Tensor> = [
      // Output channels not a multiple of 8, pixels not a multiple of 4, dilation.
      () => tf.conv2d(randoms([4, 4, 4, 8], 6) as tf.Tensor4D, randoms([3, 3, 8, 12], 7) as tf.Tensor4D, 1, 'same'),
      () => tf.conv2d(randoms([1, 3, 3, 8], 6) as tf.Tensor4D, randoms([1, 1, 8, 16], 7) as tf.Tensor4D, 1, 'same'),
      () => tf.conv2d(randoms([4, 6, 6, 8], 6) as tf.Tensor4D, randoms([3, 3, 8, 16], 7) as tf.Tensor4D, 1, 'same', 'NHWC', 2),
      // Many pixels per output channel with a 3×3 filter: im2col rows would cost more than they save.
      () => tf.conv2d(randoms([4, 16, 16, 8], 6) as tf.Tensor4D, randoms([3, 3, 8, 16], 7) as tf.Tensor4D, 1, 'same'),
    ];
    for (const run of cases) {
      const ours = oursValues(run);
      expect(ours.looped).toBe(false);
      expect(maxDifference(ours.values, stockValues(run))).toBe(0);
    }
  });

  it('hands a filter to XNNPACK from its third run on (weights reused, as in inference)', () => {
    const x = randoms([4, 4, 4, 16], 8) as tf.Tensor4D;
    const w = randoms([1, 1, 16, 32], 9) as tf.Tensor4D;
    const looped = [1, 2, 3, 4].map(() => oursValues(() => tf.conv2d(x, w, 1, 'valid')).looped);
    expect(looped).toEqual([true, true, false, false]);
    // A new tensor of the same values is a new filter: the loop again.
    const copy = tf.add(w, 0) as tf.Tensor4D;
    expect(oursValues(() => tf.conv2d(x, copy, 1, 'valid')).looped).toBe(true);
    tf.dispose([x, w, copy]);
  });

  it.each([
    { a: [12, 20], b: [20, 16], transposeA: false, looped: true },
    { a: [1, 20, 12], b: [1, 20, 16], transposeA: true, looped: true },
    { a: [12, 20], b: [16, 20], transposeB: true, looped: false },
    { a: [2, 12, 20], b: [2, 20, 16], looped: false }, // batched
    { a: [6, 20], b: [20, 16], looped: false }, // rows not a multiple of 4
  ])('matMul %o matches XNNPACK and runs the loop where it applies', ({ a: aShape, b: bShape, transposeA, transposeB, looped }) => {
    const a = randoms(aShape, 10);
    const b = randoms(bShape, 11);
    const run = () => tf.matMul(a, b, transposeA, transposeB);
    const ours = oursValues(run);
    expect(ours.looped).toBe(looped);
    expect(maxDifference(ours.values, stockValues(run))).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  it('gradients through convolutions and matMuls that use the loop match the cpu backend\'s', async () => {
    const x = randoms([4, 4, 4, 16], 12) as tf.Tensor4D;
    const w1 = randoms([3, 3, 16, 32], 13) as tf.Tensor4D;
    const w2 = randoms([1, 1, 32, 16], 14) as tf.Tensor4D;
    const dense = randoms([16, 8], 15) as tf.Tensor2D;
    const loss = (...[xv, a, b, d]: tf.Tensor[]) => {
      const h = tf.conv2d(tf.relu(tf.conv2d(xv as tf.Tensor4D, a as tf.Tensor4D, 2, 'same')), b as tf.Tensor4D, 1, 'valid');
      return tf.sum(tf.square(tf.matMul(tf.reshape(h, [16, 16]), d as tf.Tensor2D)));
    };
    const gradsOf = () => tf.grads(loss)([x, w1, w2, dense]).map((g) => g.dataSync() as Float32Array);
    const before = wasmMatMulLoopRuns();
    const ours = tf.tidy(gradsOf);
    expect(wasmMatMulLoopRuns()).toBeGreaterThan(before);
    // The reference: the cpu backend (wasm's stock kernels lack a filter gradient to compare with).
    await tf.setBackend('cpu');
    let reference: Float32Array[];
    try {
      reference = tf.tidy(gradsOf);
    } finally {
      await tf.setBackend('wasm');
    }
    // Relative to each gradient's largest element: the loss sums squares of products.
    ours.forEach((g, i) => {
      const scale = reference[i]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxDifference(g, reference[i]!) / scale, `gradient ${i}`).toBeLessThan(1e-5);
    });
    tf.dispose([x, w1, w2, dense]);
  });

  it('frees its output and im2col rows when the loop fails (a helper thread that died)', async () => {
    const backend = tf.backend();
    await stopWasmKernelWorkers(backend);
    expect(startWasmKernelWorkers(backend, 1, { timeoutMs: 200 })).toBe(true);
    // Helpers skip jobs until their module is instantiated: give this one time to get there.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await killWasmKernelWorkersForTest(backend);
    const x = randoms([4, 4, 4, 16], 16) as tf.Tensor4D;
    const w = randoms([3, 3, 16, 32], 17) as tf.Tensor4D;
    const before = held();
    expect(() => tf.conv2d(x, w, 1, 'same')).toThrow(/helper thread did not finish/);
    expect(held()).toEqual(before);
    // The kernels now run on the calling thread: the same convolution succeeds.
    const y = tf.conv2d(x, w, 1, 'same');
    expect(y.shape).toEqual([4, 4, 4, 32]);
    tf.dispose([x, w, y]);
    await stopWasmKernelWorkers(backend);
  });

  it('leaks no tensor and no heap memory', () => {
    const x = randoms([4, 4, 4, 16], 18) as tf.Tensor4D;
    const w = randoms([3, 3, 16, 32], 19) as tf.Tensor4D;
    const before = held();
    const runs = wasmMatMulLoopRuns();
    for (let i = 0; i < 3; i++) tf.tidy(() => tf.conv2d(x, tf.add(w, 0) as tf.Tensor4D, 1, 'same').dataSync());
    tf.tidy(() => tf.matMul(tf.reshape(x, [16, 64]), tf.reshape(w, [64, 72]) as tf.Tensor2D).dataSync());
    expect(wasmMatMulLoopRuns() - runs).toBe(4);
    expect(held()).toEqual(before);
    tf.dispose([x, w]);
  });
});
