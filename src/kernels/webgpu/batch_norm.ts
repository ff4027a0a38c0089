import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../tensor_kernel.js';
import { runProgram } from './program.js';

/*
 * BatchNorm over the last axis, fused with its activation, as WebGPU programs. Composed from
 * tfjs ops, a training-mode BatchNorm + ReLU is about a dozen dispatches forward and as many
 * backward; here it is two forward (statistics, normalise + activation) and two backward
 * (per-channel sums, input gradient). The formulas and their order of operations are those of
 * src/kernels/batch_norm_train.ts and src/kernels/relu_train.ts:
 *   y = act((x − mean) · (γ · invstd) + β),   invstd = 1 / √(var + ε);
 *   g = dy · [y > 0] (ReLU) or dy,  x̂ = (x − mean) · invstd;
 *   dβ = Σg,  dγ = Σ(g · x̂),  dx = (g·M − dβ − x̂·dγ) · (γ · invstd / M).
 */

/** Activation fused after the normalisation. */
export type FusedActivation = 'linear' | 'relu';

/** Lanes that share one channel's sums. */
const LANES = 256;

const ACTIVATIONS: Record<FusedActivation, number> = { linear: 0, relu: 1 };

function activationCode(activation: FusedActivation | undefined): number {
  const code = ACTIVATIONS[activation ?? 'linear'];
  if (code === undefined) throw new Error(`fused BatchNorm: unknown activation '${activation}'`);
  return code;
}

/** Shared WGSL: the workgroup-wide sum of one value per lane (all lanes must call it). */
const WORKGROUP_SUM = `
  var<workgroup> partial : array<f32, LANES>;
  fn workgroupSum(lane : i32, value : f32) -> f32 {
    workgroupBarrier();
    partial[lane] = value;
    workgroupBarrier();
    for (var half = LANES / 2; half > 0; half = half / 2) {
      if (lane < half) { partial[lane] = partial[lane] + partial[lane + half]; }
      workgroupBarrier();
    }
    return partial[0];
  }`;

/** `x̂` and the pre-activation value of element `i` (channel `c`). */
const NORMALISE = `
  fn invStd(c : i32) -> f32 { return inverseSqrt(stats[C + c] + EPS); }
  fn preActivation(i : i32, c : i32) -> f32 {
    return (x[i] - stats[c]) * (gamma[c] * invStd(c)) + beta[c];
  }
  fn upstream(i : i32, c : i32) -> f32 {
    if (ACT == 1 && !(preActivation(i, c) > 0.0)) { return 0.0; }
    return dy[i];
  }`;

/**
 * A BatchNorm kernel call on `x` (channels last): the inputs `names` in order (a program's
 * `inputs` and `variableNames`), the attributes, the channel count `c`, the element count
 * `size` and the elements per channel `m`.
 */
function batchNormCall(args: KernelArgs, names: string[]) {
  const all = args.inputs as Record<string, tf.TensorInfo>;
  const x = all['x']!;
  const c = x.shape[x.shape.length - 1]!;
  const size = x.shape.reduce((p, q) => p * q, 1);
  return {
    x,
    c,
    size,
    m: size / c,
    attrs: args.attrs as unknown as BatchNormApplyAttrs,
    program: { inputs: names.map((n) => all[n]!), variableNames: names },
  };
}

/** Batch mean and biased variance per channel: `[2, C]` (row 0 mean, row 1 variance). */
export function batchNormStatsWebGPU(args: KernelArgs): tf.TensorInfo {
  const { c, m, program } = batchNormCall(args, ['x']);
  return runProgram(args.backend, {
    name: 'batch_norm_stats',
    outputShape: [2, c],
    ...program,
    invocations: c * LANES,
    workgroupSize: LANES,
    constants: { C: c, M: m, LANES, ROUNDS: Math.ceil(m / LANES) },
    body: `${WORKGROUP_SUM}
      fn main(index : i32) {
        let ch = index / LANES;
        let lane = index % LANES;
        let valid = ch < C;
        var sum = 0.0;
        for (var r = 0; r < ROUNDS; r++) {
          let p = r * LANES + lane;
          if (valid && p < M) { sum += x[p * C + ch]; }
        }
        let mean = workgroupSum(lane, sum) / f32(M);
        var squares = 0.0;
        for (var r = 0; r < ROUNDS; r++) {
          let p = r * LANES + lane;
          if (valid && p < M) {
            let d = x[p * C + ch] - mean;
            squares += d * d;
          }
        }
        let variance = workgroupSum(lane, squares) / f32(M);
        if (valid && lane == 0) {
          result[ch] = mean;
          result[C + ch] = variance;
        }
      }`,
  });
}

/** Attributes of {@link batchNormApplyWebGPU}. */
export interface BatchNormApplyAttrs {
  epsilon: number;
  activation?: FusedActivation;
}

/**
 * `act((x − mean) · γ/√(var + ε) + β)`. `mean` and `variance` are the running statistics
 * (inference), or both the `[2, C]` batch statistics of {@link batchNormStatsWebGPU} (training:
 * the variance is its second row).
 */
export function batchNormApplyWebGPU(args: KernelArgs): tf.TensorInfo {
  const { x, c, size, attrs: a, program } = batchNormCall(args, ['x', 'mean', 'variance', 'gamma', 'beta']);
  const variance = (args.inputs as Record<string, tf.TensorInfo>)['variance']!;
  return runProgram(args.backend, {
    name: 'batch_norm_apply',
    outputShape: x.shape,
    ...program,
    invocations: size,
    constants: { C: c, SIZE: size, ACT: activationCode(a.activation), VAR_ROW: variance.shape.length === 2 ? c : 0 },
    floats: { EPS: a.epsilon },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let ch = index % C;
        let invStd = inverseSqrt(variance[VAR_ROW + ch] + EPS);
        let y = (x[index] - mean[ch]) * (gamma[ch] * invStd) + beta[ch];
        if (ACT == 1) { result[index] = max(y, 0.0); } else { result[index] = y; }
      }`,
  });
}

/** `[2, C]`: row 0 `Σ g` (β's gradient), row 1 `Σ g · x̂` (γ's gradient). */
export function batchNormGradStatsWebGPU(args: KernelArgs): tf.TensorInfo {
  const { c, m, attrs: a, program } = batchNormCall(args, ['dy', 'x', 'stats', 'gamma', 'beta']);
  return runProgram(args.backend, {
    name: 'batch_norm_grad_stats',
    outputShape: [2, c],
    ...program,
    invocations: c * LANES,
    workgroupSize: LANES,
    constants: { C: c, M: m, LANES, ROUNDS: Math.ceil(m / LANES), ACT: activationCode(a.activation) },
    floats: { EPS: a.epsilon },
    body: `${WORKGROUP_SUM}${NORMALISE}
      fn main(index : i32) {
        let ch = index / LANES;
        let lane = index % LANES;
        let valid = ch < C;
        var sumG = 0.0;
        var sumGXhat = 0.0;
        for (var r = 0; r < ROUNDS; r++) {
          let p = r * LANES + lane;
          if (valid && p < M) {
            let i = p * C + ch;
            let g = upstream(i, ch);
            sumG += g;
            sumGXhat += g * ((x[i] - stats[ch]) * invStd(ch));
          }
        }
        let dBeta = workgroupSum(lane, sumG);
        let dGamma = workgroupSum(lane, sumGXhat);
        if (valid && lane == 0) {
          result[ch] = dBeta;
          result[C + ch] = dGamma;
        }
      }`,
  });
}

/** The input gradient `dx`, from the sums of {@link batchNormGradStatsWebGPU}. */
export function batchNormGradInputWebGPU(args: KernelArgs): tf.TensorInfo {
  const { x, c, size, attrs: a, program } = batchNormCall(args, ['dy', 'x', 'stats', 'gamma', 'beta', 'sums']);
  return runProgram(args.backend, {
    name: 'batch_norm_grad_input',
    outputShape: x.shape,
    ...program,
    invocations: size,
    constants: { C: c, SIZE: size, ACT: activationCode(a.activation) },
    floats: { EPS: a.epsilon, COUNT: size / c },
    body: `${NORMALISE}
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let ch = index % C;
        let xhat = (x[index] - stats[ch]) * invStd(ch);
        let k = (gamma[ch] * invStd(ch)) / COUNT;
        result[index] = ((upstream(index, ch) * COUNT - sums[ch]) - xhat * sums[C + ch]) * k;
      }`,
  });
}

/** Attributes of {@link batchNormRunningWebGPU}. */
export interface BatchNormRunningAttrs {
  /** Row of `stats`: 0 mean, 1 variance. */
  row: number;
  /** Weight of the old running value (1 − momentum). */
  keep: number;
  /** Weight of the batch statistic (momentum, times n/(n−1) for the variance). */
  take: number;
}

/** A running statistic's update: `keep · running + take · stats[row]`. */
export function batchNormRunningWebGPU(args: KernelArgs): tf.TensorInfo {
  const { running, stats } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as BatchNormRunningAttrs;
  const c = running!.shape[0]!;
  return runProgram(args.backend, {
    name: 'batch_norm_running',
    outputShape: [c],
    inputs: [running!, stats!],
    variableNames: ['running', 'stats'],
    invocations: c,
    constants: { C: c, ROW: a.row },
    floats: { KEEP: a.keep, TAKE: a.take },
    body: `
      fn main(index : i32) {
        if (index >= C) { return; }
        result[index] = running[index] * KEEP + stats[ROW * C + index] * TAKE;
      }`,
  });
}
