import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../tensor_kernel.js';
import {
  ADAM_MOMENT,
  ADAM_UPDATE,
  BATCH_NORM_APPLY,
  BATCH_NORM_GRAD_INPUT,
  BATCH_NORM_GRAD_STATS,
  BATCH_NORM_RUNNING,
  BATCH_NORM_STATS,
  GROUPED_CONV2D,
  GROUPED_CONV2D_BACKPROP_FILTER,
  GROUPED_CONV2D_BACKPROP_INPUT,
  SPATIAL_DOT,
  SPATIAL_MEAN,
  SPATIAL_MEAN_GRAD,
} from '../own_kernels.js';
import { spatialDotWebGPU, spatialMeanGradWebGPU, spatialMeanWebGPU } from './squeeze_excitation.js';
import { adamMomentWebGPU, adamUpdateWebGPU } from './adam.js';
import {
  batchNormApplyWebGPU,
  batchNormGradInputWebGPU,
  batchNormGradStatsWebGPU,
  batchNormRunningWebGPU,
  batchNormStatsWebGPU,
} from './batch_norm.js';
import {
  groupedConv2dBackpropFilterWebGPU,
  groupedConv2dBackpropInputWebGPU,
  groupedConv2dWebGPU,
} from './grouped_conv.js';

/** This library's WebGPU programs, by kernel name (registered for `webgpu` only). */
export const WEBGPU_KERNELS = ({
  [GROUPED_CONV2D]: groupedConv2dWebGPU,
  [GROUPED_CONV2D_BACKPROP_INPUT]: groupedConv2dBackpropInputWebGPU,
  [GROUPED_CONV2D_BACKPROP_FILTER]: groupedConv2dBackpropFilterWebGPU,
  [BATCH_NORM_STATS]: batchNormStatsWebGPU,
  [BATCH_NORM_APPLY]: batchNormApplyWebGPU,
  [BATCH_NORM_GRAD_STATS]: batchNormGradStatsWebGPU,
  [BATCH_NORM_GRAD_INPUT]: batchNormGradInputWebGPU,
  [BATCH_NORM_RUNNING]: batchNormRunningWebGPU,
  [ADAM_MOMENT]: adamMomentWebGPU,
  [ADAM_UPDATE]: adamUpdateWebGPU,
  [SPATIAL_MEAN]: spatialMeanWebGPU,
  [SPATIAL_MEAN_GRAD]: spatialMeanGradWebGPU,
  [SPATIAL_DOT]: spatialDotWebGPU,
} satisfies Record<string, (args: KernelArgs) => tf.TensorInfo>) as unknown as Record<string, tf.KernelFunc>;
