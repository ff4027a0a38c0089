import * as tf from '@tensorflow/tfjs-core';

/**
 * The tensors, readable synchronously: on webgpu (which in Node cannot read GPU data
 * synchronously: tfjs reads through an OffscreenCanvas there) copies whose values were read
 * with `await data()` and stay in host memory; on every other backend the tensors themselves.
 * For writers that read synchronously (`writeSafetensors`). `release()` disposes the copies.
 */
export async function readableOnHost(
  tensors: Record<string, tf.Tensor>,
): Promise<{ tensors: Record<string, tf.Tensor>; release: () => void }> {
  if (tf.getBackend() !== 'webgpu') return { tensors, release: () => {} };
  const copies: Record<string, tf.Tensor> = {};
  const release = () => tf.dispose(Object.values(copies));
  try {
    for (const [key, t] of Object.entries(tensors)) {
      // A tensor made from values keeps them on the host until a kernel needs them on the GPU.
      copies[key] = tf.tensor(await t.data(), t.shape, t.dtype);
    }
  } catch (err) {
    release();
    throw err;
  }
  return { tensors: copies, release };
}
