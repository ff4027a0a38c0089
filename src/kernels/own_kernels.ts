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

/** BatchNorm fused with its activation (src/kernels/webgpu/batch_norm.ts). */
export const BATCH_NORM_STATS = 'Tag2PixBatchNormStats';
export const BATCH_NORM_APPLY = 'Tag2PixBatchNormApply';
export const BATCH_NORM_GRAD_STATS = 'Tag2PixBatchNormGradStats';
export const BATCH_NORM_GRAD_INPUT = 'Tag2PixBatchNormGradInput';
export const BATCH_NORM_RUNNING = 'Tag2PixBatchNormRunning';

/** The Adam update (src/kernels/webgpu/adam.ts). */
export const ADAM_MOMENT = 'Tag2PixAdamMoment';
export const ADAM_UPDATE = 'Tag2PixAdamUpdate';

/** Squeeze-and-excitation's activation-sized parts (src/kernels/webgpu/squeeze_excitation.ts). */
export const SPATIAL_MEAN = 'Tag2PixSpatialMean';
export const SPATIAL_MEAN_GRAD = 'Tag2PixSpatialMeanGrad';
export const SPATIAL_DOT = 'Tag2PixSpatialDot';

/** Whether the active backend has this library's kernel `name`. */
export function hasOwnKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}
