import type * as tf from '@tensorflow/tfjs-core';
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
export const WEBGPU_KERNELS: Record<string, tf.KernelFunc> = {
  [GROUPED_CONV2D]: groupedConv2dWebGPU as unknown as tf.KernelFunc,
  [GROUPED_CONV2D_BACKPROP_INPUT]: groupedConv2dBackpropInputWebGPU as unknown as tf.KernelFunc,
  [GROUPED_CONV2D_BACKPROP_FILTER]: groupedConv2dBackpropFilterWebGPU as unknown as tf.KernelFunc,
  [BATCH_NORM_STATS]: batchNormStatsWebGPU as unknown as tf.KernelFunc,
  [BATCH_NORM_APPLY]: batchNormApplyWebGPU as unknown as tf.KernelFunc,
  [BATCH_NORM_GRAD_STATS]: batchNormGradStatsWebGPU as unknown as tf.KernelFunc,
  [BATCH_NORM_GRAD_INPUT]: batchNormGradInputWebGPU as unknown as tf.KernelFunc,
  [BATCH_NORM_RUNNING]: batchNormRunningWebGPU as unknown as tf.KernelFunc,
  [ADAM_MOMENT]: adamMomentWebGPU as unknown as tf.KernelFunc,
  [ADAM_UPDATE]: adamUpdateWebGPU as unknown as tf.KernelFunc,
  [SPATIAL_MEAN]: spatialMeanWebGPU as unknown as tf.KernelFunc,
  [SPATIAL_MEAN_GRAD]: spatialMeanGradWebGPU as unknown as tf.KernelFunc,
  [SPATIAL_DOT]: spatialDotWebGPU as unknown as tf.KernelFunc,
};
