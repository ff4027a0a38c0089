import * as tf from '@tensorflow/tfjs-core';
import { tensorKernel, type KernelArgs } from './tensor_kernel.js';

/**
 * The contiguous block of axes `[first, last]` a reduction covers when axes after it remain
 * (`[N, H, W, C]` over N, H, W or over H, W), else undefined.
 */
function reducedBlock(axis: number | number[], shape: number[]): [number, number] | undefined {
  const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  if (last - first + 1 !== axes.length || last === shape.length - 1) return undefined;
  return [first, last];
}

/**
 * `x` seen as `[outer, reduced, inner]`, reduced by XNNPACK's average pooling over a
 * `[reduced, 1]` window (SIMD and threaded on wasm), times the count for a sum. A matMul with a
 * row of ones makes XNNPACK repack the activation as weights on every call, and its threaded
 * GEMV runs 5× slower than one thread (measured, docs/performance.md).
 */
function reduceBlock(x: tf.Tensor, [first, last]: [number, number], keepDims: boolean, mean: boolean): tf.Tensor {
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const reduced = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
  const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
  // The kernel itself: tf.avgPool adds a Cast to the input's dtype after it (one more kernel call).
  const attrs = { filterSize: [reduced, 1], strides: [1, 1], pad: 'valid' } as unknown as tf.NamedAttrMap;
  const pooled = tf.engine().runKernel(tf.AvgPool, { x: tf.reshape(x, [outer, reduced, 1, inner]) }, attrs) as tf.Tensor;
  const shape = x.shape.flatMap((d, i) => (i < first || i > last ? [d] : keepDims ? [1] : []));
  return tf.reshape(mean ? pooled : tf.mul(pooled, reduced), shape);
}

const sumBlock = tensorKernel(({ x }, attrs) =>
  reduceBlock(x!, reducedBlock(attrs['axis'] as number | number[], x!.shape)!, Boolean(attrs['keepDims']), false),
);
const meanBlock = tensorKernel(({ x }, attrs) =>
  reduceBlock(x!, reducedBlock(attrs['axis'] as number | number[], x!.shape)!, Boolean(attrs['keepDims']), true),
);

function applies(args: KernelArgs): boolean {
  const x = args.inputs['x']!;
  const count = reducedBlock((args.attrs as { axis: number | number[] }).axis, x.shape);
  // Small reductions are cheaper the stock way; the product only pays off on activations.
  return x.dtype === 'float32' && count != null && tf.util.sizeFromShape(x.shape) >= 4096;
}

/**
 * `Sum` for wasm over a block of axes followed by kept ones (`[N, H, W, C]` summed over N, H, W:
 * BatchNorm statistics, bias and BatchNorm gradients; over H, W: the SE/SECat squeeze) as one
 * average pooling over the reduced axes. The stock kernel first transposes the reduced
 * axes to the end, a full copy of the activation each time.
 */
export function wasmSum(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? sumBlock(args) : fallback(args as never);
}

/** `Mean` for wasm, as {@link wasmSum} without the final scaling. */
export function wasmMean(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? meanBlock(args) : fallback(args as never);
}
