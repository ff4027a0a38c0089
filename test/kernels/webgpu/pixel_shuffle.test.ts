// Why PixelShuffle has no WebGPU program of ours: on webgpu it is already one dispatch (the
// reshapes are free, the transpose is one program), and so is its gradient.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pixelShuffle } from '../../../src/ops/pixel_shuffle.js';
import { randomTensor } from '../../helpers/gradcheck.js';
import { dispatchesOf, startWebGPUForTests } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

describe('PixelShuffle on webgpu', () => {
  it('takes one dispatch, and one for its gradient', async () => {
    const x = randomTensor([2, 4, 4, 64], 1) as tf.Tensor4D;
    const dy = randomTensor([2, 8, 8, 16], 2);
    expect(await dispatchesOf(() => pixelShuffle(x, 2))).toBe(1);
    const vjp = () => tf.grads((a: tf.Tensor) => pixelShuffle(a as tf.Tensor4D, 2))([x], dy);
    // The forward pass (1) and the gradient's transpose (1).
    expect(await dispatchesOf(vjp)).toBe(2);
    tf.dispose([x, dy]);
  });
});
