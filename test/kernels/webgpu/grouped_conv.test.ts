// The WebGPU grouped convolution (src/kernels/webgpu/grouped_conv.ts) against the composition it
// replaces, on webgpu (lavapipe without a GPU): values, both gradients, a finite-difference
// check, one dispatch each, no leak.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GROUPED_CONV2D,
  GROUPED_CONV2D_BACKPROP_FILTER,
  GROUPED_CONV2D_BACKPROP_INPUT,
  hasOwnKernel,
} from '../../../src/kernels/own_kernels.js';
import { conv2dTorch } from '../../../src/ops/conv.js';
import { checkGradients, randomTensor } from '../../helpers/gradcheck.js';
import { dispatchesOf, relativeDiff, startWebGPUForTests, withComposites } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

const CASES = [
  { c: 8, out: 8, k: 3, stride: 1, padding: 1, groups: 4, h: 5, w: 6 }, // 2 per group (depthwise-sum composite)
  { c: 16, out: 32, k: 3, stride: 2, padding: 1, groups: 4, h: 7, w: 6 }, // 4 per group, strided, odd size
  { c: 16, out: 8, k: 3, stride: 1, padding: 1, groups: 2, h: 3, w: 4 }, // 8 per group (split/concat composite)
  { c: 24, out: 12, k: 3, stride: 2, padding: 0, groups: 3, h: 8, w: 9 }, // no padding
  { c: 6, out: 9, k: 1, stride: 1, padding: 0, groups: 3, h: 3, w: 3 }, // 1×1
];

/** Value and gradients (x, kernel) of `sum(conv · probe)`. */
function valueAndGrads(x: tf.Tensor4D, k: tf.Tensor4D, o: { stride: number; padding: number; groups: number }, probe: tf.Tensor) {
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dTorch(a as tf.Tensor4D, b as tf.Tensor4D, o), probe));
  const value = conv2dTorch(x, k, o);
  const [dx, dk] = tf.grads(f)([x, k]);
  return { value, dx: dx!, dk: dk! };
}

describe('grouped convolution on webgpu', () => {
  it('is registered for webgpu only, and the ops use it there', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(hasOwnKernel(GROUPED_CONV2D)).toBe(true);
    expect(tf.getKernel(GROUPED_CONV2D, 'cpu')).toBeUndefined();
    expect(tf.getKernel(GROUPED_CONV2D, 'wasm')).toBeUndefined();
  });

  for (const cs of CASES) {
    it(`equals the composition in value and both gradients: ${JSON.stringify(cs)}`, async () => {
      const x = randomTensor([2, cs.h, cs.w, cs.c], 1) as tf.Tensor4D;
      const k = randomTensor([cs.k, cs.k, cs.c / cs.groups, cs.out], 2) as tf.Tensor4D;
      const outShape = conv2dTorch(x, k, cs).shape;
      const probe = randomTensor(outShape, 3);
      const ours = valueAndGrads(x, k, cs, probe);
      const composed = await withComposites(() => valueAndGrads(x, k, cs, probe));
      for (const part of ['value', 'dx', 'dk'] as const) {
        expect(ours[part].shape, part).toEqual(composed[part].shape);
        // Same products, summed in another order: float32 rounding only.
        expect(await relativeDiff(ours[part], composed[part]), part).toBeLessThan(1e-5);
      }
      tf.dispose([x, k, probe, ...Object.values(ours), ...Object.values(composed)]);
    });
  }

  it('passes a finite-difference gradient check', async () => {
    const o = { stride: 2, padding: 1, groups: 2 };
    const x = randomTensor([2, 5, 5, 8], 4) as tf.Tensor4D;
    const k = randomTensor([3, 3, 4, 6], 5) as tf.Tensor4D;
    expect(await checkGradients((xs) => conv2dTorch(xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, o), [x, k], [], { eps: 1e-2 })).toBeGreaterThanOrEqual(6);
    tf.dispose([x, k]);
  });

  it('takes one dispatch for the value and one per gradient, where the composition takes dozens', async () => {
    const o = { stride: 1, padding: 1, groups: 4 };
    const x = randomTensor([1, 4, 4, 32], 6) as tf.Tensor4D;
    const k = randomTensor([3, 3, 8, 32], 7) as tf.Tensor4D;
    const dy = randomTensor([1, 4, 4, 32], 8);
    const engine = tf.engine();
    const attrs = (extra: object) => ({ ...o, ...extra }) as unknown as tf.NamedAttrMap;
    expect(await dispatchesOf(() => conv2dTorch(x, k, o))).toBe(1);
    expect(await dispatchesOf(() => engine.runKernel(GROUPED_CONV2D_BACKPROP_INPUT, { dy, filter: k }, attrs({ inputShape: x.shape })))).toBe(1);
    expect(await dispatchesOf(() => engine.runKernel(GROUPED_CONV2D_BACKPROP_FILTER, { x, dy }, attrs({ filterShape: k.shape })))).toBe(1);
    // Value and both gradients through the tape: ours and the composition's.
    const both = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dTorch(a as tf.Tensor4D, b as tf.Tensor4D, o), dy)))([x, k]);
    const ours = await dispatchesOf(both);
    const composed = await withComposites(() => dispatchesOf(both));
    expect(ours).toBeLessThanOrEqual(8);
    expect(composed).toBeGreaterThan(3 * ours);
    tf.dispose([x, k, dy]);
  });

  it('leaks no tensor', async () => {
    const o = { stride: 2, padding: 1, groups: 4 };
    const x = randomTensor([1, 6, 6, 8], 8) as tf.Tensor4D;
    const k = randomTensor([3, 3, 2, 8], 9) as tf.Tensor4D;
    const run = () => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(conv2dTorch(a as tf.Tensor4D, b as tf.Tensor4D, o)))([x, k]));
    run();
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, k]);
  });
});
