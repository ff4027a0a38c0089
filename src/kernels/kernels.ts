import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterImpl, conv2dBackpropInputImpl } from './conv2d_backprop.js';
import { depthwiseBackpropFilterImpl, depthwiseBackpropInputImpl } from './depthwise_backprop.js';
import { tensorKernel } from './tensor_kernel.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Pair = number | [number, number];

/** Names of the kernels this library provides. */
export type FastKernelName =
  | 'Conv2DBackpropFilter'
  | 'Conv2DBackpropInput'
  | 'DepthwiseConv2dNativeBackpropInput'
  | 'DepthwiseConv2dNativeBackpropFilter';

/** Kernel functions built from the running backend's own ops; they work on any backend. */
export const FAST_KERNEL_FUNCS: Record<FastKernelName, tf.KernelFunc> = {
  Conv2DBackpropFilter: tensorKernel(({ x, dy }, a) =>
    conv2dBackpropFilterImpl(
      x as tf.Tensor4D, dy as tf.Tensor4D,
      a['filterShape'] as [number, number, number, number], a['strides'] as Pair, a['pad'] as Pad,
      a['dimRoundingMode'] as Rounding, (a['dataFormat'] as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC',
    ),
  ) as tf.KernelFunc,
  Conv2DBackpropInput: tensorKernel(({ dy, filter }, a) =>
    conv2dBackpropInputImpl(
      dy as tf.Tensor4D, filter as tf.Tensor4D,
      a['inputShape'] as [number, number, number, number], a['strides'] as Pair, a['pad'] as Pad,
      a['dimRoundingMode'] as Rounding, (a['dataFormat'] as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC',
    ),
  ) as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: tensorKernel(({ dy, filter }, a) =>
    depthwiseBackpropInputImpl(
      dy as tf.Tensor4D, filter as tf.Tensor4D,
      a['inputShape'] as [number, number, number, number], a['strides'] as Pair,
      (a['dilations'] as Pair | undefined) ?? 1, a['pad'] as Pad, a['dimRoundingMode'] as Rounding,
    ),
  ) as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: tensorKernel(({ x, dy }, a) =>
    depthwiseBackpropFilterImpl(
      x as tf.Tensor4D, dy as tf.Tensor4D,
      a['filterShape'] as [number, number, number, number], a['strides'] as Pair,
      (a['dilations'] as Pair | undefined) ?? 1, a['pad'] as Pad, a['dimRoundingMode'] as Rounding,
    ),
  ) as tf.KernelFunc,
};
