import * as tf from '@tensorflow/tfjs-core';

/*
 * Kernels of this library's own (names no tfjs backend uses). A backend gets one only where a
 * program of ours does the work in fewer dispatches (today webgpu: src/kernels/webgpu/); the
 * ops check {@link hasOwnKernel} and compose the same computation from tfjs ops everywhere else.
 */

/** Grouped convolution and its two gradients (src/kernels/webgpu/grouped_conv.ts). */
export const GROUPED_CONV2D = 'Tag2PixGroupedConv2D';
export const GROUPED_CONV2D_BACKPROP_INPUT = 'Tag2PixGroupedConv2DBackpropInput';
export const GROUPED_CONV2D_BACKPROP_FILTER = 'Tag2PixGroupedConv2DBackpropFilter';

/** Whether the active backend has this library's kernel `name`. */
export function hasOwnKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}
