// BatchNorm as per-channel affine maps on wasm (src/kernels/batch_norm_affine.ts) against the
// composition it replaces there: values, running statistics, gradients, a finite-difference
// check, kernel calls, the bytes kept for the backward pass, errors and leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BATCH_NORM_AFFINE,
  batchNormAffineGradSpec,
  batchNormAffineRunningSpec,
  batchNormAffineSpec,
  usesAffineBatchNorm,
} from '../../src/kernels/batch_norm_affine.js';
import { registerFastKernels, unregisterFastKernels } from '../../src/kernels/register.js';
import { initBackend } from '../../src/node/backend.js';
import { batchNormTorch } from '../../src/ops/batch_norm.js';
import { batchNormCase, batchNormOutputs, batchNormParams, batchNormTrainingStep, checkBatchNormGradients, expectSameBatchNorm } from '../helpers/batch_norm.js';
import { randomTensor } from '../helpers/gradcheck.js';

beforeAll(async () => {
  await initBackend('wasm', { wasmThreads: 1 });
});

/** The same with this library's wasm kernels unregistered: the composition of stock ops. */
async function composed<T>(f: () => T | Promise<T>): Promise<T> {
  unregisterFastKernels(['wasm']);
  try {
    const probe = tf.zeros([1, 1, 1, 1]);
    expect(usesAffineBatchNorm(probe)).toBe(false);
    probe.dispose();
    return await f();
  } finally {
    registerFastKernels(['wasm']);
  }
}

describe('BatchNorm as channel-affine maps on wasm', () => {
  it('is used on wasm for NHWC float32 tensors only', () => {
    const [x, matrix, ints] = [tf.zeros([1, 2, 2, 3]), tf.zeros([4, 3]), tf.zeros([1, 2, 2, 3], 'int32')];
    expect(usesAffineBatchNorm(x)).toBe(true);
    expect(usesAffineBatchNorm(matrix)).toBe(false);
    expect(usesAffineBatchNorm(ints)).toBe(false);
    tf.dispose([x, matrix, ints]);
  });

  // Channels a multiple of 16 take the loops of batch_norm_passes.ts; others the composition.
  for (const shape of [[2, 3, 4, 5], [2, 33, 17, 2], [4, 8, 8, 64], [3, 5, 3, 16], [1, 2, 2, 48]]) {
    for (const activation of ['linear', 'relu'] as const) {
      for (const useBatchStats of [true, false]) {
        it(`equals the composition: [${shape}], ${activation}, ${useBatchStats ? 'batch' : 'running'} statistics`, async () => {
          const { x, p, probe } = batchNormCase(shape);
          const before = tf.memory().numTensors;
          const ours = batchNormOutputs(x, p, useBatchStats, activation, probe);
          const theirs = await composed(() => batchNormOutputs(x, p, useBatchStats, activation, probe));
          await expectSameBatchNorm(ours, theirs, useBatchStats);
          const outputs = (r: typeof ours) => [r.y, r.mean, r.variance, ...r.grads].filter((t): t is tf.Tensor => t != null);
          tf.dispose([...outputs(ours), ...outputs(theirs)]);
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([x, probe, ...Object.values(p)]);
        });
      }
    }
  }

  it('passes a finite-difference gradient check (x, γ, β), with ReLU and without, composed and with the passes', async () => {
    for (const channels of [3, 16]) {
      expect(await checkBatchNormGradients('relu', channels)).toBeGreaterThanOrEqual(12);
      expect(await checkBatchNormGradients('linear', channels)).toBeGreaterThanOrEqual(12);
    }
  });

  it('runs fewer kernels than the composition, and keeps no ReLU output for the backward pass', async () => {
    const p = batchNormParams(16, 50);
    const x = randomTensor([4, 16, 16, 16], 51);
    const dy = randomTensor(x.shape, 52);
    const step = batchNormTrainingStep(x, p, dy);
    // Kernels that compute an activation-sized output: the passes over the activation (not
    // reshapes, identities or the gradient machinery's casts).
    const bookkeeping = new Set(['Reshape', 'Identity', 'OnesLike', 'Cast']);
    const passes = async () => {
      const info = await tf.profile(() => {
        tf.dispose(step());
      });
      return info.kernels.filter(
        (k) => !bookkeeping.has(k.name) && k.name !== 'forward' && k.outputShapes.some((s) => s != null && s.reduce((a, b) => a * b, 1) >= x.size),
      ).length;
    };
    const ours = await passes();
    const theirs = await composed(passes);
    // Forward: the affine map + ReLU (the statistics are [C]); the product with dy and its
    // gradient (2); backward: dx alone (the sums are [C]).
    expect(ours).toBeLessThanOrEqual(1 + 2 + 1);
    expect(ours).toBeLessThan(theirs);
    // Without the passes (channels not a multiple of 16): forward also the centring and its
    // square; backward x̂, the ReLU mask (map, step, product), g·x̂, the two maps of dx and their sum.
    const narrow = batchNormParams(12, 53);
    const xNarrow = randomTensor([4, 16, 16, 12], 54);
    const dyNarrow = randomTensor(xNarrow.shape, 55);
    const narrowStep = batchNormTrainingStep(xNarrow, narrow, dyNarrow);
    const narrowInfo = await tf.profile(() => {
      tf.dispose(narrowStep());
    });
    const narrowPasses = narrowInfo.kernels.filter(
      (k) => !bookkeeping.has(k.name) && k.name !== 'forward' && k.outputShapes.some((s) => s != null && s.reduce((a, b) => a * b, 1) >= xNarrow.size),
    ).length;
    expect(narrowPasses).toBeLessThanOrEqual(3 + 2 + 8);
    expect(narrowPasses).toBeGreaterThan(ours);
    tf.dispose([xNarrow, dyNarrow, ...Object.values(narrow)]);
    // Bytes alive between the forward and the backward pass.
    const taped = (): number => {
      let bytes = 0;
      const start = tf.memory().numBytes;
      tf.dispose(tf.grads((a: tf.Tensor) => {
        const r = batchNormTorch(a, { ...p, useBatchStats: true, activation: 'relu', updateRunningStats: false });
        bytes = tf.memory().numBytes - start;
        return tf.sum(tf.mul(r.y, dy));
      })([x]));
      return bytes;
    };
    const oursBytes = taped();
    const theirsBytes = await composed(taped);
    // One activation fewer than the composition, which also keeps the ReLU's output.
    expect(oursBytes).toBeLessThanOrEqual(theirsBytes - x.size * 4 + 16 * 4 * 2); // (ours keeps two more [C] vectors)
    tf.dispose([x, dy, ...Object.values(p)]);
  });

  it('rejects mis-shaped parameters and a single value per channel, and leaks nothing', () => {
    const p = batchNormParams(2, 60);
    const before = tf.memory().numTensors;
    expect(() => batchNormTorch(tf.zeros([2, 2, 2, 3]), { ...p, useBatchStats: true })).toThrow(/gamma must be \[3\]/);
    expect(() => batchNormTorch(tf.zeros([1, 1, 1, 2]), { ...p, useBatchStats: true })).toThrow(/more than one value per channel/);
    // Within a gradient computation too (the failure happens inside the tape).
    expect(() => tf.grads((a: tf.Tensor) => batchNormTorch(a, { ...p, useBatchStats: true }).y)([tf.zeros([1, 1, 1, 2])])).toThrow(
      /more than one value per channel/,
    );
    tf.dispose(tf.engine().state.activeScope?.track ?? []);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 3); // the three zeros inputs above
    tf.dispose(Object.values(p));
  });
});

describe('the coefficient kernels', () => {
  it('compute the affine map and the input gradient maps from their formulas (cpu and wasm)', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await initBackend(backend);
      expect(tf.getKernel(BATCH_NORM_AFFINE, backend)).toBeDefined();
      const mean = new Float32Array([0.5, -1]);
      const variance = new Float32Array([4, 0.25]);
      const gamma = new Float32Array([2, 3]);
      const beta = new Float32Array([0.1, -0.2]);
      const outs = [0, 1, 2, 3].map(() => new Float32Array(2));
      batchNormAffineSpec.compute([mean, variance, gamma, beta], outs, { epsilon: 0 }, [[2], [2], [2], [2]]);
      expect(Array.from(outs[2]!)).toEqual([0.5, 2]); // invstd
      expect(Array.from(outs[0]!)).toEqual([1, 6]); // γ·invstd
      expect(outs[1]![0]).toBeCloseTo(0.1 - 0.5, 6);
      expect(outs[1]![1]).toBeCloseTo(-0.2 + 6, 6);
      expect(Array.from(outs[3]!)).toEqual([-0.25, 2]);
      const grad = [0, 1, 2].map(() => new Float32Array(2));
      batchNormAffineGradSpec.compute([new Float32Array([4, 8]), new Float32Array([2, -2]), gamma, new Float32Array([0.5, 2])], grad, { count: 4 }, []);
      expect(Array.from(grad[0]!)).toEqual([1, 6]);
      expect(Array.from(grad[1]!)).toEqual([-0.5, 3]);
      expect(Array.from(grad[2]!)).toEqual([-1, -12]);
      const running = [0, 1].map(() => new Float32Array(2));
      batchNormAffineRunningSpec.compute([new Float32Array([1, 2]), new Float32Array([4, 8]), new Float32Array([3, -2]), new Float32Array([2, 6])], running, { momentum: 0.5, count: 3 }, []);
      expect(Array.from(running[0]!)).toEqual([2, 0]); // 0.5·1 + 0.5·3, 0.5·2 + 0.5·(−2)
      expect(Array.from(running[1]!)).toEqual([3.5, 8.5]); // 0.5·4 + 0.5·3/2·2, 0.5·8 + 0.5·3/2·6
      // Through the engine: the same as the loop.
      const r = tf.engine().runKernel(BATCH_NORM_AFFINE, {
        mean: tf.tensor1d(mean), variance: tf.tensor1d(variance), gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta),
      }, { epsilon: 0 }) as tf.Tensor[];
      expect(Array.from(await r[0]!.data())).toEqual([1, 6]);
      tf.dispose(r);
    }
    await initBackend('wasm', { wasmThreads: 1 });
  });
});
