import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterImpl, conv2dBackpropInputImpl } from './conv2d_backprop.js';
import { depthwiseBackpropFilterImpl, depthwiseBackpropInputImpl } from './depthwise_backprop.js';
import type { ConvPad, DimRounding, Spatial } from './conv_util.js';
import { tensorKernel } from './tensor_kernel.js';

type Shape4 = [number, number, number, number];
type ConvAttrs = ReturnType<typeof convAttrs>;

/** The attributes the convolution backprop kernels share, with tfjs's defaults filled in. */
function convAttrs(a: tf.NamedAttrMap) {
  return {
    strides: a['strides'] as Spatial,
    pad: a['pad'] as ConvPad,
    dimRoundingMode: a['dimRoundingMode'] as DimRounding | undefined,
    dilations: (a['dilations'] as Spatial | undefined) ?? 1,
    dataFormat: (a['dataFormat'] as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC',
  };
}

/** A backprop kernel of two 4-D inputs (named `first`, `second`) and a shape attribute. */
function backpropKernel(
  [first, second]: [string, string],
  shapeAttr: 'filterShape' | 'inputShape',
  impl: (a: tf.Tensor4D, b: tf.Tensor4D, shape: Shape4, c: ConvAttrs) => tf.Tensor4D,
): tf.KernelFunc {
  return tensorKernel((inputs, a) =>
    impl(inputs[first] as tf.Tensor4D, inputs[second] as tf.Tensor4D, a[shapeAttr] as Shape4, convAttrs(a)),
  ) as tf.KernelFunc;
}

/** Names of the kernels this library provides. */
export type FastKernelName =
  | 'Conv2DBackpropFilter'
  | 'Conv2DBackpropInput'
  | 'DepthwiseConv2dNativeBackpropInput'
  | 'DepthwiseConv2dNativeBackpropFilter';

/** Kernel functions built from the running backend's own ops; they work on any backend. */
export const FAST_KERNEL_FUNCS: Record<FastKernelName, tf.KernelFunc> = {
  Conv2DBackpropFilter: backpropKernel(['x', 'dy'], 'filterShape', (x, dy, shape, c) =>
    conv2dBackpropFilterImpl(x, dy, shape, c.strides, c.pad, c.dimRoundingMode, c.dataFormat)),
  Conv2DBackpropInput: backpropKernel(['dy', 'filter'], 'inputShape', (dy, filter, shape, c) =>
    conv2dBackpropInputImpl(dy, filter, shape, c.strides, c.pad, c.dimRoundingMode, c.dataFormat)),
  DepthwiseConv2dNativeBackpropInput: backpropKernel(['dy', 'filter'], 'inputShape', (dy, filter, shape, c) =>
    depthwiseBackpropInputImpl(dy, filter, shape, c.strides, c.dilations, c.pad, c.dimRoundingMode)),
  DepthwiseConv2dNativeBackpropFilter: backpropKernel(['x', 'dy'], 'filterShape', (x, dy, shape, c) =>
    depthwiseBackpropFilterImpl(x, dy, shape, c.strides, c.dilations, c.pad, c.dimRoundingMode)),
};
