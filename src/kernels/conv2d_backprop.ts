import * as tf from '@tensorflow/tfjs-core';
import {
  convGeometry,
  padOrCrop,
  rotateFilter,
  swappedTaps,
  tapColumns,
  type ConvGeometry,
  type ConvPad,
  type DimRounding,
  type Spatial,
} from './conv_util.js';

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
  strides: Spatial,
  pad: ConvPad,
  dimRoundingMode?: DimRounding,
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
  dilations: Spatial = 1,
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
        const pixels = count * g.outHeight * g.outWidth;
        const columns = tapColumns(xPart as tf.Tensor4D, g, kh, kw);
        return tf.matMul(columns, tf.reshape(dyPart, [pixels, outC]) as tf.Tensor2D) as tf.Tensor2D;
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

/** One stride phase along one axis of a strided convolution's input gradient. */
interface AxisPhase {
  /** Filter taps of this phase, `r, r + s, r + 2s, …`, in the order the sub-filter uses them. */
  taps: number[];
  /** First position of the input this phase fills (`start + i·stride`). */
  start: number;
  /** How many input positions it fills. */
  count: number;
  /** `dy` padding before/after (negative: crop) for a valid stride-1 convolution. */
  before: number;
  after: number;
}

/**
 * The phases of one axis: input position `i` with `i + padBefore = q·s + r` receives
 * `Σ_j dy[q − j] · w[r + j·s]`, a stride-1 correlation of `dy` with the taps of phase `r`.
 */
function axisPhases(inSize: number, outSize: number, k: number, stride: number, padBefore: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const tapCount = r < k ? Math.ceil((k - r) / stride) : 0;
    const first = Math.ceil((padBefore - r) / stride);
    const last = Math.floor((inSize - 1 + padBefore - r) / stride);
    const taps = Array.from({ length: tapCount }, (_, t) => r + (tapCount - 1 - t) * stride);
    phases.push({
      taps,
      start: first * stride + r - padBefore,
      count: Math.max(0, last - first + 1),
      before: tapCount - 1 - first,
      after: last - (outSize - 1),
    });
  }
  return phases.sort((a, b) => a.start - b.start);
}

/**
 * Gradient of a 2-D convolution with respect to its input (`Conv2DBackpropInput`, also the
 * forward pass of `conv2dTranspose`), from the backend's forward convolution (XNNPACK on wasm).
 *
 * Stride 1: one convolution of `dy` with the filter rotated by 180° and in/out swapped.
 * Stride s > 1: the input splits into s×s phases (position mod s); each phase is a stride-1
 * convolution of `dy` with the sub-filter of the taps that reach it (2×2, 2×1, 1×2 and 1×1 taps
 * for a 3×3 filter at stride 2), and the phases are interleaved with concats and reshapes.
 * That does the forward convolution's arithmetic once, where convolving a zero-spread `dy`
 * would do it s² times.
 */
export function conv2dBackpropInputImpl(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: Spatial,
  pad: ConvPad,
  dimRoundingMode?: DimRounding,
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
): tf.Tensor4D {
  return tf.tidy(() => {
    const dys = toNhwc(dy, dataFormat);
    const nhwcInput: [number, number, number, number] =
      dataFormat === 'NCHW'
        ? [inputShape[0], inputShape[2], inputShape[3], inputShape[1]]
        : inputShape;
    const g = convGeometry(nhwcInput, filter.shape, strides, 1, pad, dimRoundingMode, false);
    const dx =
      g.strideHeight === 1 && g.strideWidth === 1
        ? stridelessInputGradient(dys, filter, g)
        : phasedInputGradient(dys, filter, g);
    return dataFormat === 'NCHW' ? (tf.transpose(dx, [0, 3, 1, 2]) as tf.Tensor4D) : dx;
  });
}

function stridelessInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  const before: [number, number] = [kh - 1 - g.padTop, kw - 1 - g.padLeft];
  // A stride-1 valid convolution over (inH + kh − 1) rows gives inH rows.
  const after: [number, number] = [
    g.inHeight + kh - 1 - dy.shape[1] - before[0],
    g.inWidth + kw - 1 - dy.shape[2] - before[1],
  ];
  const rotated = rotateFilter(filter);
  if (before.every((v) => v >= 0) && after.every((v) => v >= 0)) {
    return tf.conv2d(dy, rotated, 1, [
      [0, 0],
      [before[0], after[0]],
      [before[1], after[1]],
      [0, 0],
    ]);
  }
  return tf.conv2d(padOrCrop(dy, before, after, 1) as tf.Tensor4D, rotated, 1, 'valid');
}

function phasedInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [kh, kw, inC, outC] = filter.shape;
  const n = dy.shape[0];
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  const rowPhases = axisPhases(g.inHeight, g.outHeight, kh, sh, g.padTop);
  const colPhases = axisPhases(g.inWidth, g.outWidth, kw, sw, g.padLeft);
  const rowsPerPhase = Math.ceil(g.inHeight / sh);
  const colsPerPhase = Math.ceil(g.inWidth / sw);
  const rowBands: tf.Tensor[] = [];
  for (const rp of rowPhases) {
    const band: tf.Tensor[] = [];
    for (const cp of colPhases) {
      let phase: tf.Tensor4D;
      if (rp.taps.length === 0 || cp.taps.length === 0 || rp.count === 0 || cp.count === 0) {
        phase = tf.zeros([n, rp.count, cp.count, inC]);
      } else {
        const picked = rp.taps.flatMap((i) => cp.taps.map((j) => i * kw + j));
        const sub = tf.reshape(swappedTaps(filter, picked), [
          rp.taps.length, cp.taps.length, outC, inC,
        ]) as tf.Tensor4D;
        const framed = padOrCrop(dy, [rp.before, cp.before], [rp.after, cp.after], 1) as tf.Tensor4D;
        phase = tf.conv2d(framed, sub, 1, 'valid');
      }
      // Same size for every phase, so they interleave with a reshape; the excess is cropped.
      band.push(padOrCrop(phase, [0, 0], [rowsPerPhase - rp.count, colsPerPhase - cp.count], 1));
    }
    // [N, R, C, sw·inC] → [N, R, C·sw, inC]: column phases interleaved.
    const interleaved = tf.reshape(band.length === 1 ? band[0]! : tf.concat(band, 3), [
      n, rowsPerPhase, colsPerPhase * sw, inC,
    ]);
    rowBands.push(tf.reshape(interleaved, [n, rowsPerPhase, 1, colsPerPhase * sw * inC]));
  }
  const rows = tf.reshape(rowBands.length === 1 ? rowBands[0]! : tf.concat(rowBands, 2), [
    n, rowsPerPhase * sh, colsPerPhase * sw, inC,
  ]);
  return tf.slice(rows, [0, 0, 0, 0], [n, g.inHeight, g.inWidth, inC]) as tf.Tensor4D;
}
