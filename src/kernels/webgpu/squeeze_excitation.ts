import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../tensor_kernel.js';
import { runProgram } from './program.js';

/*
 * The activation-sized parts of squeeze-and-excitation (SE, SECat) as one dispatch each: the
 * squeeze (a spatial mean, which tfjs computes as a transpose and a reduction), its gradient (a
 * broadcast), and the gradient of the channel scale with respect to the scale (a product and a
 * spatial sum). The tiny excitation MLP stays composed. NHWC throughout; one invocation per
 * (sample, channel), whose loop over positions reads consecutive channels in neighbouring
 * invocations.
 */

function nhwc(shape: number[]): { N: number; HW: number; C: number } {
  const [n, h, w, c] = shape as [number, number, number, number];
  return { N: n, HW: h * w, C: c };
}

/**
 * `[N, C]`: per (sample, channel), the sum over positions `p` of `term` (WGSL reading element
 * `i = (n·HW + p)·C + c` of the named inputs), then `scale` (WGSL appended to the sum).
 */
function spatialSum(args: KernelArgs, name: string, variableNames: string[], term: string, scale: string): tf.TensorInfo {
  const inputs = variableNames.map((v) => (args.inputs as Record<string, tf.TensorInfo>)[v]!);
  const g = nhwc(inputs[0]!.shape);
  return runProgram(args.backend, {
    name,
    outputShape: [g.N, g.C],
    inputs,
    variableNames,
    invocations: g.N * g.C,
    constants: { ...g, SIZE: g.N * g.C },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let n = index / C;
        let c = index - n * C;
        var sum = 0.0;
        for (var p = 0; p < HW; p++) {
          let i = (n * HW + p) * C + c;
          sum += ${term};
        }
        result[index] = sum${scale};
      }`,
  });
}

/** `z[n, c] = mean over (h, w) of x[n, h, w, c]`. */
export function spatialMeanWebGPU(args: KernelArgs): tf.TensorInfo {
  return spatialSum(args, 'spatial_mean', ['x'], 'x[i]', ' / f32(HW)');
}

/** The mean's gradient: `dx[n, h, w, c] = dz[n, c] / (H·W)` for `x` of `inputShape`. */
export function spatialMeanGradWebGPU(args: KernelArgs): tf.TensorInfo {
  const { dz } = args.inputs as { dz: tf.TensorInfo };
  const inputShape = (args.attrs as unknown as { inputShape: number[] }).inputShape;
  const g = nhwc(inputShape);
  const size = g.N * g.HW * g.C;
  return runProgram(args.backend, {
    name: 'spatial_mean_grad',
    outputShape: inputShape,
    inputs: [dz],
    variableNames: ['dz'],
    invocations: size,
    constants: { ...g, SIZE: size },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let c = index % C;
        let n = index / (HW * C);
        result[index] = dz[n * C + c] / f32(HW);
      }`,
  });
}

/** `ds[n, c] = Σ over (h, w) of dy[n, h, w, c] · x[n, h, w, c]`: the channel scale's gradient. */
export function spatialDotWebGPU(args: KernelArgs): tf.TensorInfo {
  return spatialSum(args, 'spatial_dot', ['dy', 'x'], 'dy[i] * x[i]', '');
}
