import * as tf from '@tensorflow/tfjs-core';
import {
  convGeometry,
  dilateSpatial,
  padOrCrop,
  rotateFilter,
  tapColumnsPerChannel,
  type ConvPad,
  type DimRounding,
  type Spatial,
} from './conv_util.js';

/**
 * Gradient of a depthwise convolution with respect to its input
 * (`DepthwiseConv2dNativeBackpropInput`): a stride-1 depthwise convolution of the zero-spread
 * `dy` with the rotated filter (one output per (channel, multiplier) pair), then a sum over the
 * multiplier. Filter `[kh, kw, C, M]`, `dy` `[N, outH, outW, C·M]`.
 */
export function depthwiseBackpropInputImpl(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: Spatial,
  dilations: Spatial,
  pad: ConvPad,
  dimRoundingMode?: DimRounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    const [kh, kw, channels, multiplier] = filter.shape;
    const spanHeight = (kh - 1) * g.dilationHeight + 1;
    const spanWidth = (kw - 1) * g.dilationWidth + 1;
    const spread = dilateSpatial(dy, g.strideHeight, g.strideWidth);
    const before: [number, number] = [spanHeight - 1 - g.padTop, spanWidth - 1 - g.padLeft];
    const after: [number, number] = [
      g.inHeight + spanHeight - 1 - spread.shape[1] - before[0],
      g.inWidth + spanWidth - 1 - spread.shape[2] - before[1],
    ];
    const framed = padOrCrop(spread, before, after, 1) as tf.Tensor4D;
    // [kh, kw, C, M] → rotated [kh, kw, M, C] → per (channel, multiplier) pair [kh, kw, C·M, 1].
    const rotated = tf.reshape(
      tf.transpose(rotateFilter(filter), [0, 1, 3, 2]),
      [kh, kw, channels * multiplier, 1],
    ) as tf.Tensor4D;
    const perPair = tf.depthwiseConv2d(framed, rotated, 1, 'valid', 'NHWC', [
      g.dilationHeight,
      g.dilationWidth,
    ]);
    if (multiplier === 1) return perPair;
    const [n, h, w] = perPair.shape;
    return tf.sum(tf.reshape(perPair, [n, h, w, channels, multiplier]), 4) as tf.Tensor4D;
  });
}

/**
 * Gradient of a depthwise convolution with respect to its filter
 * (`DepthwiseConv2dNativeBackpropFilter`): per channel, one matrix product of the kh·kw strided
 * input windows `[kh·kw, N·outH·outW]` with that channel's `dy` `[N·outH·outW, M]`, all
 * channels in one batched matMul.
 */
export function depthwiseBackpropFilterImpl(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: Spatial,
  dilations: Spatial,
  pad: ConvPad,
  dimRoundingMode?: DimRounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = convGeometry(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
    const [kh, kw, channels, multiplier] = filterShape;
    const pixels = g.batch * g.outHeight * g.outWidth;
    const columns = tapColumnsPerChannel(x, g, kh, kw); // [C, kh·kw, pixels]
    const dyPerChannel = tf.transpose(tf.reshape(dy, [pixels, channels, multiplier]), [1, 0, 2]);
    const perChannel = tf.matMul(columns, dyPerChannel as tf.Tensor3D); // [C, kh·kw, M]
    return tf.reshape(tf.transpose(perChannel, [1, 0, 2]), filterShape) as tf.Tensor4D;
  });
}
