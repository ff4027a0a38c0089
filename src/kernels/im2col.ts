import type { ArrayKernelSpec } from './array_kernel.js';
import type { ConvGeometry } from './conv_util.js';

/** Name of the im2col kernel (wasm and cpu). */
export const IM2COL = 'Tag2PixIm2Col';

/** Geometry of {@link im2colSpec}: the convolution's taps, strides, dilations, padding and output size. */
export type Im2ColAttrs = Pick<
  ConvGeometry,
  'filterHeight' | 'filterWidth' | 'strideHeight' | 'strideWidth' | 'dilationHeight' | 'dilationWidth' | 'padTop' | 'padLeft' | 'outHeight' | 'outWidth'
> & {
  /**
   * Row order of the output: `'tap'` gives `[taps·C, pixels]` (row `tap·C + c`, the filter
   * gradient's layout), `'channel'` gives `[C, taps, pixels]` (each channel's rows together, for
   * depthwise and grouped filter gradients).
   */
  rowOrder: 'tap' | 'channel';
};

/** Where one filter tap's values come from and go to. */
interface TapPlan {
  /** First output element of the tap's rows (channel 0, pixel 0). */
  tapBase: number;
  /** Input row of output row 0 (`i·dh − top`; output row `oh` reads row `oh·sh + rowOffset`). */
  rowOffset: number;
  /** Output columns whose input column is inside the image: `[first, end)`. */
  first: number;
  end: number;
  /** Input column that output column `first` reads. */
  sourceColumn: number;
}

/** The output layout and every tap's plan (shared by the JavaScript and WebAssembly loops). */
function planTaps(a: Im2ColAttrs, shape: number[]) {
  const [n, , width, channels] = shape as [number, number, number, number];
  const taps = a.filterHeight * a.filterWidth;
  const pixels = n * a.outHeight * a.outWidth;
  // Distance between the rows of neighbouring channels, and between the first rows of two taps.
  const channelStride = a.rowOrder === 'tap' ? pixels : taps * pixels;
  const tapStride = a.rowOrder === 'tap' ? channels * pixels : pixels;
  const plans: TapPlan[] = [];
  for (let i = 0; i < a.filterHeight; i++) {
    for (let j = 0; j < a.filterWidth; j++) {
      const offset = j * a.dilationWidth - a.padLeft;
      const first = Math.min(a.outWidth, Math.max(0, Math.ceil(-offset / a.strideWidth)));
      const end = Math.max(first, Math.min(a.outWidth, Math.floor((width - 1 - offset) / a.strideWidth) + 1));
      plans.push({
        tapBase: (i * a.filterWidth + j) * tapStride,
        rowOffset: i * a.dilationHeight - a.padTop,
        first,
        end,
        sourceColumn: first * a.strideWidth + offset,
      });
    }
  }
  return { channelStride, plans };
}

/**
 * The im2col columns of an NHWC input in one pass: for filter tap `t = i·kw + j`, channel `c` and
 * output pixel `p = (n·outH + oh)·outW + ow`, the value `x[n, oh·sh + i·dh − top, ow·sw + j·dw − left, c]`,
 * or 0 where that falls in the padding. It replaces a transpose, a pad, a phase split, one slice
 * per tap and a concat (13 kernels and as many passes for a 3×3 filter) with one copy.
 *
 * Written channel by channel, each a run of output pixels: the output is written in order and
 * the few input pixels a run reads stay cached for the next channel.
 */
export const im2colSpec: ArrayKernelSpec = {
  inputs: ['x'],
  outputShapes(shapes, attrs) {
    const a = attrs as unknown as Im2ColAttrs;
    const [n, , , c] = shapes[0]!;
    const taps = a.filterHeight * a.filterWidth;
    const pixels = n! * a.outHeight * a.outWidth;
    return [a.rowOrder === 'tap' ? [taps * c!, pixels] : [c!, taps, pixels]];
  },
  compute([x], [out], attrs, shapes) {
    const a = attrs as unknown as Im2ColAttrs;
    const [n, height, width, channels] = shapes[0]! as [number, number, number, number];
    const { outHeight, outWidth } = a;
    const { channelStride, plans } = planTaps(a, shapes[0]!);
    const step = a.strideWidth * channels;
    for (const { tapBase, rowOffset, first, end, sourceColumn } of plans) {
      for (let b = 0; b < n; b++) {
        for (let oh = 0; oh < outHeight; oh++) {
          const ih = oh * a.strideHeight + rowOffset;
          const inside = ih >= 0 && ih < height;
          let row = tapBase + (b * outHeight + oh) * outWidth;
          const source = ((b * height + ih) * width + sourceColumn) * channels;
          for (let c = 0; c < channels; c++, row += channelStride) {
            if (!inside) {
              out!.fill(0, row, row + outWidth);
              continue;
            }
            // Loops, not fill(): the padded runs are a pixel or two, shorter than a call.
            for (let o = row; o < row + first; o++) out![o] = 0;
            let s = source + c;
            for (let o = row + first, last = row + end; o < last; o++, s += step) out![o] = x![s]!;
            for (let o = row + end; o < row + outWidth; o++) out![o] = 0;
          }
        }
      }
    }
  },
  computeWasm(kernels, [x], [out], attrs, shapes) {
    const a = attrs as unknown as Im2ColAttrs;
    const [n, height, width, channels] = shapes[0]! as [number, number, number, number];
    const { channelStride, plans } = planTaps(a, shapes[0]!);
    for (const p of plans) {
      kernels.im2colTap(
        x!, out!, n, height, width, channels, a.outHeight, a.outWidth, a.strideHeight, a.strideWidth,
        p.rowOffset, p.sourceColumn, p.first, p.end, channelStride, p.tapBase,
      );
    }
  },
};
