import * as tf from '@tensorflow/tfjs-core';

/**
 * A grid image `[N·S, 4·S, 3]` in [0, 1] for watching training: one row per sample with
 * line art, guide output, colour output and ground truth side by side.
 *
 * @param lineArt `[N, S, S, 1]` in [0, 1].
 * @param guide `[N, S, S, 3]` in [-1, 1].
 * @param colour `[N, S, S, 3]` in [-1, 1].
 * @param groundTruth `[N, S, S, 3]` in [-1, 1].
 */
export function sampleGrid(
  lineArt: tf.Tensor4D,
  guide: tf.Tensor4D,
  color: tf.Tensor4D,
  groundTruth: tf.Tensor4D,
): tf.Tensor3D {
  const [n, h, w] = lineArt.shape;
  for (const [name, t] of [['guide', guide], ['colour', color], ['groundTruth', groundTruth]] as const) {
    if (t.shape.join(',') !== [n, h, w, 3].join(',')) {
      throw new Error(`sampleGrid: ${name} is [${t.shape.join(', ')}], expected [${[n, h, w, 3].join(', ')}].`);
    }
  }
  return tf.tidy(() => {
    const toUnit = (x: tf.Tensor) => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1);
    const row = tf.concat(
      [tf.tile(tf.clipByValue(lineArt, 0, 1), [1, 1, 1, 3]), toUnit(guide), toUnit(color), toUnit(groundTruth)],
      2,
    );
    return tf.reshape(row, [n * h, 4 * w, 3]) as tf.Tensor3D;
  });
}
