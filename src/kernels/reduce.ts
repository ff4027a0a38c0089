import * as tf from '@tensorflow/tfjs-core';
import { tensorKernel, type KernelArgs } from './tensor_kernel.js';

/** The leading axes `[0, k)` a reduction covers, or undefined when it is not such a prefix. */
function leadingAxes(axis: number | number[], shape: number[]): number | undefined {
  const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length === shape.length) return undefined;
  return axes.every((a, i) => a === i) ? axes.length : undefined;
}

function reduceLeading(x: tf.Tensor, count: number, keepDims: boolean, mean: boolean): tf.Tensor {
  const rows = tf.util.sizeFromShape(x.shape.slice(0, count));
  const rest = x.shape.slice(count);
  const ones = tf.fill([1, rows], mean ? 1 / rows : 1);
  const summed = tf.matMul(ones as tf.Tensor2D, tf.reshape(x, [rows, tf.util.sizeFromShape(rest)]) as tf.Tensor2D);
  return tf.reshape(summed, keepDims ? [...x.shape.slice(0, count).map(() => 1), ...rest] : rest);
}

const sumLeading = tensorKernel(({ x }, attrs) => {
  const count = leadingAxes(attrs['axis'] as number | number[], x!.shape)!;
  return reduceLeading(x!, count, Boolean(attrs['keepDims']), false);
});
const meanLeading = tensorKernel(({ x }, attrs) => {
  const count = leadingAxes(attrs['axis'] as number | number[], x!.shape)!;
  return reduceLeading(x!, count, Boolean(attrs['keepDims']), true);
});

function applies(args: KernelArgs): boolean {
  const x = args.inputs['x']!;
  const count = leadingAxes((args.attrs as { axis: number | number[] }).axis, x.shape);
  // Small reductions are cheaper the stock way; the product only pays off on activations.
  return x.dtype === 'float32' && count != null && tf.util.sizeFromShape(x.shape) >= 4096;
}

/**
 * `Sum` for wasm over leading axes (`[N, H, W, C]` summed over N, H, W: BatchNorm statistics,
 * bias and BatchNorm gradients) as one matrix product with a row of ones. The stock kernel
 * first transposes the reduced axes to the end, a full copy of the activation each time.
 */
export function wasmSum(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? sumLeading(args) : fallback(args as never);
}

/** `Mean` for wasm over leading axes, as {@link wasmSum} with a row of `1/count`. */
export function wasmMean(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return applies(args) ? meanLeading(args) : fallback(args as never);
}
