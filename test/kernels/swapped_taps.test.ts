import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { pickRows, rotateFilter, swappedTaps } from '../../src/kernels/conv_util.js';
import { SWAPPED_TAPS } from '../../src/kernels/swapped_taps.js';

/** The composition the kernel replaces: the filter transposed, then its taps picked. */
function composed(filter: tf.Tensor4D, taps: number[]): tf.Tensor {
  const [kh, kw, inC, outC] = filter.shape;
  return tf.tidy(() => tf.reshape(pickRows(tf.reshape(tf.transpose(filter, [0, 1, 3, 2]), [kh * kw, outC * inC]) as tf.Tensor2D, taps), [taps.length, outC, inC]));
}

describe.each(['cpu', 'wasm'])('swapped filter taps on %s', (backend) => {
  it.each([
    { shape: [3, 3, 5, 7], taps: [8, 7, 6, 5, 4, 3, 2, 1, 0] },
    { shape: [3, 3, 4, 6], taps: [4, 1, 7] },
    { shape: [1, 1, 3, 2], taps: [0] },
    { shape: [7, 7, 1, 16], taps: [48, 0, 24] },
  ] as Array<{ shape: [number, number, number, number]; taps: number[] }>)('are the transpose and the picked taps exactly, in one kernel call: %o', async ({ shape, taps }) => {
    await initBackend(backend);
    const filter = tf.randomNormal(shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => swappedTaps(filter, taps));
    const ours = profile.result as tf.Tensor;
    expect(profile.kernels.map((k) => k.name)).toEqual([SWAPPED_TAPS]);
    const theirs = composed(filter, taps);
    expect(ours.shape).toEqual([taps.length, shape[3], shape[2]]);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    tf.dispose([ours, theirs]);
    expect(tf.memory().numTensors).toBe(before);
    filter.dispose();
  });

  it('rotateFilter gives the 180° rotation with in/out swapped', async () => {
    await initBackend(backend);
    const filter = tf.randomNormal([2, 3, 2, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
    const f = filter.arraySync();
    const r = tf.tidy(() => rotateFilter(filter).arraySync());
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let a = 0; a < 2; a++) for (let b = 0; b < 4; b++) expect(r[i]![j]![b]![a]).toBe(f[1 - i]![2 - j]![a]![b]);
      }
    }
    filter.dispose();
  });
});
