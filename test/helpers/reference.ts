// Direct nested-loop implementations with PyTorch's semantics, on NHWC / HWIO arrays, used to
// check the fast ops.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { randomTensor } from './gradcheck.js';
import { maxAbsDiff } from './roundtrip.js';

/**
 * Checks a fast op against its nested-loop reference (within 1e-5) on a random input of `xShape`
 * and kernel of `kShape` (seeds `xSeed`, `xSeed + 1`).
 */
export async function expectMatchesReference(
  op: (x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor,
  reference: (x: Float32Array, xShape: number[], kernel: Float32Array, kShape: number[]) => { data: Float32Array; shape: number[] },
  xShape: number[],
  kShape: number[],
  xSeed: number,
): Promise<void> {
  const x = randomTensor(xShape, xSeed) as tf.Tensor4D;
  const k = randomTensor(kShape, xSeed + 1) as tf.Tensor4D;
  const y = op(x, k);
  const ref = reference((await x.data()) as Float32Array, xShape, (await k.data()) as Float32Array, kShape);
  expect(y.shape).toEqual(ref.shape);
  expect(await maxAbsDiff(y, tf.tensor(ref.data, ref.shape))).toBeLessThan(1e-5);
}

/** Conv2d: x [n,h,w,c], kernel [k,k,c/groups,out]. */
export function referenceConv2d(
  x: Float32Array,
  xShape: number[],
  kernel: Float32Array,
  kShape: number[],
  stride: number,
  padding: number,
  groups: number,
): { data: Float32Array; shape: number[] } {
  const [n, h, w, c] = xShape;
  const [kh, kw, gin, out] = kShape;
  const gout = out / groups;
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - kw) / stride) + 1;
  const y = new Float32Array(n * oh * ow * out);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < out; o++) {
          const g = Math.floor(o / gout);
          let s = 0;
          for (let di = 0; di < kh; di++)
            for (let dj = 0; dj < kw; dj++) {
              const yi = i * stride - padding + di;
              const xj = j * stride - padding + dj;
              if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
              for (let ci = 0; ci < gin; ci++) {
                s +=
                  x[((b * h + yi) * w + xj) * c + g * gin + ci] *
                  kernel[((di * kw + dj) * gin + ci) * out + o];
              }
            }
          y[((b * oh + i) * ow + j) * out + o] = s;
        }
  return { data: y, shape: [n, oh, ow, out] };
}

/** ConvTranspose2d: x [n,h,w,cin], kernel [k,k,out,cin] (PyTorch [cin,out,k,k] transposed). */
export function referenceConvTranspose2d(
  x: Float32Array,
  xShape: number[],
  kernel: Float32Array,
  kShape: number[],
  stride: number,
  padding: number,
  outputPadding: number,
): { data: Float32Array; shape: number[] } {
  const [n, h, w, cin] = xShape;
  const [kh, kw, out] = kShape;
  const oh = (h - 1) * stride - 2 * padding + kh + outputPadding;
  const ow = (w - 1) * stride - 2 * padding + kw + outputPadding;
  const y = new Float32Array(n * oh * ow * out);
  // Scatter: input (i, j) adds kernel × value at output (i·s − p + di, j·s − p + dj).
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let ci = 0; ci < cin; ci++) {
          const v = x[((b * h + i) * w + j) * cin + ci];
          for (let di = 0; di < kh; di++)
            for (let dj = 0; dj < kw; dj++) {
              const oi = i * stride - padding + di;
              const oj = j * stride - padding + dj;
              if (oi < 0 || oi >= oh || oj < 0 || oj >= ow) continue;
              for (let o = 0; o < out; o++) {
                y[((b * oh + oi) * ow + oj) * out + o] +=
                  v * kernel[((di * kw + dj) * out + o) * cin + ci];
              }
            }
        }
  return { data: y, shape: [n, oh, ow, out] };
}
