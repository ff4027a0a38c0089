import type { layers } from '@tensorflow/tfjs-layers';
import { randomTensor } from './gradcheck.js';

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
