import * as tf from '@tensorflow/tfjs-core';
import { convGeometry, dilateSpatial, padOrCrop, rotateFilter, tapLayout, tapWindow } from './conv_util.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** Bytes of im2col columns built at once; larger batches are split and summed. */
const COLUMN_BUDGET_BYTES = 64 * 1024 * 1024;

function toNhwc<T extends tf.Tensor>(x: T, dataFormat: string | undefined): T {
  return (dataFormat === 'NCHW' ? tf.transpose(x, [0, 2, 3, 1]) : x) as T;
}

/**
 * Gradient of a 2-D convolution with respect to its filter (`Conv2DBackpropFilter`), as one
 * plain matrix product: the input is moved to `[C, N, H, W]` once, each of the kh·kw filter
 * taps picks a window of it (a plain slice, see `tapLayout`), the windows are stacked into im2col rows
 * `[kh·kw·C, N·outH·outW]` (a concat on the outer axis, so contiguous copies) and multiplied
 * by `dy` seen as `[N·outH·outW, outC]`. No operand is transposed inside the matMul, which
 * matters on wasm where a transposed operand is many times slower.
 */
export function conv2dBackpropFilterImpl(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
  dilations: number | [number, number] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const xs = toNhwc(x, dataFormat);
    const dys = toNhwc(dy, dataFormat);
    const g = convGeometry(xs.shape, filterShape, strides, dilations, pad, dimRoundingMode, false);
    const [kh, kw, inC, outC] = filterShape;
    const perItem = kh * kw * inC * g.outHeight * g.outWidth * 4;
    const chunk = Math.max(1, Math.min(g.batch, Math.floor(COLUMN_BUDGET_BYTES / Math.max(perItem, 1))));
    let total: tf.Tensor2D | undefined;
    for (let start = 0; start < g.batch; start += chunk) {
      const count = Math.min(chunk, g.batch - start);
      const part: tf.Tensor2D = tf.tidy(() => {
        const xPart = count === g.batch ? xs : tf.slice(xs, [start, 0, 0, 0], [count, -1, -1, -1]);
        const dyPart = count === g.batch ? dys : tf.slice(dys, [start, 0, 0, 0], [count, -1, -1, -1]);
        const layout = tapLayout(xPart as tf.Tensor4D, g, kh, kw);
        const rows: tf.Tensor[] = [];
        const pixels = count * g.outHeight * g.outWidth;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) rows.push(tapWindow(layout, i * g.dilationHeight, j * g.dilationWidth));
        }
        const columns = rows.length === 1 ? rows[0]! : tf.concat(rows, 0);
        return tf.matMul(columns as tf.Tensor2D, tf.reshape(dyPart, [pixels, outC]) as tf.Tensor2D) as tf.Tensor2D;
      });
      if (total == null) {
        total = part;
      } else {
        const sum = tf.add(total, part) as tf.Tensor2D;
        total.dispose();
        part.dispose();
        total = sum;
      }
    }
    return tf.reshape(total!, filterShape) as tf.Tensor4D;
  });
}

/**
 * Gradient of a 2-D convolution with respect to its input (`Conv2DBackpropInput`, also the
 * forward pass of `conv2dTranspose`), as one forward convolution: `dy` gets `stride − 1`
 * zeros between its pixels, is padded so every input pixel sees every filter tap it touched,
 * and is convolved with the filter rotated by 180° and with in/out channels swapped. The
 * backend's forward convolution (XNNPACK on wasm) does the work.
 */
export function conv2dBackpropInputImpl(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
): tf.Tensor4D {
  return tf.tidy(() => {
    const dys = toNhwc(dy, dataFormat);
    const nhwcInput: [number, number, number, number] =
      dataFormat === 'NCHW'
        ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]]
        : inputShape;
    const g = convGeometry(nhwcInput, filter.shape, strides, 1, pad, dimRoundingMode, false);
    const [kh, kw] = filter.shape;
    const spread = dilateSpatial(dys, g.strideHeight, g.strideWidth);
    // Meaningful rows of the spread dy: (outH − 1)·stride + 1; the rest are trailing zeros.
    const spreadHeight = spread.shape[1];
    const spreadWidth = spread.shape[2];
    const before: [number, number] = [kh - 1 - g.padTop, kw - 1 - g.padLeft];
    // A stride-1 valid convolution over (inH + kh − 1) rows gives inH rows.
    const after: [number, number] = [
      g.inHeight + kh - 1 - spreadHeight - before[0],
      g.inWidth + kw - 1 - spreadWidth - before[1],
    ];
    const rotated = rotateFilter(filter);
    let dx: tf.Tensor4D;
    if (before.every((v) => v >= 0) && after.every((v) => v >= 0)) {
      dx = tf.conv2d(spread, rotated, 1, [
        [0, 0],
        [before[0], after[0]],
        [before[1], after[1]],
        [0, 0],
      ]);
    } else {
      const framed = padOrCrop(spread, before, after, 1) as tf.Tensor4D;
      dx = tf.conv2d(framed, rotated, 1, 'valid');
    }
    return dataFormat === 'NCHW' ? (tf.transpose(dx, [0, 3, 1, 2]) as tf.Tensor4D) : dx;
  });
}
