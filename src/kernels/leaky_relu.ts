import * as tf from '@tensorflow/tfjs-core';
import { tensorKernel, type KernelArgs } from './tensor_kernel.js';

/*
 * LeakyReLU on wasm as `x · step(x, α)`, forward and backward. tfjs-backend-wasm's LeakyRelu is a
 * scalar loop, and tfjs's gradient is `where(x > 0, dy, dy · α)`, whose Greater and Select are
 * scalar loops too: on a [4, 32, 32, 128] activation 2.7 ms forward and 3.9 ms backward, where
 * Step and Multiply (SIMD) take 0.2 ms each (scratch measurement, wasm, 1 thread). The values are
 * bit for bit the same: `x · 1` is `x` and `x · α` is what LeakyRelu computes for x ≤ 0.
 */

const alphaOf = (attrs: tf.NamedAttrMap | undefined): number => (attrs?.['alpha'] as number | undefined) ?? 0.2;

const leakyReluByStep = tensorKernel(({ x }, attrs) => tf.mul(x!, tf.step(x!, alphaOf(attrs))));

/** `LeakyRelu` for wasm: `x · step(x, α)` for float32, the stock kernel otherwise. */
export function wasmLeakyRelu(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  return args.inputs['x']?.dtype === 'float32' ? leakyReluByStep(args) : fallback(args as never);
}

/** The gradient tfjs had before {@link registerLeakyReluGradient}, to put back. */
let stockGradient: tf.GradConfig | undefined;

/**
 * Makes LeakyRelu's gradient `dy · step(x, α)` on wasm (float32); every other backend keeps
 * tfjs's own gradient, which this one delegates to. Idempotent.
 */
export function registerLeakyReluGradient(): void {
  if (stockGradient != null) return;
  const stock = tf.getGradient(tf.LeakyRelu);
  if (stock == null) return;
  stockGradient = stock;
  tf.registerGradient({
    kernelName: tf.LeakyRelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      if (tf.getBackend() !== 'wasm' || x!.dtype !== 'float32') return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.mul(dy as tf.Tensor, tf.step(x!, alphaOf(attrs))) };
    },
  });
}

/** Puts tfjs's own LeakyRelu gradient back. */
export function unregisterLeakyReluGradient(): void {
  if (stockGradient == null) return;
  tf.registerGradient(stockGradient);
  stockGradient = undefined;
}
