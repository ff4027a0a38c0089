import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { PixelShuffle } from '../../src/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectLayerRoundTrip, maxAbsDiff } from '../helpers/roundtrip.js';
import { disposeFixture, loadFixture } from './torch_fixture.js';

/** PyTorch's definition, element by element: out[c, r·h + i, r·w + j] = in[r²c + r·i + j, h, w]. */
async function referencePixelShuffle(x: tf.Tensor4D, r: number): Promise<tf.Tensor4D> {
  const [n, h, w, cin] = x.shape;
  const c = cin / (r * r);
  const src = await x.data();
  const out = new Float32Array(n * h * r * w * r * c);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          for (let i = 0; i < r; i++)
            for (let j = 0; j < r; j++) {
              const from = ((b * h + y) * w + xx) * cin + r * r * ch + r * i + j;
              const to = ((b * h * r + r * y + i) * w * r + r * xx + j) * c + ch;
              out[to] = src[from];
            }
  return tf.tensor4d(out, [n, h * r, w * r, c]);
}

describe('PixelShuffle', () => {
  for (const [shape, r] of [
    [[2, 3, 5, 8], 2],
    [[1, 4, 3, 18], 3],
    [[3, 1, 1, 4], 2],
    [[2, 2, 2, 5], 1],
  ] as Array<[number[], number]>) {
    it(`matches PyTorch's channel order for [${shape}], r=${r}`, async () => {
      const layer = new PixelShuffle({ upscaleFactor: r });
      const x = randomTensor(shape, 1) as tf.Tensor4D;
      const y = layer.apply(x) as tf.Tensor;
      const expected = [shape[0], shape[1] * r, shape[2] * r, shape[3] / (r * r)];
      expect(y.shape).toEqual(expected);
      expect(layer.computeOutputShape([null, shape[1], shape[2], shape[3]])).toEqual([null, ...expected.slice(1)]);
      expect(await maxAbsDiff(y, await referencePixelShuffle(x, r))).toBe(0);
    });
  }

  it("equals PyTorch's nn.PixelShuffle on the decoder_block fixture (pre_shuffle → out)", async () => {
    const f = loadFixture('decoder_block');
    const y = new PixelShuffle().apply(f.outputs['pre_shuffle']) as tf.Tensor;
    expect(await maxAbsDiff(y, f.outputs['out'])).toBe(0);
    disposeFixture(f);
  });

  it('rejects channel counts that do not divide by r²', () => {
    expect(() => new PixelShuffle({ upscaleFactor: 2 }).apply(tf.zeros([1, 2, 2, 6]))).toThrow(/6 input channels .* upscaleFactor² = 4/);
    expect(() => new PixelShuffle({ upscaleFactor: 0 })).toThrow(/positive integer/);
  });

  it('passes a finite-difference gradient check', async () => {
    const layer = new PixelShuffle({ upscaleFactor: 2 });
    const x = randomTensor([2, 3, 2, 8], 2);
    expect(await checkGradients((xs) => layer.apply(xs[0]) as tf.Tensor, [x])).toBeGreaterThan(5);
  });

  it('survives a save/load round trip', async () => {
    const restored = await expectLayerRoundTrip(new PixelShuffle({ upscaleFactor: 2 }), [3, 3, 12], randomTensor([2, 3, 3, 12], 3));
    expect((restored as PixelShuffle).upscaleFactor).toBe(2);
  });
});
