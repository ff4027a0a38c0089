import * as tf from '@tensorflow/tfjs-core';
import { convGeometry, type ConvPad, type DimRounding, type Spatial } from './conv_util.js';
import type { KernelArgs } from './tensor_kernel.js';
import { wasmKernelsOf, type WasmKernelModule } from './wasm_module/module.js';
import { runRows } from './wasm_module/rows.js';

/**
 * Dense products on wasm through our own SIMD loop (`matMul` in wasm_module/gemm.wat) instead of XNNPACK.
 *
 * XNNPACK repacks the weights of every convolution and fully connected product into its own
 * layout the first time it sees a weight tensor, and tfjs first transposes a convolution's
 * filter as well: 4-12 ns per weight on one thread. A training step shows them new tensors every
 * time: the weights after each optimizer step, the rotated filters of input gradients, the `dy`
 * a filter gradient multiplies (312 of 459 `Conv2D` and 313 of 448 `BatchMatMul` calls of a 64 px
 * iteration; docs/performance.md, "Kernels"). Our loop reads the weights where they are, at
 * XNNPACK's speed on packed weights (24-39 GFLOP/s on one thread).
 */

/** Rows of the 64-row blocks the loop's work is split into (with 8-column strips). */
const BLOCK_ROWS = 64;

/**
 * A convolution goes through im2col rows and the loop when its output pixels are at most this
 * many times its output channels: the rows' copy (pixels × taps × input channels) then costs at
 * most a few copies of the filter, less than XNNPACK's repacking of it. Larger images keep
 * XNNPACK, whose convolution needs no im2col copy.
 */
const IM2COL_PIXELS_PER_OUTPUT_CHANNEL = 4;

/**
 * Runs of a filter tensor after which its convolutions go to XNNPACK: its repacking then pays
 * for itself (an inference's weights run on every call), and on weights it has packed XNNPACK's
 * convolution beats im2col rows and our loop by up to 1.6x on large filters. A training step
 * with the full tape runs each weight tensor at most twice (G's in the D step and in the G step;
 * D's on real and on generated images) and the rotated filters of its gradients once; with
 * `recompute` the recomputations are third runs. A 64 px iteration with `recompute` took
 * 953-963 ms at 2 and 969-1048 ms at 4 (alternating runs).
 */
const RUNS_BEFORE_XNNPACK = 2;

/** Products our loop has computed in this process (tests and benchmarks read it). */
let loopRuns = 0;

/** How many products (convolutions and matMuls) our loop has computed in this process. */
export function wasmMatMulLoopRuns(): number {
  return loopRuns;
}

/** How many convolutions each filter (by its data) has run through our loop. */
const filterRuns = new WeakMap<tf.DataId, number>();

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
}

/** Where a tensor's data starts on the heap (bytes). */
const heapOffset = (backend: WasmBackendLike, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;

/** Whether the loop computes an `[m, k]·[k, n]` product: a 4-row by 8-column tile. */
export function wasmMatMulHandles(m: number, k: number, n: number): boolean {
  return m > 0 && k > 0 && m % 4 === 0 && n % 8 === 0;
}

/**
 * `out = a·b (+ bias)` on the heap (byte offsets): A's element (m, k) at `a + m·rowStride + k·kStride`
 * bytes, B `[k, n]` and out `[m, n]` row-major, bias 0 for none. Split over the helper threads.
 */
export function runWasmMatMul(
  kernels: WasmKernelModule,
  a: number, b: number, bias: number, out: number,
  m: number, k: number, n: number, rowStride: number, kStride: number,
): void {
  runRows(kernels, 'matMul', [a, b, bias, out, m, k, n, rowStride, kStride], Math.ceil(m / BLOCK_ROWS) * (n / 8), m * k * n);
  loopRuns += 1;
}

/**
 * `BatchMatMul` for wasm: one product (every batch dimension 1) whose `b` is not transposed and
 * whose shape the loop handles; `transposeA` reads `a` in place. Everything else, the backend's
 * own kernel (its transposed and batched products are scalar loops, but none runs in a step).
 */
export function wasmBatchMatMul(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const backend = args.backend as unknown as WasmBackendLike;
  const kernels = wasmKernelsOf(backend);
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const m = a.shape[transposeA ? rankA - 1 : rankA - 2]!;
  const k = a.shape[transposeA ? rankA - 2 : rankA - 1]!;
  const n = b.shape[rankB - 1]!;
  if (
    kernels == null || transposeB || a.dtype !== 'float32' || b.dtype !== 'float32' ||
    tf.util.sizeFromShape(a.shape.slice(0, -2)) !== 1 || tf.util.sizeFromShape(b.shape.slice(0, -2)) !== 1 ||
    b.shape[rankB - 2] !== k || !wasmMatMulHandles(m, k, n)
  ) {
    return fallback(args as never);
  }
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const at = (t: tf.TensorInfo) => heapOffset(backend, t);
  runWasmMatMul(kernels, at(a), at(b), 0, at(out), m, k, n, transposeA ? 4 : k * 4, transposeA ? m * 4 : 4);
  return out;
}

interface ConvAttrs {
  strides: Spatial;
  pad: ConvPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: Spatial;
  dimRoundingMode?: DimRounding;
}

/** `Conv2D` for wasm: see {@link convByMatMul}; the backend's own kernel otherwise. */
export function wasmConv2D(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return convByMatMul(args, undefined) ?? fallback(args as never);
}

/**
 * `FusedConv2D` for wasm: a convolution plus bias (no activation, as every Tag2Pix convolution)
 * through {@link convByMatMul}, the bias as the loop's starting sums; the backend's own kernel
 * otherwise.
 */
export function wasmFusedConv2D(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const { bias, preluActivationWeights } = args.inputs;
  const activation = (args.attrs as { activation?: string }).activation;
  const outChannels = args.inputs['filter']!.shape[3]!;
  const plain = (activation == null || activation === 'linear') && preluActivationWeights == null;
  if (!plain || (bias != null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== outChannels))) {
    return fallback(args as never);
  }
  return convByMatMul(args, bias ?? undefined) ?? fallback(args as never);
}

/**
 * An NHWC convolution as the loop's product of `[pixels, taps·inC]` rows and the filter seen as
 * `[taps·inC, outC]`, or undefined where XNNPACK should run it. A 1×1 convolution with stride 1
 * and no padding multiplies the input in place; others build im2col rows first, when there are
 * few output pixels per output channel (see {@link IM2COL_PIXELS_PER_OUTPUT_CHANNEL}).
 */
function convByMatMul(args: KernelArgs, bias: tf.TensorInfo | undefined): tf.TensorInfo | undefined {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs;
  const backend = args.backend as unknown as WasmBackendLike;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || x.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  const kernels = wasmKernelsOf(backend);
  if (kernels == null) return undefined;
  const g = convGeometry(x.shape, filter.shape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, false);
  const pixels = g.batch * g.outHeight * g.outWidth;
  const depth = g.filterHeight * g.filterWidth * g.inChannels;
  if (g.dilationHeight !== 1 || g.dilationWidth !== 1 || !wasmMatMulHandles(pixels, depth, g.outChannels)) return undefined;
  const inPlace =
    g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.padTop === 0 && g.padLeft === 0 && g.outHeight === g.inHeight && g.outWidth === g.inWidth;
  if (!inPlace && pixels > IM2COL_PIXELS_PER_OUTPUT_CHANNEL * g.outChannels) return undefined;
  const runs = filterRuns.get(filter.dataId) ?? 0;
  if (runs >= RUNS_BEFORE_XNNPACK) return undefined;
  filterRuns.set(filter.dataId, runs + 1);

  const out = backend.makeOutput([g.batch, g.outHeight, g.outWidth, g.outChannels], 'float32');
  const rows = inPlace ? undefined : backend.makeOutput([pixels, depth], 'float32');
  try {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    if (rows != null) {
      runRows(kernels, 'im2colRows', [
        at(x), at(rows), g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth,
        g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft,
      ], g.batch * g.outHeight, pixels * depth);
    }
    runWasmMatMul(kernels, at(rows ?? x), at(filter), bias ? at(bias) : 0, at(out), pixels, depth, g.outChannels, depth * 4, 4);
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  } finally {
    if (rows != null) backend.disposeData(rows.dataId);
  }
  return out;
}
