import type { layers } from '@tensorflow/tfjs-layers';
import type * as tf from '@tensorflow/tfjs-core';
import { checkGradients, randomTensor, type GradCheckOptions } from './gradcheck.js';

/**
 * Sets every trainable weight of a layer to uniform values in [-scale, scale). PyTorch's default
 * initialisation leaves tiny activations in small test layers, so many ReLU inputs sit within a
 * finite-difference step of the kink; O(1) weights keep gradient checks meaningful.
 */
export function randomizeTrainableWeights(layer: layers.Layer, seed: number, scale = 1): void {
  layer.trainableWeights.forEach((w, i) => {
    w.write(randomTensor(w.shape as number[], seed + i, -scale, scale));
  });
}

/**
 * The finite-difference check every layer test makes, of the input and every trainable weight:
 * `layer` is built on `x`, given O(1) weights from `weightSeed`, then checked. Returns how many
 * elements were compared.
 */
export async function checkLayerGradients(
  layer: layers.Layer,
  x: tf.Tensor,
  weightSeed: number,
  options: GradCheckOptions,
): Promise<number> {
  layer.apply(x);
  randomizeTrainableWeights(layer, weightSeed);
  return checkGradients((xs) => layer.apply(xs[0]!) as tf.Tensor | tf.Tensor[], [x], layer.trainableWeights, options);
}
