import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../tensor_kernel.js';
import { runProgram } from './program.js';

/*
 * Grouped 2-D convolution (PyTorch semantics: contiguous channel groups, symmetric zero padding)
 * on NHWC data with an `[kh, kw, inChannels / groups, outChannels]` kernel, and both of its
 * gradients, as one dispatch each. Composed from tfjs ops the same convolution is a split, one
 * conv per group and a concat (or a depthwise conv and a sum), and its gradient about three
 * times that: tens of dispatches per layer.
 */

/** Attributes of the three grouped-convolution kernels. */
export interface GroupedConvAttrs {
  /** Stride along height and width. */
  stride: number;
  /** Zero padding on every side. */
  padding: number;
  /** Number of channel groups. */
  groups: number;
}

/** Geometry shared by the three programs. */
function geometry(xShape: number[], kernelShape: number[], a: GroupedConvAttrs) {
  const [n, h, w, cin] = xShape as [number, number, number, number];
  const [kh, kw, gin, cout] = kernelShape as [number, number, number, number];
  const oh = Math.floor((h + 2 * a.padding - kh) / a.stride) + 1;
  const ow = Math.floor((w + 2 * a.padding - kw) / a.stride) + 1;
  return {
    N: n, H: h, W: w, CIN: cin, KH: kh, KW: kw, GIN: gin, COUT: cout, GOUT: cout / a.groups,
    OH: oh, OW: ow, STRIDE: a.stride, PAD: a.padding,
  };
}

const attrsOf = (args: KernelArgs) => args.attrs as unknown as GroupedConvAttrs;

/** `y[n, oy, ox, co] = Σ_{ky, kx, i} x[n, oy·s − p + ky, ox·s − p + kx, g·GIN + i] · k[ky, kx, i, co]`. */
export function groupedConv2dWebGPU(args: KernelArgs): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const c = geometry(x.shape, filter.shape, attrsOf(args));
  const size = c.N * c.OH * c.OW * c.COUT;
  return runProgram(args.backend, {
    name: 'grouped_conv2d',
    outputShape: [c.N, c.OH, c.OW, c.COUT],
    inputs: [x, filter],
    variableNames: ['x', 'w'],
    invocations: size,
    constants: { ...c, SIZE: size },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let co = index % COUT;
        let ox = (index / COUT) % OW;
        let oy = (index / (COUT * OW)) % OH;
        let n = index / (COUT * OW * OH);
        let cBase = (co / GOUT) * GIN;
        var acc = 0.0;
        for (var ky = 0; ky < KH; ky++) {
          let iy = oy * STRIDE - PAD + ky;
          if (iy < 0 || iy >= H) { continue; }
          for (var kx = 0; kx < KW; kx++) {
            let ix = ox * STRIDE - PAD + kx;
            if (ix < 0 || ix >= W) { continue; }
            let xBase = ((n * H + iy) * W + ix) * CIN + cBase;
            let wBase = (ky * KW + kx) * GIN * COUT + co;
            for (var i = 0; i < GIN; i++) {
              acc += x[xBase + i] * w[wBase + i * COUT];
            }
          }
        }
        result[index] = acc;
      }`,
  });
}

/** `dx[n, iy, ix, c]` of {@link groupedConv2dWebGPU}: each input pixel gathers the outputs it fed. */
export function groupedConv2dBackpropInputWebGPU(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const inputShape = (args.attrs as unknown as { inputShape: number[] }).inputShape;
  const c = geometry(inputShape, filter.shape, attrsOf(args));
  const size = c.N * c.H * c.W * c.CIN;
  return runProgram(args.backend, {
    name: 'grouped_conv2d_backprop_input',
    outputShape: inputShape,
    inputs: [dy, filter],
    variableNames: ['dy', 'w'],
    invocations: size,
    constants: { ...c, SIZE: size },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let ci = index % CIN;
        let ix = (index / CIN) % W;
        let iy = (index / (CIN * W)) % H;
        let n = index / (CIN * W * H);
        let g = ci / GIN;
        let i = ci - g * GIN;
        var acc = 0.0;
        for (var ky = 0; ky < KH; ky++) {
          let ty = iy + PAD - ky;
          if (ty < 0 || ty % STRIDE != 0) { continue; }
          let oy = ty / STRIDE;
          if (oy >= OH) { continue; }
          for (var kx = 0; kx < KW; kx++) {
            let tx = ix + PAD - kx;
            if (tx < 0 || tx % STRIDE != 0) { continue; }
            let ox = tx / STRIDE;
            if (ox >= OW) { continue; }
            let dyBase = ((n * OH + oy) * OW + ox) * COUT + g * GOUT;
            let wBase = ((ky * KW + kx) * GIN + i) * COUT + g * GOUT;
            for (var o = 0; o < GOUT; o++) {
              acc += dy[dyBase + o] * w[wBase + o];
            }
          }
        }
        result[index] = acc;
      }`,
  });
}

/** Lanes that share one filter element's sum over batch and positions. */
const REDUCE_LANES = 64;

/**
 * `dk[ky, kx, i, co]` of {@link groupedConv2dWebGPU}: a sum over batch and output positions, one
 * workgroup per filter element (its lanes take every 64th position, then a tree reduction).
 */
export function groupedConv2dBackpropFilterWebGPU(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = (args.attrs as unknown as { filterShape: number[] }).filterShape;
  const c = geometry(x.shape, filterShape, attrsOf(args));
  const size = c.KH * c.KW * c.GIN * c.COUT;
  const positions = c.N * c.OH * c.OW;
  return runProgram(args.backend, {
    name: 'grouped_conv2d_backprop_filter',
    outputShape: filterShape,
    inputs: [x, dy],
    variableNames: ['x', 'dy'],
    invocations: size * REDUCE_LANES,
    workgroupSize: REDUCE_LANES,
    constants: { ...c, SIZE: size, POSITIONS: positions, LANES: REDUCE_LANES, ROUNDS: Math.ceil(positions / REDUCE_LANES) },
    body: `
      var<workgroup> partial : array<f32, LANES>;
      fn main(index : i32) {
        let out = index / LANES;
        let lane = index % LANES;
        var acc = 0.0;
        if (out < SIZE) {
          let co = out % COUT;
          let i = (out / COUT) % GIN;
          let kx = (out / (COUT * GIN)) % KW;
          let ky = out / (COUT * GIN * KW);
          let ci = (co / GOUT) * GIN + i;
          for (var r = 0; r < ROUNDS; r++) {
            let p = r * LANES + lane;
            if (p < POSITIONS) {
              let ox = p % OW;
              let oy = (p / OW) % OH;
              let n = p / (OW * OH);
              let iy = oy * STRIDE - PAD + ky;
              let ix = ox * STRIDE - PAD + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                acc += x[((n * H + iy) * W + ix) * CIN + ci] * dy[p * COUT + co];
              }
            }
          }
        }
        partial[lane] = acc;
        workgroupBarrier();
        for (var half = LANES / 2; half > 0; half = half / 2) {
          if (lane < half) { partial[lane] = partial[lane] + partial[lane + half]; }
          workgroupBarrier();
        }
        if (lane == 0 && out < SIZE) { result[out] = partial[0]; }
      }`,
  });
}
