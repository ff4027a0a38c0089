import * as tf from '@tensorflow/tfjs-core';
import { FUSED_ADAM, type AdamUpdateAttrs } from '../kernels/adam_update.js';
import { arrayKernelsAreSlowLoops, hasArrayKernel } from '../kernels/array_kernel.js';
import { ADAM_MOMENT, ADAM_UPDATE, hasOwnKernel } from '../kernels/own_kernels.js';

/**
 * On wasm without its WebAssembly kernels (an engine without SIMD), parameters up to this size
 * take the fused JavaScript loop, where tfjs's per-kernel overhead dominates; larger ones keep
 * the composition, whose SIMD kernels beat a JavaScript loop rounding every step to float32
 * (measured 33 vs 18 ms per million parameters). Everywhere else the fused kernel wins at every
 * size: 13 vs 54 ms for the 10.6 M parameters of bench/models.ts's small G and D on wasm with
 * its WebAssembly kernels, 159 vs 2,437 ms on cpu.
 */
const JS_FUSED_MAX_SIZE_ON_WASM = 16384;

/**
 * One Adam update (PyTorch's formula, see `TorchAdam`): returns the new parameter, first and
 * second moment. The same formulas in the same order on every path, chosen by what the active
 * backend has (`registerFastKernels` registers them):
 * - webgpu: three programs of ours (first moment, second moment, parameter) for any size, instead
 *   of the composition's thirteen dispatches (src/kernels/webgpu/adam.ts);
 * - wasm and cpu: one fused array kernel, the same float32 values as the composition in one pass
 *   (src/kernels/adam_update.ts; on wasm a SIMD WebAssembly loop);
 * - otherwise (other backends, and large parameters on a wasm engine without SIMD): the
 *   composition of ops.
 */
export function adamUpdate(
  param: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  grad: tf.Tensor,
  c: AdamUpdateAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const float = [param, m, v, grad].every((t) => t.dtype === 'float32');
  if (float && hasOwnKernel(ADAM_UPDATE)) {
    return tf.tidy(() => {
      const engine = tf.engine();
      const moment = (moment: tf.Tensor, decay: number, power: 1 | 2) =>
        engine.runKernel(ADAM_MOMENT, { moment, gradient: grad }, { decay, power } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const m1 = moment(m, c.beta1, 1);
      const v1 = moment(v, c.beta2, 2);
      const attrs = { stepSize: c.stepSize, biasCorrection2Sqrt: c.biasCorrection2Sqrt, epsilon: c.epsilon };
      const p1 = engine.runKernel(ADAM_UPDATE, { param, m: m1, v: v1 }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      return [p1, m1, v1] as [tf.Tensor, tf.Tensor, tf.Tensor];
    });
  }
  if (float && hasArrayKernel(FUSED_ADAM) && (param.size <= JS_FUSED_MAX_SIZE_ON_WASM || !arrayKernelsAreSlowLoops())) {
    return tf.engine().runKernel(FUSED_ADAM, { param, m, v, grad }, c as unknown as tf.NamedAttrMap) as [
      tf.Tensor, tf.Tensor, tf.Tensor,
    ];
  }
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(grad, 1 - c.beta1));
    const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.mul(grad, grad), 1 - c.beta2));
    const denominator = tf.add(tf.div(tf.sqrt(v1), c.biasCorrection2Sqrt), c.epsilon);
    return [tf.sub(param, tf.mul(tf.div(m1, denominator), c.stepSize)), m1, v1] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
