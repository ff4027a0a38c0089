import * as tf from '@tensorflow/tfjs-core';
import type { ArrayKernelSpec } from './array_kernel.js';
import { runRows } from './wasm_module/rows.js';

/*
 * The passes of training-mode BatchNorm over an NHWC activation, each one loop (wasm: the
 * WebAssembly loops of wasm_module/batch_norm.wat; cpu: the same loops in JavaScript). They replace
 * chains of elementwise kernels that each read and write the whole activation: the statistics
 * were a mean, a subtraction, a square and another mean; the gradient sums a 1×1 depthwise map
 * for x̂, another for the ReLU's input, a step, two products and two sums; the input gradient two
 * maps and an add (src/kernels/batch_norm_affine.ts).
 */

/** Name of the per-channel mean and variance kernel (wasm and cpu). */
export const CHANNEL_MOMENTS = 'Tag2PixChannelMoments';
/** Name of the kernel of BatchNorm's gradient sums `dBeta = Σg`, `dGamma = Σg·x̂` (wasm and cpu). */
export const BATCH_NORM_GRAD_SUMS = 'Tag2PixBatchNormGradSums';
/** Name of the kernel of BatchNorm's input gradient (wasm and cpu). */
export const BATCH_NORM_GRAD_INPUT = 'Tag2PixBatchNormGradInput';

/**
 * Whether the passes handle an activation of this shape: NHWC, channels a multiple of 16 (the
 * sums take 16 channels, one cache line of a pixel, as four SIMD vectors), at least one pixel.
 */
export function batchNormPassesHandle(shape: number[]): boolean {
  return shape.length === 4 && shape[3]! % 16 === 0 && shape[3]! > 0 && shape[0]! * shape[1]! * shape[2]! > 0;
}

/** Attributes of the gradient kernels: whether a ReLU follows the normalisation. */
export interface BatchNormGradAttrs {
  relu: boolean;
}

const channelsOf = (shape: number[]) => shape[shape.length - 1]!;
const size = (shape: number[]) => tf.util.sizeFromShape(shape);
const pixelsOf = (shape: number[]) => size(shape) / channelsOf(shape);

/**
 * Per channel of `x`, `mean = Σx / n` and then `variance = Σ(x − mean)² / n` (biased, centred
 * before squaring as the composition it replaces: no cancellation), over every pixel.
 */
export const channelMomentsSpec: ArrayKernelSpec = {
  inputs: ['x'],
  outputShapes: (shapes) => [[channelsOf(shapes[0]!)], [channelsOf(shapes[0]!)]],
  compute([x], [mean, variance], _attrs, shapes) {
    const channels = channelsOf(shapes[0]!);
    const pixels = pixelsOf(shapes[0]!);
    for (let c = 0; c < channels; c++) {
      // float32 steps in the WebAssembly loop's order.
      let sum = 0;
      for (let p = 0; p < pixels; p++) sum = Math.fround(sum + x![p * channels + c]!);
      const m = Math.fround(sum / pixels);
      sum = 0;
      for (let p = 0; p < pixels; p++) {
        const d = Math.fround(x![p * channels + c]! - m);
        sum = Math.fround(sum + Math.fround(d * d));
      }
      mean![c] = m;
      variance![c] = Math.fround(sum / pixels);
    }
  },
  computeWasm(kernels, [x], [mean, variance], _attrs, shapes) {
    const channels = channelsOf(shapes[0]!);
    runRows(kernels, 'channelMoments', [x!, mean!, variance!, pixelsOf(shapes[0]!), channels], channels / 16, 2 * size(shapes[0]!));
  },
};

/**
 * BatchNorm's gradient at one element: `x̂ = x·invStd + xhatShift` and `g = dy`, or with the ReLU
 * `g = dy` where `x̂·γ + β > 0` and 0 elsewhere (float32 steps, as the WebAssembly loops).
 */
function upstream(x: number, dy: number, invStd: number, xhatShift: number, gamma: number, beta: number, relu: boolean): [number, number] {
  const xhat = Math.fround(Math.fround(x * invStd) + xhatShift);
  const g = relu && !(Math.fround(Math.fround(xhat * gamma) + beta) > 0) ? 0 : dy;
  return [g, xhat];
}

/**
 * Per channel, over every pixel: `dBeta = Σg` and `dGamma = Σg·x̂` (see {@link upstream}), from
 * the saved input and per-channel vectors, without writing x̂ or g.
 */
export const batchNormGradSumsSpec: ArrayKernelSpec = {
  inputs: ['x', 'dy', 'invStd', 'xhatShift', 'gamma', 'beta'],
  outputShapes: (shapes) => [[channelsOf(shapes[0]!)], [channelsOf(shapes[0]!)]],
  compute([x, dy, invStd, xhatShift, gamma, beta], [dBeta, dGamma], attrs, shapes) {
    const relu = Boolean((attrs as unknown as BatchNormGradAttrs).relu);
    const channels = channelsOf(shapes[0]!);
    const pixels = pixelsOf(shapes[0]!);
    for (let c = 0; c < channels; c++) {
      let sumB = 0;
      let sumG = 0;
      for (let p = 0; p < pixels; p++) {
        const i = p * channels + c;
        const [g, xhat] = upstream(x![i]!, dy![i]!, invStd![c]!, xhatShift![c]!, gamma![c]!, beta![c]!, relu);
        sumB = Math.fround(sumB + g);
        sumG = Math.fround(sumG + Math.fround(g * xhat));
      }
      dBeta![c] = sumB;
      dGamma![c] = sumG;
    }
  },
  computeWasm(kernels, [x, dy, invStd, xhatShift, gamma, beta], [dBeta, dGamma], attrs, shapes) {
    const channels = channelsOf(shapes[0]!);
    const relu = (attrs as unknown as BatchNormGradAttrs).relu ? 1 : 0;
    const args = [x!, dy!, invStd!, xhatShift!, gamma!, beta!, dBeta!, dGamma!, pixelsOf(shapes[0]!), channels, relu];
    runRows(kernels, 'batchNormGradSums', args, channels / 16, 2 * size(shapes[0]!));
  },
};

/**
 * BatchNorm's input gradient per element, `dx = g·upScale + (x̂·xhatScale + dxShift)` with the
 * per-channel maps of `Tag2PixBatchNormAffineGrad`, recomputing x̂ and g instead of reading them.
 */
export const batchNormGradInputSpec: ArrayKernelSpec = {
  inputs: ['x', 'dy', 'invStd', 'xhatShift', 'gamma', 'beta', 'upScale', 'xhatScale', 'dxShift'],
  outputShapes: (shapes) => [shapes[0]!],
  compute([x, dy, invStd, xhatShift, gamma, beta, upScale, xhatScale, dxShift], [dx], attrs, shapes) {
    const relu = Boolean((attrs as unknown as BatchNormGradAttrs).relu);
    const channels = channelsOf(shapes[0]!);
    for (let i = 0; i < dx!.length; i++) {
      const c = i % channels;
      const [g, xhat] = upstream(x![i]!, dy![i]!, invStd![c]!, xhatShift![c]!, gamma![c]!, beta![c]!, relu);
      dx![i] = Math.fround(Math.fround(g * upScale![c]!) + Math.fround(Math.fround(xhat * xhatScale![c]!) + dxShift![c]!));
    }
  },
  computeWasm(kernels, inputs, [dx], attrs, shapes) {
    const relu = (attrs as unknown as BatchNormGradAttrs).relu ? 1 : 0;
    runRows(kernels, 'batchNormGradInput', [...inputs, dx!, channelsOf(shapes[0]!), relu], pixelsOf(shapes[0]!), 3 * size(shapes[0]!));
  },
};

/** The attributes object the gradient kernels take. */
export const gradAttrs = (relu: boolean) => ({ relu }) as unknown as tf.NamedAttrMap;
