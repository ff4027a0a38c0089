import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from '../tensor_kernel.js';
import { runProgram } from './program.js';

/*
 * The Adam update of one parameter in three dispatches (first moment, second moment,
 * parameter) instead of the thirteen elementwise ops of src/training/adam.ts's composition,
 * with the same formulas in the same order:
 *   m ← m·β1 + g·(1 − β1),  v ← v·β2 + (g·g)·(1 − β2),
 *   p ← p − m / (√v / √(1 − β2ᵗ) + ε) · lr/(1 − β1ᵗ).
 * The step-dependent factors are uniforms, so one compiled shader serves every step.
 */

/** Attributes of {@link adamMomentWebGPU}. */
export interface AdamMomentAttrs {
  /** β1 (first moment) or β2 (second moment). */
  decay: number;
  /** 1 for the first moment (of g), 2 for the second (of g²). */
  power: 1 | 2;
}

/** The new first or second moment. */
export function adamMomentWebGPU(args: KernelArgs): tf.TensorInfo {
  const { moment, gradient } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as AdamMomentAttrs;
  const size = moment!.shape.reduce((p, q) => p * q, 1);
  return runProgram(args.backend, {
    name: 'adam_moment',
    outputShape: moment!.shape,
    inputs: [moment!, gradient!],
    variableNames: ['moment', 'gradient'],
    invocations: size,
    constants: { SIZE: size, POWER: a.power },
    floats: { DECAY: a.decay, REST: 1 - a.decay },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let g = gradient[index];
        var term = g;
        if (POWER == 2) { term = g * g; }
        result[index] = moment[index] * DECAY + term * REST;
      }`,
  });
}

/** Attributes of {@link adamUpdateWebGPU}. */
export interface AdamUpdateAttrs {
  /** lr / (1 − β1ᵗ). */
  stepSize: number;
  /** √(1 − β2ᵗ). */
  biasCorrection2Sqrt: number;
  epsilon: number;
}

/** The updated parameter, from the new moments. */
export function adamUpdateWebGPU(args: KernelArgs): tf.TensorInfo {
  const { param, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as unknown as AdamUpdateAttrs;
  const size = param!.shape.reduce((p, q) => p * q, 1);
  return runProgram(args.backend, {
    name: 'adam_update',
    outputShape: param!.shape,
    inputs: [param!, m!, v!],
    variableNames: ['param', 'm', 'v'],
    invocations: size,
    constants: { SIZE: size },
    floats: { EPS: a.epsilon },
    uniforms: { stepSize: a.stepSize, biasCorrection2Sqrt: a.biasCorrection2Sqrt },
    body: `
      fn main(index : i32) {
        if (index >= SIZE) { return; }
        let denominator = sqrt(v[index]) / uniforms.biasCorrection2Sqrt + EPS;
        result[index] = param[index] - (m[index] / denominator) * uniforms.stepSize;
      }`,
  });
}
