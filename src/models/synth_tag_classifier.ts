import * as tfl from '@tensorflow/tfjs-layers';
import { checkPositiveInteger } from '../layers/checks.js';

/** Configuration of {@link buildSynthTagClassifier}. */
export interface SynthTagClassifierConfig {
  /** Side S of the square colour image, a multiple of 8. */
  inputSize: number;
  /** Length of the CVT multi-hot vector it predicts. Default 115. */
  cvtCount?: number;
  /** Seed of the initial weights (default 1). */
  seed?: number;
  /** Model name. Default `'synth_tag_classifier'`. */
  name?: string;
}

/**
 * A small colour-tag classifier: colour image `[N, S, S, 3]` in [-1, 1] (as G outputs it) →
 * CVT logits `[N, cvtCount]`. Six 3×3 convolutions down to S/8, then a global max pool (a tag
 * such as an eye colour lives in a few pixels, which an average would dilute) and one dense layer.
 * Pretrained on synthetic colourings and then frozen, it stands in for D's CVT head in the
 * demo's warm-up, where D is not trained.
 */
export function buildSynthTagClassifier(config: SynthTagClassifierConfig): tfl.LayersModel {
  const owner = 'buildSynthTagClassifier';
  const s = config.inputSize;
  checkPositiveInteger(owner, 'inputSize', s);
  if (s % 8 !== 0) throw new Error(`${owner}: inputSize must be a multiple of 8 (three stride-2 stages), got ${s}.`);
  const cvtCount = config.cvtCount ?? 115;
  checkPositiveInteger(owner, 'cvtCount', cvtCount);
  let seed = config.seed ?? 1;
  const image = tfl.input({ shape: [s, s, 3], name: 'color' });
  let x = image;
  for (const [i, [filters, strides]] of ([[16, 1], [32, 2], [32, 1], [64, 2], [64, 1], [64, 2]] as const).entries()) {
    x = tfl.layers
      .conv2d({ name: `conv${i + 1}`, filters, kernelSize: 3, strides, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }) })
      .apply(x) as tfl.SymbolicTensor;
  }
  const pooled = tfl.layers.globalMaxPooling2d({ name: 'pool' }).apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ name: 'cvtHead', units: cvtCount, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ name: config.name ?? 'synth_tag_classifier', inputs: image, outputs: logits });
}
