import * as tf from '@tensorflow/tfjs-core';

/**
 * PyTorch's `PixelShuffle(r)` on an NHWC tensor: `[N, H, W, C·r²] → [N, H·r, W·r, C]` with
 * `out[n, r·h + i, r·w + j, c] = in[n, h, w, r²·c + r·i + j]`.
 *
 * This is not `tf.depthToSpace`'s channel order (which is `(r·i + j)·C + c`), and unlike
 * depthToSpace it is differentiable: it is only reshapes and a transpose.
 */
export function pixelShuffle(x: tf.Tensor4D, upscaleFactor: number): tf.Tensor4D {
  const r = upscaleFactor;
  const [n, h, w, c] = x.shape;
  if (!Number.isInteger(r) || r < 1) {
    throw new Error(`pixelShuffle: upscaleFactor must be a positive integer, got ${r}.`);
  }
  if (c % (r * r) !== 0) {
    throw new Error(
      `pixelShuffle: ${c} channels are not divisible by upscaleFactor² = ${r * r}; ` +
        `the input needs C·${r * r} channels for C output channels.`,
    );
  }
  const outC = c / (r * r);
  return tf.tidy(() => {
    const split = tf.reshape(x, [n, h, w, outC, r, r]);
    const moved = tf.transpose(split, [0, 1, 4, 2, 5, 3]);
    return tf.reshape(moved, [n, h * r, w * r, outC]) as tf.Tensor4D;
  });
}
