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

/** `x` seen as `[outer, reduced, inner]`, reduced by a (batched) product with a row of ones. */
function reduceBlock(x: tf.Tensor, [first, last]: [number, number], keepDims: boolean, mean: boolean): tf.Tensor {
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const reduced = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
  const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
  const ones = tf.fill([1, 1, reduced], mean ? 1 / reduced : 1);
  const summed = tf.matMul(ones as tf.Tensor3D, tf.reshape(x, [outer, reduced, inner]) as tf.Tensor3D);
  const shape = x.shape.flatMap((d, i) => (i < first || i > last ? [d] : keepDims ? [1] : []));
  return tf.reshape(summed, shape);
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
 * (batched) matrix product with a row of ones. The stock kernel first transposes the reduced
 * axes to the end, a full copy of the activation each time.
 */
export function wasmSum(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? sumBlock(args) : fallback(args as never);
}

/** `Mean` for wasm, as {@link wasmSum} with a row of `1/count`. */
export function wasmMean(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? meanBlock(args) : fallback(args as never);
}
