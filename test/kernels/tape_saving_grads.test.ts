import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { addReluKeepingOutput, reluKeepingOutput } from '../../src/kernels/relu_train.js';
import { composedGroupedConvForTest, conv2dTorch } from '../../src/ops/conv.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

// Hand-written gradients that keep less on the tape must equal the composition they replace in
// values and gradients, keep less, and leak nothing.

type Fn = (...xs: tf.Tensor[]) => tf.Tensor;

/** Values and gradients (of a weighted sum) of f at the inputs. */
function valueAndGrads(f: Fn, inputs: tf.Tensor[], weight: tf.Tensor): { value: tf.Tensor; grads: tf.Tensor[] } {
  const value = f(...inputs);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), weight)))(inputs);
  return { value, grads };
}

/** Bytes the gradient tape holds after running f forward (distinct saved tensors). */
function tapeBytes(f: Fn, inputs: tf.Tensor[]): number {
  let bytes = 0;
  const g = tf.grads((...xs: tf.Tensor[]) => {
    const y = f(...xs);
    const tape = (tf.engine() as unknown as { state: { activeTape: Array<{ saved?: tf.Tensor[] }> } }).state
      .activeTape;
    const seen = new Set<number>();
    for (const node of tape) {
      for (const t of node.saved ?? []) {
        if (!seen.has(t.id)) bytes += t.size * 4;
        seen.add(t.id);
      }
    }
    return tf.sum(y);
  })(inputs);
  tf.dispose(g);
  return bytes;
}

async function expectSame(ours: Fn, composed: Fn, inputs: tf.Tensor[], tol: number): Promise<void> {
  const weight = randomTensor(ours(...inputs).shape, 99);
  const a = valueAndGrads(ours, inputs, weight);
  const b = valueAndGrads(composed, inputs, weight);
  expect(a.value.shape).toEqual(b.value.shape);
  expect(await maxAbsDiff(a.value, b.value)).toBeLessThanOrEqual(tol);
  expect(a.grads.length).toBe(b.grads.length);
  for (const [i, g] of a.grads.entries()) {
    expect(g.shape).toEqual(b.grads[i]!.shape);
    expect(await maxAbsDiff(g, b.grads[i]!)).toBeLessThanOrEqual(tol);
  }
  tf.dispose([a.value, b.value, weight, ...a.grads, ...b.grads]);
}

function expectNoLeak(f: Fn, inputs: tf.Tensor[]): void {
  const run = () => tf.dispose(tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs)))(inputs));
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) run();
  expect(tf.memory().numTensors).toBe(before);
}

describe('reluKeepingOutput / addReluKeepingOutput', () => {
  // Exact zeros included: the gradient there must be 0, as tf.relu's.
  const x = tf.relu(randomTensor([2, 5, 4, 6], 1, -1, 1)) as tf.Tensor;
  const a = tf.sub(randomTensor([2, 5, 4, 6], 2), x);
  const b = randomTensor([2, 5, 4, 6], 3);

  it('equal tf.relu and tf.relu(tf.add) in values and gradients exactly', async () => {
    await expectSame((t) => reluKeepingOutput(t), (t) => tf.relu(t), [a], 0);
    await expectSame((t) => reluKeepingOutput(t), (t) => tf.relu(t), [tf.neg(x)], 0);
    await expectSame((p, q) => addReluKeepingOutput(p, q), (p, q) => tf.relu(tf.add(p, q)), [a, b], 0);
  });

  it('fall back to the composition for broadcasting shapes', async () => {
    const row = randomTensor([6], 4);
    await expectSame((p, q) => addReluKeepingOutput(p, q), (p, q) => tf.relu(tf.add(p, q)), [a, row], 0);
  });

  it('keep only the output on the tape, and leak nothing', () => {
    const size = a.size * 4;
    expect(tapeBytes((t) => reluKeepingOutput(t), [a])).toBe(size);
    expect(tapeBytes((t) => tf.relu(t), [a])).toBe(size);
    expect(tapeBytes((p, q) => addReluKeepingOutput(p, q), [a, b])).toBe(size);
    expect(tapeBytes((p, q) => tf.relu(tf.add(p, q)), [a, b])).toBe(3 * size);
    expectNoLeak((t) => reluKeepingOutput(t), [a]);
    expectNoLeak((p, q) => addReluKeepingOutput(p, q), [a, b]);
  });
});

describe('grouped conv2dTorch gradient', () => {
  // 2 and 4 channels per group run depthwise-then-sum, 8 split/conv/concat.
  for (const groupIn of [2, 4, 8]) {
    for (const stride of [1, 2]) {
      it(`equals the composed grouped conv (${groupIn} per group, stride ${stride}) and keeps only x and kernel`, async () => {
        const groups = 3;
        const x = randomTensor([2, 7, 6, groupIn * groups], 10 + groupIn) as tf.Tensor4D;
        const k = randomTensor([3, 3, groupIn, 2 * groups], 20 + groupIn) as tf.Tensor4D;
        const ours: Fn = (p, q) => conv2dTorch(p as tf.Tensor4D, q as tf.Tensor4D, { stride, padding: 1, groups });
        const pad: [[number, number], [number, number], [number, number], [number, number]] =
          [[0, 0], [1, 1], [1, 1], [0, 0]];
        const composed: Fn = (p, q) =>
          composedGroupedConvForTest(p as tf.Tensor4D, q as tf.Tensor4D, groups, stride, pad);
        // The direct kernel (src/kernels/grouped_conv.ts), where it runs, sums in another order.
        await expectSame(ours, composed, [x, k], 1e-5);
        expect(tapeBytes(ours, [x, k])).toBe((x.size + k.size) * 4);
        expect(tapeBytes(composed, [x, k])).toBeGreaterThan((x.size + k.size) * 4);
        expectNoLeak(ours, [x, k]);
        tf.dispose([x, k]);
      });
    }
  }
});
