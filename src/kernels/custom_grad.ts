import * as tf from '@tensorflow/tfjs-core';

/**
 * `tf.customGrad` whose `save` takes effect only once `f` has returned. tfjs keeps what `save`
 * is given at once, and frees it only when the backward pass runs; when `f` throws after saving
 * (an allocation failing part-way, e.g. a `WasmMemoryError`), the node never reaches the tape and
 * the saved tensors leak, beyond the reach of `variableGradsFreeingOnError`. Deferring the save
 * to the end of `f`, where nothing allocates any more, leaves nothing kept on that path. Every
 * custom gradient of this library goes through it.
 */
export function customGrad<F extends (...args: never[]) => unknown>(f: F): (...args: tf.Tensor[]) => tf.Tensor {
  const deferred = (...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    let pending: tf.Tensor[] | undefined;
    const result = (f as unknown as (...a: unknown[]) => unknown)(...args.slice(0, -1), (tensors: tf.Tensor[]) => {
      pending = tensors;
    });
    if (pending != null) save(pending);
    return result;
  };
  return tf.customGrad(deferred as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...args: tf.Tensor[]) => tf.Tensor;
}
