import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from '../kernels/custom_grad.js';
import { convGeometry, pickRows, tapColumnsPerChannel } from '../kernels/conv_util.js';
import { arrayKernelsAreSlowLoops, hasArrayKernel } from '../kernels/array_kernel.js';
import {
  GROUPED_CONV2D_DIRECT,
  GROUPED_CONV2D_FILTER_DIRECT,
  wasmGroupedConvHandles,
  wasmGroupedFilterGradHandles,
} from '../kernels/grouped_conv.js';
import {
  GROUPED_CONV2D,
  GROUPED_CONV2D_BACKPROP_FILTER,
  GROUPED_CONV2D_BACKPROP_INPUT,
  hasOwnKernel,
} from '../kernels/own_kernels.js';

/** Options of {@link conv2dTorch}, with PyTorch's `nn.Conv2d` meaning. */
export interface Conv2dTorchOptions {
  /** Stride, the same along height and width. Default 1. */
  stride?: number;
  /** Zero padding added on every side (PyTorch's symmetric `padding`). Default 0. */
  padding?: number;
  /** Number of channel groups; input and output channels must both divide by it. Default 1. */
  groups?: number;
  /** Per-output-channel bias `[outChannels]`, added inside the convolution where it can be. */
  bias?: tf.Tensor1D;
}

/**
 * 2-D convolution with PyTorch semantics on NHWC tensors.
 *
 * `kernel` is `[kh, kw, inChannels / groups, outChannels]` (PyTorch's per-group weight,
 * transposed to HWIO); groups are contiguous channel ranges, as in PyTorch. Padding is explicit
 * and symmetric, so a stride-2 convolution lines up with PyTorch and not with TF's `'same'`.
 */
export function conv2dTorch(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  options: Conv2dTorchOptions = {},
): tf.Tensor4D {
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const groups = options.groups ?? 1;
  const inChannels = x.shape[3];
  const [, , groupIn, outChannels] = kernel.shape;
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(
      `conv2dTorch: ${inChannels} input and ${outChannels} output channels must both be ` +
        `divisible by groups=${groups}.`,
    );
  }
  if (groupIn * groups !== inChannels) {
    throw new Error(
      `conv2dTorch: kernel expects ${groupIn * groups} input channels ` +
        `(${groupIn} per group × ${groups} groups) but the input has ${inChannels}.`,
    );
  }
  const bias = options.bias;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new Error(`conv2dTorch: bias must be [${outChannels}] (one value per output channel), got [${bias.shape.join(', ')}].`);
  }
  return tf.tidy(() => {
    if (groups === 1) {
      const pad = symmetricPad(padding);
      // With its bias, one kernel call (XNNPACK starts its sums from the bias) instead of two passes.
      return bias ? tf.fused.conv2d({ x, filter: kernel, strides: stride, pad, bias }) : tf.conv2d(x, kernel, stride, pad);
    }
    const y = groupedConv(x, kernel, groups, stride, padding);
    return bias ? tf.add(y, bias) : y;
  });
}

/** PyTorch's symmetric zero padding as tfjs's explicit padding of an NHWC tensor. */
function symmetricPad(padding: number): ExplicitPad {
  return padding === 0 ? 'valid' : [[0, 0], [padding, padding], [padding, padding], [0, 0]];
}

/** {@link conv2dTorch} for more than one group, without bias. */
function groupedConv(x: tf.Tensor4D, kernel: tf.Tensor4D, groups: number, stride: number, padding: number): tf.Tensor4D {
  const [kh, kw, groupIn, outChannels] = kernel.shape;
  if (groupIn > 1 && hasOwnKernel(GROUPED_CONV2D)) {
    // One dispatch (webgpu), gradients included.
    return groupedConvOwnKernel(x, kernel, { stride, padding, groups });
  }
  const pad = symmetricPad(padding);
  if (groupIn === 1) {
    // One input channel per group is a depthwise convolution whose multiplier is
    // out/groups; PyTorch's output order (group-major) is depthwise's order too.
    const filter = tf.reshape(kernel, [kh, kw, x.shape[3], outChannels / groups]) as tf.Tensor4D;
    return tf.depthwiseConv2d(x, filter, stride, pad);
  }
  return groupedConvKeepingInputs(x, kernel, groups, stride, pad);
}

type ExplicitPad = 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/**
 * The grouped conv's value (no gradient of its own: callers wrap it in theirs): the direct
 * kernel where the backend has a fast one (src/kernels/grouped_conv.ts), else the composition.
 */
function groupedConvValue(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  groups: number,
  stride: number,
  pad: ExplicitPad,
): tf.Tensor4D {
  const padding = symmetricPadding(pad);
  const outChannels = kernel.shape[3];
  if (padding !== undefined && directKernelRuns(GROUPED_CONV2D_DIRECT, () => wasmGroupedConvHandles(outChannels, groups))) {
    const attrs = { stride, padding, groups } as unknown as tf.NamedAttrMap;
    return tf.engine().runKernel(GROUPED_CONV2D_DIRECT, { x, filter: kernel }, attrs) as tf.Tensor4D;
  }
  return composedGroupedConv(x, kernel, groups, stride, pad);
}

/** The padding on every side of `pad`, when it is the same on all four (PyTorch's), else undefined. */
function symmetricPadding(pad: ExplicitPad): number | undefined {
  if (pad === 'valid') return 0;
  const padding = pad[1][0];
  return pad.slice(1, 3).every(([a, b]) => a === padding && b === padding) ? padding : undefined;
}

/**
 * Whether the direct kernel `name` (src/kernels/grouped_conv.ts) is the faster way here: on
 * wasm when its WebAssembly loop runs and `wasmHandles` the shape, and on cpu (JavaScript loops
 * either way).
 */
function directKernelRuns(name: string, wasmHandles: () => boolean): boolean {
  if (!hasArrayKernel(name)) return false;
  return tf.getBackend() !== 'wasm' || (!arrayKernelsAreSlowLoops() && wasmHandles());
}

/** The grouped conv composed from ops (depthwise-then-sum or split/conv/concat). */
function composedGroupedConv(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  groups: number,
  stride: number,
  pad: ExplicitPad,
): tf.Tensor4D {
  if (kernel.shape[2] <= depthwiseSumMaxGroupIn()) {
    return depthwiseThenSum(x, kernel, groups, stride, pad);
  }
  // Wider groups: split, convolve each group, concatenate (fastest there on cpu and wasm,
  // docs/performance.md, "Grouped convolution").
  const xs = tf.split(x, groups, 3);
  const ks = tf.split(kernel, groups, 3);
  const ys = xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, ks[g] as tf.Tensor4D, stride, pad));
  return tf.concat(ys, 3);
}

/**
 * {@link composedGroupedConv} with a hand-written gradient that keeps only `x` and `kernel` on
 * the tape. Composed, the tape also holds the split inputs or the depthwise output (2–4× the
 * output's size), a large part of a 256 px training step's memory (docs/performance.md,
 * "Memory"). The gradient runs the same backprop kernels, on the same operands, as the
 * composition's gradient would, so values and gradients are those of the composition.
 */
function groupedConvKeepingInputs(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  groups: number,
  stride: number,
  pad: ExplicitPad,
): tf.Tensor4D {
  return withInputsOnTape(
    x,
    kernel,
    (input, k) => groupedConvValue(input, k, groups, stride, pad),
    (dy, xs, ks) => groupedConvGrads(xs, ks, dy, groups, stride, pad),
  );
}

/**
 * `value(x, kernel)` with a hand-written gradient `grads(dy, x, kernel)` → `[dx, dKernel]`; the
 * tape keeps only `x` and `kernel`.
 */
function withInputsOnTape(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  value: (x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor4D,
  grads: (dy: tf.Tensor4D, x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor[],
): tf.Tensor4D {
  const conv = customGrad(((input: tf.Tensor4D, k: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([input, k]);
    return {
      value: value(input, k),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
        return grads(dy as tf.Tensor4D, xs, ks);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (conv as unknown as (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D)(x, kernel);
}

/** Gradients of {@link composedGroupedConv} with respect to `x` and `kernel`. */
function groupedConvGrads(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  dy: tf.Tensor4D,
  groups: number,
  stride: number,
  pad: ExplicitPad,
): [tf.Tensor4D, tf.Tensor4D] {
  const [kh, kw, groupIn, outChannels] = kernel.shape;
  const groupOut = outChannels / groups;
  const strides: [number, number] = [stride, stride];
  const engine = tf.engine();
  // The filter gradient as one kernel of ours where the backend has a fast one.
  const direct = directFilterGradient(x, dy, kernel.shape, groups, stride, pad);
  if (groupIn <= depthwiseSumMaxGroupIn() && stride === 1 && isSymmetric(pad, kh, kw)) {
    // The input gradient of a stride-1 grouped conv is a grouped conv of dy with the rotated
    // kernel (in/out swapped per group), and the filter gradient pairs each group's input
    // windows with that group's dy only: neither needs dy broadcast over the group's inputs.
    const dKernel = direct ? direct() : groupedFilterGradient(x, dy, kernel.shape, groups, pad);
    return [groupedInputGradient(dy, kernel, groups, pad), dKernel];
  }
  if (groupIn <= depthwiseSumMaxGroupIn()) {
    // The sum's gradient broadcasts dy over the group's inputs; then the depthwise conv's. The
    // broadcast is written at rank 3: webgpu runs a Tile of rank ≥ 5 on the CPU.
    const [n, h, w] = dy.shape;
    const dyDepthwise = tf.reshape(
      tf.broadcastTo(tf.reshape(dy, [n * h * w * groups, 1, groupOut]), [n * h * w * groups, groupIn, groupOut]),
      [n, h, w, groups * groupIn * groupOut],
    );
    const filter = depthwiseFilter(kernel, groups);
    const dx = engine.runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dyDepthwise, filter }, {
      strides, pad, dilations: [1, 1], inputShape: x.shape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    if (direct) return [dx, direct()];
    const dFilter = engine.runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dyDepthwise }, {
      strides, pad, dilations: [1, 1], filterShape: filter.shape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dKernel = tf.reshape(
      tf.transpose(tf.reshape(dFilter, [kh, kw, groups, groupIn, groupOut]), [0, 1, 3, 2, 4]),
      kernel.shape,
    ) as tf.Tensor4D;
    return [dx, dKernel];
  }
  const xs = tf.split(x, groups, 3);
  const ks = tf.split(kernel, groups, 3);
  const dys = tf.split(dy, groups, 3);
  const dxs = dys.map((d, g) => engine.runKernel('Conv2DBackpropInput', { dy: d, filter: ks[g]! }, {
    strides, pad, dataFormat: 'NHWC', inputShape: xs[g]!.shape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D);
  if (direct) return [tf.concat(dxs, 3), direct()];
  const dks = dys.map((d, g) => engine.runKernel('Conv2DBackpropFilter', { x: xs[g]!, dy: d }, {
    strides, pad, dataFormat: 'NHWC', filterShape: ks[g]!.shape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D);
  return [tf.concat(dxs, 3), tf.concat(dks, 3)];
}

/**
 * The grouped convolution as this library's kernel (one program each for the value and both
 * gradients, where the backend has them); the tape keeps `x` and `kernel`, as the composition's.
 */
function groupedConvOwnKernel(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  attrs: { stride: number; padding: number; groups: number },
): tf.Tensor4D {
  const engine = tf.engine();
  const named = (extra: object) => ({ ...attrs, ...extra }) as unknown as tf.NamedAttrMap;
  return withInputsOnTape(
    x,
    kernel,
    (input, k) => engine.runKernel(GROUPED_CONV2D, { x: input, filter: k }, named({})) as tf.Tensor4D,
    (dy, xs, ks) => [
      engine.runKernel(GROUPED_CONV2D_BACKPROP_INPUT, { dy, filter: ks }, named({ inputShape: xs.shape })) as tf.Tensor,
      engine.runKernel(GROUPED_CONV2D_BACKPROP_FILTER, { x: xs, dy }, named({ filterShape: ks.shape })) as tf.Tensor,
    ],
  );
}

/**
 * The filter gradient as this library's direct kernel (src/kernels/grouped_conv.ts), where the
 * backend has a fast one and the padding is symmetric: a function computing it, else undefined.
 */
function directFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernelShape: [number, number, number, number],
  groups: number,
  stride: number,
  pad: ExplicitPad,
): (() => tf.Tensor4D) | undefined {
  const [kh, kw, groupIn, outChannels] = kernelShape;
  const padding = symmetricPadding(pad);
  const handles = () => wasmGroupedFilterGradHandles(groupIn, outChannels, groups);
  if (padding === undefined || !directKernelRuns(GROUPED_CONV2D_FILTER_DIRECT, handles)) return undefined;
  const attrs = { stride, padding, groups, filterHeight: kh, filterWidth: kw } as unknown as tf.NamedAttrMap;
  return () => tf.engine().runKernel(GROUPED_CONV2D_FILTER_DIRECT, { x, dy }, attrs) as tf.Tensor4D;
}

/** Multiply-adds per group up to which the grouped filter gradient is one batched matMul. */
const BATCHED_FILTER_GRADIENT_MAX_MACS = 1 << 20;

/** Whether `pad` is the same on every side and keeps a stride-1 conv's size (`(k − 1) / 2`). */
function isSymmetric(pad: ExplicitPad, kh: number, kw: number): boolean {
  const [top, bottom] = pad === 'valid' ? [0, 0] : pad[1];
  const [left, right] = pad === 'valid' ? [0, 0] : pad[2];
  return top === bottom && left === right && top === (kh - 1) / 2 && left === (kw - 1) / 2;
}

/**
 * Input gradient of a stride-1, size-keeping grouped conv: the grouped conv of `dy` with the
 * kernel rotated by 180° and its per-group in/out swapped (`[kh, kw, groupOut, groups·groupIn]`).
 */
function groupedInputGradient(dy: tf.Tensor4D, kernel: tf.Tensor4D, groups: number, pad: ExplicitPad): tf.Tensor4D {
  const [kh, kw, groupIn, outChannels] = kernel.shape;
  const groupOut = outChannels / groups;
  // [taps, groupIn, groups, groupOut] → [taps, groupOut, groups, groupIn], taps reversed.
  const swapped = tf.reshape(
    tf.transpose(tf.reshape(kernel, [kh * kw, groupIn, groups, groupOut]), [0, 3, 2, 1]),
    [kh * kw, groupOut * groups * groupIn],
  ) as tf.Tensor2D;
  const rotated = tf.reshape(
    pickRows(swapped, Array.from({ length: kh * kw }, (_, i) => kh * kw - 1 - i)),
    [kh, kw, groupOut, groups * groupIn],
  ) as tf.Tensor4D;
  return groupedConvValue(dy, rotated, groups, 1, pad);
}

/**
 * Filter gradient of a grouped conv: the input's tap windows `[C, taps, pixels]` (as the
 * depthwise filter gradient builds them), seen per group as `[groups, groupIn·taps, pixels]`,
 * times each group's `dy` `[groups, pixels, groupOut]` in one batched matMul.
 */
function groupedFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernelShape: [number, number, number, number],
  groups: number,
  pad: ExplicitPad,
): tf.Tensor4D {
  const [kh, kw, groupIn, outChannels] = kernelShape;
  const groupOut = outChannels / groups;
  const g = convGeometry(x.shape, [kh, kw, x.shape[3], 1], 1, 1, pad, undefined, true);
  const pixels = g.batch * g.outHeight * g.outWidth;
  const columns = tf.reshape(tapColumnsPerChannel(x, g, kh, kw), [groups, groupIn * kh * kw, pixels]) as tf.Tensor3D;
  const dyPerGroup = tf.transpose(tf.reshape(dy, [pixels, groups, groupOut]), [1, 0, 2]) as tf.Tensor3D;
  const rows = groupIn * kh * kw;
  // [groups, groupIn·taps, groupOut]. tfjs's batched matMul is a scalar loop on wasm; past about
  // a million multiply-adds per group, one 2-D matMul per group (XNNPACK, SIMD and threaded) wins.
  const perGroup =
    rows * pixels * groupOut <= BATCHED_FILTER_GRADIENT_MAX_MACS
      ? tf.matMul(columns, dyPerGroup)
      : tf.concat(
          tf.split(columns, groups, 0).map((c, i) =>
            tf.reshape(
              tf.matMul(
                tf.reshape(c, [rows, pixels]) as tf.Tensor2D,
                tf.reshape(tf.slice(dyPerGroup, [i, 0, 0], [1, pixels, groupOut]), [pixels, groupOut]) as tf.Tensor2D,
              ),
              [1, rows, groupOut],
            ),
          ),
          0,
        );
  return tf.reshape(
    tf.transpose(tf.reshape(perGroup, [groups, groupIn, kh * kw, groupOut]), [2, 1, 0, 3]),
    kernelShape,
  ) as tf.Tensor4D;
}

/** The composed grouped convolution, without the memory-saving gradient (for tests). */
export const composedGroupedConvForTest = composedGroupedConv;

/**
 * Up to this many input channels per group, a grouped conv runs as one depthwise conv plus a sum,
 * above it as split/conv/concat. cpu: 4 (depthwise-then-sum measured faster for 2 and 4 channels
 * per group, slower from 8 on: docs/performance.md, "Grouped convolution"). wasm: 16, every
 * grouped conv of Tag2Pix: one XNNPACK kernel instead of a split, 16 convolutions and a concat,
 * and a gradient of a few dozen kernels instead of ~400 (each group's conv gradients).
 */
function depthwiseSumMaxGroupIn(): number {
  return tf.getBackend() === 'wasm' ? 16 : 4;
}

/**
 * Grouped conv as a depthwise conv whose multiplier is the group's output count (every input
 * channel against every output of its group), then a sum over the group's input channels.
 */
function depthwiseThenSum(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  groups: number,
  stride: number,
  pad: ExplicitPad,
): tf.Tensor4D {
  const groupIn = kernel.shape[2];
  const groupOut = kernel.shape[3] / groups;
  // wasm sums as a mean times the count (src/kernels/reduce.ts). With a power-of-two groupIn,
  // the filter scaled by groupIn makes the mean the sum, bit for bit (scaling by a power of two
  // is exact), and saves that pass over the output.
  const exactScale = tf.getBackend() === 'wasm' && groupIn > 1 && (groupIn & (groupIn - 1)) === 0;
  const perGroupFilter = depthwiseFilter(kernel, groups);
  const filter = exactScale ? (tf.mul(perGroupFilter, groupIn) as tf.Tensor4D) : perGroupFilter;
  // Output channel (g·groupIn + i)·groupOut + o.
  const y = tf.depthwiseConv2d(x, filter, stride, pad);
  const [n, h, w] = y.shape;
  const perInput = tf.reshape(y, [n, h, w, groups, groupIn, groupOut]);
  const reduced = exactScale ? tf.mean(perInput, 4) : tf.sum(perInput, 4);
  return tf.reshape(reduced, [n, h, w, groups * groupOut]) as tf.Tensor4D;
}

/** The depthwise filter of a grouped kernel: `filter[.., g·groupIn + i, o] = kernel[.., i, g·groupOut + o]`. */
function depthwiseFilter(kernel: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [kh, kw, groupIn, outChannels] = kernel.shape;
  const groupOut = outChannels / groups;
  return tf.reshape(
    tf.transpose(tf.reshape(kernel, [kh, kw, groupIn, groups, groupOut]), [0, 1, 3, 2, 4]),
    [kh, kw, groups * groupIn, groupOut],
  ) as tf.Tensor4D;
}

/** Options of {@link conv2dTransposeTorch}, with PyTorch's `nn.ConvTranspose2d` meaning. */
export interface Conv2dTransposeTorchOptions {
  /** Stride. Default 1. */
  stride?: number;
  /** PyTorch's `padding`: removes this many rows/columns from each side of the full output. */
  padding?: number;
  /** PyTorch's `output_padding`: extra rows/columns added at the bottom/right. Default 0. */
  outputPadding?: number;
}

/**
 * Transposed convolution with PyTorch semantics on NHWC tensors.
 *
 * `kernel` is `[kh, kw, outChannels, inChannels]` (PyTorch's `[in, out, kh, kw]` transposed by
 * `(2, 3, 1, 0)`). Output size: `(H − 1)·stride − 2·padding + kh + outputPadding`.
 */
export function conv2dTransposeTorch(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  options: Conv2dTransposeTorchOptions = {},
): tf.Tensor4D {
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  const outputPadding = options.outputPadding ?? 0;
  const [n, h, w, inChannels] = x.shape;
  const [kh, kw, outChannels, kIn] = kernel.shape;
  if (kIn !== inChannels) {
    throw new Error(
      `conv2dTransposeTorch: kernel expects ${kIn} input channels but the input has ${inChannels}.`,
    );
  }
  if (outputPadding >= stride && outputPadding > 0) {
    throw new Error(
      `conv2dTransposeTorch: outputPadding (${outputPadding}) must be smaller than stride (${stride}).`,
    );
  }
  const outH = (h - 1) * stride - 2 * padding + kh + outputPadding;
  const outW = (w - 1) * stride - 2 * padding + kw + outputPadding;
  // The transpose of a forward conv over the output grid with `padding` before and
  // `padding - outputPadding` after; conv2dTranspose takes the forward conv's padding.
  const before = padding;
  const afterH = padding - outputPadding;
  if (afterH < 0) {
    return tf.tidy(() => {
      // Grow the output on the bottom/right by computing without padding then slicing.
      const full = conv2dTransposeTorch(x, kernel, { stride, padding: 0, outputPadding: 0 });
      const padded = tf.pad(full, [[0, 0], [0, outputPadding], [0, outputPadding], [0, 0]]);
      return tf.slice(padded, [0, padding, padding, 0], [n, outH, outW, outChannels]);
    });
  }
  return tf.conv2dTranspose(x, kernel, [n, outH, outW, outChannels], stride, [
    [0, 0],
    [before, afterH],
    [before, afterH],
    [0, 0],
  ]);
}
