import * as tf from '@tensorflow/tfjs-core';
import { hasArrayKernel } from './array_kernel.js';
import { PICK_ROWS } from './pick_rows.js';
import { IM2COL, type Im2ColAttrs } from './im2col.js';
import { SWAPPED_TAPS } from './swapped_taps.js';

/** A convolution's `pad` attribute, as tfjs takes it. */
export type ConvPad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
/** How tfjs rounds an output size that does not divide evenly. */
export type DimRounding = 'floor' | 'round' | 'ceil';
/** A stride or dilation: one number for both axes, or `[height, width]`. */
export type Spatial = number | [number, number];

/** Geometry of a 2-D convolution in NHWC, as the kernels here need it. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** Reads the geometry of a (depthwise) convolution the way tfjs computes it. */
export function convGeometry(
  inShape: number[],
  filterShape: number[],
  strides: Spatial,
  dilations: Spatial,
  pad: ConvPad,
  dimRoundingMode: DimRounding | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor,
 * or of a tensor whose spatial axes are the last two (`spatialAxis` = 2 for `[C, N, H, W]`).
 */
export function padOrCrop(
  x: tf.Tensor,
  before: [number, number],
  after: [number, number],
  spatialAxis: number,
): tf.Tensor {
  let y = x;
  const cropBegin = x.shape.map(() => 0);
  const cropSize = x.shape.slice();
  const padding: Array<[number, number]> = x.shape.map(() => [0, 0]);
  let needPad = false;
  let needCrop = false;
  for (let i = 0; i < 2; i++) {
    const axis = spatialAxis + i;
    const b = before[i]!;
    const a = after[i]!;
    padding[axis] = [Math.max(b, 0), Math.max(a, 0)];
    if (b > 0 || a > 0) needPad = true;
    if (b < 0 || a < 0) {
      needCrop = true;
      cropBegin[axis] = Math.max(-b, 0);
      cropSize[axis] = x.shape[axis]! - Math.max(-b, 0) - Math.max(-a, 0);
    }
  }
  if (needCrop) y = tf.slice(y, cropBegin, cropSize);
  if (needPad) y = tf.pad(y, padding);
  return y;
}

/**
 * Inserts `stride − 1` zeros between neighbouring pixels of an NHWC tensor (the input of the
 * transposed convolution that computes a strided convolution's input gradient). Done with a
 * reshape, one pad and a reshape: no per-element loop. Trailing zeros after the last pixel are
 * kept; the caller accounts for them (`(size − 1)·stride + 1` pixels are meaningful).
 */
export function dilateSpatial(x: tf.Tensor4D, strideHeight: number, strideWidth: number): tf.Tensor4D {
  if (strideHeight === 1 && strideWidth === 1) return x;
  const [n, h, w, c] = x.shape;
  const spread = tf.reshape(x, [n, h, 1, w, 1, c]);
  const padded = tf.pad(spread, [
    [0, 0],
    [0, 0],
    [0, strideHeight - 1],
    [0, 0],
    [0, strideWidth - 1],
    [0, 0],
  ]);
  return tf.reshape(padded, [n, h * strideHeight, w * strideWidth, c]);
}

/**
 * The input of a convolution rearranged for its filter taps. `x` `[N, H, W, C]` is moved to
 * `[C, N, H, W]`, padded by the convolution's padding (and to whole strides), and split by
 * stride phase into `[sh·sw·C·N, H/sh, W/sw]`. The window a filter tap sees,
 * `x[n, oh·sh + i − top, ow·sw + j − left, c]` for all output pixels, is then a plain rank-3
 * slice ({@link tapWindow}). Everything stays rank ≤ 4: wasm's strided slices and its
 * rank-6 slices/transposes run generic code that is 10–60× slower (docs/performance.md).
 */
export interface TapLayout {
  phased: tf.Tensor3D;
  channels: number;
  batch: number;
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
}

export function tapLayout(x: tf.Tensor4D, g: ConvGeometry, kh: number, kw: number): TapLayout {
  const [n, , , c] = x.shape;
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  const neededHeight = (g.outHeight - 1) * sh + (kh - 1) * g.dilationHeight + 1;
  const neededWidth = (g.outWidth - 1) * sw + (kw - 1) * g.dilationWidth + 1;
  const height = Math.ceil(neededHeight / sh) * sh;
  const width = Math.ceil(neededWidth / sw) * sw;
  const framed = padOrCrop(
    tf.transpose(x, [3, 0, 1, 2]),
    [g.padTop, g.padLeft],
    [height - g.padTop - g.inHeight, width - g.padLeft - g.inWidth],
    2,
  );
  let phased: tf.Tensor3D;
  if (sh === 1 && sw === 1) {
    phased = tf.reshape(framed, [c * n, height, width]);
  } else {
    const rows = tf.reshape(framed, [c * n * (height / sh), sh, width / sw, sw]);
    const byPhase = tf.transpose(rows, [1, 3, 0, 2]); // [sh, sw, C·N·H/sh, W/sw]
    phased = tf.reshape(byPhase, [sh * sw * c * n, height / sh, width / sw]);
  }
  return { phased, channels: c, batch: n, outHeight: g.outHeight, outWidth: g.outWidth, strideHeight: sh, strideWidth: sw };
}

/** What filter tap `(row, col)` (dilation included) sees: `[C, N·outH·outW]`. */
export function tapWindow(layout: TapLayout, row: number, col: number): tf.Tensor2D {
  const { phased, channels, batch, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = layout;
  const phase = (row % sh) * sw + (col % sw);
  const [rows, height, width] = phased.shape;
  if (rows === channels * batch && height === outHeight && width === outWidth) {
    // A 1×1 stride-1 unpadded tap sees everything: no copy.
    return tf.reshape(phased, [channels, batch * outHeight * outWidth]);
  }
  const window = tf.slice(
    phased,
    [phase * channels * batch, Math.floor(row / sh), Math.floor(col / sw)],
    [channels * batch, outHeight, outWidth],
  );
  return tf.reshape(window, [channels, batch * outHeight * outWidth]) as tf.Tensor2D;
}

/** Every filter tap's window ({@link tapWindow}), row by row over the taps, dilation included. */
export function tapWindows(layout: TapLayout, g: ConvGeometry, kh: number, kw: number): tf.Tensor2D[] {
  const windows: tf.Tensor2D[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) windows.push(tapWindow(layout, i * g.dilationHeight, j * g.dilationWidth));
  }
  return windows;
}

/** The one-pass im2col kernel where the backend has it (wasm, cpu), else `undefined`. */
function im2colKernel(x: tf.Tensor4D, g: ConvGeometry, kh: number, kw: number, rowOrder: Im2ColAttrs['rowOrder']): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || !hasArrayKernel(IM2COL)) return undefined;
  const attrs: Im2ColAttrs = {
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: g.strideHeight,
    strideWidth: g.strideWidth,
    dilationHeight: g.dilationHeight,
    dilationWidth: g.dilationWidth,
    padTop: g.padTop,
    padLeft: g.padLeft,
    outHeight: g.outHeight,
    outWidth: g.outWidth,
    rowOrder,
  };
  return tf.engine().runKernel(IM2COL, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** The im2col rows of `x`, `[kh·kw·C, N·outH·outW]` (row `tap·C + c`): the tap windows stacked. */
export function tapColumns(x: tf.Tensor4D, g: ConvGeometry, kh: number, kw: number): tf.Tensor2D {
  const fused = im2colKernel(x, g, kh, kw, 'tap');
  if (fused !== undefined) return fused as tf.Tensor2D;
  const rows = tapWindows(tapLayout(x, g, kh, kw), g, kh, kw);
  return (rows.length === 1 ? rows[0]! : tf.concat(rows, 0)) as tf.Tensor2D;
}

/** The tap windows of `x` per channel, `[C, kh·kw, N·outH·outW]`: each channel's im2col rows. */
export function tapColumnsPerChannel(x: tf.Tensor4D, g: ConvGeometry, kh: number, kw: number): tf.Tensor3D {
  const fused = im2colKernel(x, g, kh, kw, 'channel');
  if (fused !== undefined) return fused as tf.Tensor3D;
  const windows = tapWindows(tapLayout(x, g, kh, kw), g, kh, kw).map((w) => tf.reshape(w, [w.shape[0], 1, w.shape[1]]));
  return (windows.length === 1 ? windows[0]! : tf.concat(windows, 1)) as tf.Tensor3D;
}

/**
 * Taps `taps` of a filter `[kh, kw, in, out]` (tap `i·kw + j`) with in/out swapped,
 * `[taps.length, out, in]`: one copy kernel on wasm and cpu, else a transpose and {@link pickRows}
 * (wasm's Reverse kernel is ~20× slower than a transpose of the same filter).
 */
export function swappedTaps(filter: tf.Tensor4D, taps: number[]): tf.Tensor3D {
  const [kh, kw, inC, outC] = filter.shape;
  if (filter.dtype === 'float32' && hasArrayKernel(SWAPPED_TAPS)) {
    return tf.engine().runKernel(SWAPPED_TAPS, { filter }, { taps } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const rows = tf.reshape(tf.transpose(filter, [0, 1, 3, 2]), [kh * kw, outC * inC]) as tf.Tensor2D;
    const inOrder = taps.length === kh * kw && taps.every((t, i) => t === i);
    return tf.reshape(inOrder ? rows : pickRows(rows, taps), [taps.length, outC, inC]) as tf.Tensor3D;
  });
}

/**
 * The filter of the transposed convolution: `[kh, kw, in, out]` rotated by 180° in space with
 * in/out swapped, `[kh, kw, out, in]`.
 */
export function rotateFilter(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, inC, outC] = filter.shape;
  const taps = kh * kw;
  return tf.reshape(swappedTaps(filter, Array.from({ length: taps }, (_, i) => taps - 1 - i)), [kh, kw, outC, inC]);
}

/** Rows `indices` of a matrix, in that order: one copy kernel on wasm and cpu, else slices + concat. */
export function pickRows(rows: tf.Tensor2D, indices: number[]): tf.Tensor2D {
  if (rows.dtype === 'float32' && hasArrayKernel(PICK_ROWS)) {
    return tf.engine().runKernel(PICK_ROWS, { x: rows }, { indices } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const picked = indices.map((i) => tf.slice(rows, [i, 0], [1, rows.shape[1]]));
    return (picked.length === 1 ? picked[0]! : tf.concat(picked, 0)) as tf.Tensor2D;
  });
}
