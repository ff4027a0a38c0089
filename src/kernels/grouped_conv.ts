import type * as tf from '@tensorflow/tfjs-core';
import type { ArrayKernelSpec } from './array_kernel.js';
import { runRows } from './wasm_module/rows.js';

/** Name of the direct grouped convolution kernel (wasm and cpu). */
export const GROUPED_CONV2D_DIRECT = 'Tag2PixGroupedConv2DDirect';
/** Name of its direct filter gradient (wasm and cpu). */
export const GROUPED_CONV2D_FILTER_DIRECT = 'Tag2PixGroupedConv2DFilterDirect';

/** Attributes of {@link groupedConvDirectSpec}: PyTorch's `stride`, symmetric `padding` and `groups`. */
export interface GroupedConvDirectAttrs {
  stride: number;
  padding: number;
  groups: number;
}

/** The geometry every loop of the kernel needs. */
function geometry(shapes: number[][], attrs: tf.NamedAttrMap) {
  const { stride, padding, groups } = attrs as unknown as GroupedConvDirectAttrs;
  const [n, height, width, channels] = shapes[0]! as [number, number, number, number];
  const [kh, kw, groupIn, outChannels] = shapes[1]! as [number, number, number, number];
  const outHeight = Math.floor((height + 2 * padding - kh) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kw) / stride) + 1;
  // Output columns whose taps all fall inside the image: [interiorStart, interiorEnd).
  const interiorStart = Math.min(outWidth, Math.ceil(padding / stride));
  const interiorEnd = Math.max(interiorStart, Math.min(outWidth, Math.floor((width - kw + padding) / stride) + 1));
  return {
    n, height, width, channels, kh, kw, groupIn, outChannels, stride, padding,
    groupOut: outChannels / groups, outHeight, outWidth, interiorStart, interiorEnd,
  };
}

/**
 * Whether the WebAssembly loop handles this grouping: it computes four output channels per SIMD
 * vector, all of one group (a group's outputs a multiple of 4) or of two (2 outputs per group).
 */
export function wasmGroupedConvHandles(outChannels: number, groups: number): boolean {
  const groupOut = outChannels / groups;
  return outChannels % 4 === 0 && (groupOut === 2 || groupOut % 4 === 0);
}

/** Whether the WebAssembly filter-gradient loop handles it too (it sums inputs in pairs or fours). */
export function wasmGroupedFilterGradHandles(groupIn: number, outChannels: number, groups: number): boolean {
  return groupIn % 2 === 0 && wasmGroupedConvHandles(outChannels, groups);
}

/**
 * Grouped convolution computed directly, NHWC with PyTorch's contiguous groups: each output
 * pixel's channels read only their group's inputs in the pixel's window, one pass that writes
 * the output once. The composition it replaces (a depthwise convolution with the group's output
 * count as multiplier, then a sum over the group's inputs) writes and reads an intermediate
 * `groupIn` times the output's size, and XNNPACK runs a multiplier above 1 as a generic GEMM of
 * nine-long rows (about 5 GFLOP/s on 2 threads, against 15-20 on one thread here:
 * docs/performance.md, "Grouped convolution").
 */
export const groupedConvDirectSpec: ArrayKernelSpec = {
  inputs: ['x', 'filter'],
  outputShapes(shapes, attrs) {
    const g = geometry(shapes, attrs);
    return [[g.n, g.outHeight, g.outWidth, g.outChannels]];
  },
  compute([x, filter], [out], attrs, shapes) {
    const g = geometry(shapes, attrs);
    const { height, width, channels, kh, kw, groupIn, groupOut, outChannels, stride, padding } = g;
    let o = 0;
    for (let row = 0; row < g.n * g.outHeight; row++) {
      const b = Math.floor(row / g.outHeight);
      const iy0 = (row % g.outHeight) * stride - padding;
      const kyStart = Math.max(0, -iy0);
      const kyEnd = Math.min(kh, height - iy0);
      for (let ox = 0; ox < g.outWidth; ox++) {
        const ix0 = ox * stride - padding;
        const kxStart = Math.max(0, -ix0);
        const kxEnd = Math.min(kw, width - ix0);
        for (let oc = 0; oc < outChannels; oc++, o++) {
          const firstInput = Math.floor(oc / groupOut) * groupIn;
          let sum = 0;
          for (let ky = kyStart; ky < kyEnd; ky++) {
            for (let kx = kxStart; kx < kxEnd; kx++) {
              let xi = ((b * height + iy0 + ky) * width + ix0 + kx) * channels + firstInput;
              let wi = (ky * kw + kx) * groupIn * outChannels + oc;
              // float32 steps in the WebAssembly loop's order, so both give the same bits.
              for (let j = 0; j < groupIn; j++, xi++, wi += outChannels) sum = Math.fround(sum + Math.fround(x![xi]! * filter![wi]!));
            }
          }
          out![o] = sum;
        }
      }
    }
  },
  computeWasm(kernels, [x, filter], [out], attrs, shapes) {
    const g = geometry(shapes, attrs);
    // Output rows are independent: with threads lent (Node, the threaded build), each takes a range.
    const args = [
      x!, filter!, out!, g.height, g.width, g.channels, g.outHeight, g.outWidth, g.kh, g.kw, g.stride, g.padding,
      g.groupIn, g.groupOut, g.outChannels, g.interiorStart, g.interiorEnd,
    ];
    runRows(kernels, 'groupedConv', args, g.n * g.outHeight, g.n * g.outHeight * g.outWidth * g.outChannels * g.kh * g.kw * g.groupIn);
  },
};

/** Attributes of {@link groupedConvFilterDirectSpec}: the forward convolution's and its filter size. */
export interface GroupedConvFilterDirectAttrs extends GroupedConvDirectAttrs {
  filterHeight: number;
  filterWidth: number;
}

/** The filter gradient's geometry, from the forward input `x` and its output gradient `dy`. */
function filterGeometry(shapes: number[][], attrs: tf.NamedAttrMap) {
  const { stride, padding, groups, filterHeight: kh, filterWidth: kw } = attrs as unknown as GroupedConvFilterDirectAttrs;
  const [n, height, width, channels] = shapes[0]! as [number, number, number, number];
  const [, outHeight, outWidth, outChannels] = shapes[1]! as [number, number, number, number];
  return {
    n, height, width, channels, outHeight, outWidth, outChannels, kh, kw, stride, padding,
    groupIn: channels / groups, groupOut: outChannels / groups,
  };
}

/**
 * The grouped convolution's filter gradient computed directly: `dk[ky, kx, j, o]` sums, over
 * every image and output pixel whose tap falls inside the image, the input of channel j of o's
 * group under the tap times `dy` at o. It replaces per-channel im2col rows, two transposes and a
 * batched matMul (a scalar loop on wasm). The WebAssembly loop takes a tap and four output
 * channels per row, so rows split over the helper threads without sharing an output.
 */
export const groupedConvFilterDirectSpec: ArrayKernelSpec = {
  inputs: ['x', 'dy'],
  outputShapes(shapes, attrs) {
    const g = filterGeometry(shapes, attrs);
    return [[g.kh, g.kw, g.groupIn, g.outChannels]];
  },
  compute([x, dy], [out], attrs, shapes) {
    const g = filterGeometry(shapes, attrs);
    const { n, height, width, channels, outHeight, outWidth, outChannels, kh, kw, stride, padding, groupIn, groupOut } = g;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        for (let j = 0; j < groupIn; j++) {
          for (let oc = 0; oc < outChannels; oc++) {
            const channel = Math.floor(oc / groupOut) * groupIn + j;
            // float32 steps in the WebAssembly loop's order (images, rows, columns).
            let sum = 0;
            for (let b = 0; b < n; b++) {
              for (let oy = 0; oy < outHeight; oy++) {
                const iy = oy * stride - padding + ky;
                if (iy < 0 || iy >= height) continue;
                for (let ox = 0; ox < outWidth; ox++) {
                  const ix = ox * stride - padding + kx;
                  if (ix < 0 || ix >= width) continue;
                  const xv = x![((b * height + iy) * width + ix) * channels + channel]!;
                  sum = Math.fround(sum + Math.fround(xv * dy![((b * outHeight + oy) * outWidth + ox) * outChannels + oc]!));
                }
              }
            }
            out![((ky * kw + kx) * groupIn + j) * outChannels + oc] = sum;
          }
        }
      }
    }
  },
  computeWasm(kernels, [x, dy], [out], attrs, shapes) {
    const g = filterGeometry(shapes, attrs);
    const args = [
      x!, dy!, out!, g.n, g.height, g.width, g.channels, g.outHeight, g.outWidth, g.kw, g.stride, g.padding,
      g.groupIn, g.groupOut, g.outChannels,
    ];
    runRows(kernels, 'groupedConvFilterGrad', args, g.kh * g.kw * (g.outChannels / 4), g.n * g.outHeight * g.outWidth * g.outChannels * g.kh * g.kw * g.groupIn);
  },
};
