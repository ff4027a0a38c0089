import type { ArrayKernelSpec } from './array_kernel.js';

/** Name of the fused Adam update kernel (wasm and cpu). */
export const FUSED_ADAM = 'Tag2PixFusedAdam';

/** The constants of one Adam update, as the composition passes them (each rounded to float32). */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** `sqrt(1 − beta2^t)`. */
  biasCorrection2Sqrt: number;
  /** `lr / (1 − beta1^t)`. */
  stepSize: number;
}

const f32 = Math.fround;

/**
 * PyTorch's Adam update of one parameter in one pass: new parameter, first and second moment
 * from the parameter, moments and gradient. Every operation is rounded to float32 in the order
 * of `TorchAdam`'s composition (`m·β1 + g·(1−β1)`, `v·β2 + (g·g)·(1−β2)`,
 * `p − (m / (√v / c2 + ε))·step`), so the result is bit for bit the composition's on wasm and cpu,
 * where the composition costs 13 kernels and passes.
 */
export const adamUpdateSpec: ArrayKernelSpec = {
  inputs: ['param', 'm', 'v', 'grad'],
  outputShapes: (shapes) => [shapes[0]!, shapes[0]!, shapes[0]!],
  compute([p, m, v, g], [pOut, mOut, vOut], attrs) {
    const a = attrs as unknown as AdamUpdateAttrs;
    const b1 = f32(a.beta1);
    const c1 = f32(1 - a.beta1);
    const b2 = f32(a.beta2);
    const c2 = f32(1 - a.beta2);
    const bc = f32(a.biasCorrection2Sqrt);
    const eps = f32(a.epsilon);
    const step = f32(a.stepSize);
    const n = p!.length;
    for (let i = 0; i < n; i++) {
      const gi = g![i]!;
      const mi = f32(f32(m![i]! * b1) + f32(gi * c1));
      const vi = f32(f32(v![i]! * b2) + f32(f32(gi * gi) * c2));
      const denominator = f32(f32(f32(Math.sqrt(vi)) / bc) + eps);
      pOut![i] = p![i]! - f32(f32(mi / denominator) * step);
      mOut![i] = mi;
      vOut![i] = vi;
    }
  },
  computeWasm(kernels, [p, m, v, g], [pOut, mOut, vOut], attrs, shapes) {
    const a = attrs as unknown as AdamUpdateAttrs;
    const size = shapes[0]!.reduce((x, y) => x * y, 1);
    // f32 parameters round each constant as Math.fround does in compute().
    kernels.adam(p!, m!, v!, g!, pOut!, mOut!, vOut!, size, a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.biasCorrection2Sqrt, a.epsilon, a.stepSize);
  },
};
