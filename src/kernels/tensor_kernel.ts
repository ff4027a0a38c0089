import * as tf from '@tensorflow/tfjs-core';

/** The arguments tfjs hands a kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: tf.KernelBackend;
}

/**
 * Turns a function of tensors into a kernel function, so a kernel can be written with the
 * backend's own fast ops (matMul, conv2d, slice, concat …) instead of per-element loops.
 *
 * Inside a kernel the engine records no gradients, and every op runs on the backend that runs
 * the kernel. Two references need care: the inputs are the caller's data, so wrapping them as
 * tensors takes a reference on them first (else disposing the wrappers would free the caller's
 * tensors); and the result is handed to the engine with a reference of its own before the
 * local tensor is disposed, so the engine owns it exactly once and `tf.memory()` stays exact.
 */
export function tensorKernel(
  compute: (inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap) => tf.Tensor,
): (args: KernelArgs) => tf.TensorInfo {
  return ({ inputs, attrs, backend }) => {
    const engine = tf.engine();
    const wrapped: Record<string, tf.Tensor> = {};
    for (const [name, info] of Object.entries(inputs)) {
      if (info == null) continue;
      backend.incRef(info.dataId);
      wrapped[name] = engine.makeTensorFromTensorInfo(info, backend);
    }
    let result: tf.Tensor;
    try {
      result = tf.tidy(() => compute(wrapped, attrs ?? {}));
    } finally {
      tf.dispose(Object.values(wrapped));
    }
    // A kernel may return one of its inputs unchanged (e.g. a reshape); the engine still gets
    // its own reference then.
    backend.incRef(result.dataId);
    const out: tf.TensorInfo = { dataId: result.dataId, shape: result.shape, dtype: result.dtype };
    result.dispose();
    return out;
  };
}
