import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { convGeometry, tapColumns, tapColumnsPerChannel, tapLayout, tapWindows } from '../../src/kernels/conv_util.js';
import { IM2COL } from '../../src/kernels/im2col.js';

/** The composition the kernel replaces: the tap windows, stacked by tap or per channel. */
function composed(x: tf.Tensor4D, g: ReturnType<typeof convGeometry>, kh: number, kw: number, perChannel: boolean): tf.Tensor {
  return tf.tidy(() => {
    const windows = tapWindows(tapLayout(x, g, kh, kw), g, kh, kw);
    if (!perChannel) return windows.length === 1 ? windows[0]! : tf.concat(windows, 0);
    const rows = windows.map((w) => tf.reshape(w, [w.shape[0], 1, w.shape[1]]));
    return rows.length === 1 ? rows[0]! : tf.concat(rows, 1);
  });
}

const CASES: Array<{ shape: [number, number, number, number]; kernel: [number, number]; stride: number | [number, number]; dilation: number; pad: 'same' | 'valid' | number }> = [
  { shape: [2, 8, 8, 3], kernel: [3, 3], stride: 1, dilation: 1, pad: 'same' },
  { shape: [2, 9, 7, 4], kernel: [3, 3], stride: 2, dilation: 1, pad: 'same' },
  { shape: [1, 10, 10, 1], kernel: [7, 7], stride: 2, dilation: 1, pad: 3 },
  { shape: [2, 8, 9, 2], kernel: [3, 2], stride: [1, 2], dilation: 1, pad: 'valid' },
  { shape: [1, 9, 9, 3], kernel: [3, 3], stride: 1, dilation: 2, pad: 'same' },
  { shape: [3, 4, 4, 6], kernel: [1, 1], stride: 1, dilation: 1, pad: 'valid' },
];

describe.each(['cpu', 'wasm'])('im2col kernel on %s', (backend) => {
  it.each(CASES)('is the composition of slices exactly, in one kernel call, by tap and per channel: %o', async (cs) => {
    await initBackend(backend);
    const x = tf.randomNormal(cs.shape, 0, 1, 'float32', 7) as tf.Tensor4D;
    const [kh, kw] = cs.kernel;
    const g = convGeometry(x.shape, [kh, kw, cs.shape[3], 1], cs.stride, cs.dilation, cs.pad, undefined, false);
    const before = tf.memory().numTensors;
    for (const perChannel of [false, true]) {
      const profile = await tf.profile(() => (perChannel ? tapColumnsPerChannel(x, g, kh, kw) : tapColumns(x, g, kh, kw)));
      const ours = profile.result as tf.Tensor;
      const theirs = composed(x, g, kh, kw, perChannel);
      expect(ours.shape).toEqual(theirs.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
      expect(profile.kernels.map((k) => k.name)).toEqual([IM2COL]);
      tf.dispose([ours, theirs]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
