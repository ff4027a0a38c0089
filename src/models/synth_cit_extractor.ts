import * as tfl from '@tensorflow/tfjs-layers';
import { checkPositiveInteger } from '../layers/checks.js';

/**
 * Configuration of {@link buildSynthCitExtractor}, the synthetic counterpart of the CIT
 * extractor: a small line-art network pretrained on synthetic characters (whose region masks
 * are exact), frozen while the generator trains.
 */
export interface SynthCitExtractorConfig {
  /** Side S of the square line art, a multiple of 8. */
  inputSize: number;
  /** Channels of the three stages at S, S/2 and S/4. Default `[8, 16, 32]`. */
  widths?: [number, number, number];
  /** Channels of the features at S/8, the generator's `citFeatures`. Default 32. */
  featureChannels?: number;
  /** Regions the region head tells apart (the synthetic painter's, 10). Default 10. */
  regions?: number;
  /** Length of the CIT multi-hot vector the tag head predicts. Default 370. */
  citCount?: number;
  /** Seed of the initial weights (default 1). */
  seed?: number;
  /**
   * Build the two pretraining heads (default true). Without them the model has one output, the
   * features, as a frozen extractor is used (`colorize`); a saved state dict's head weights are
   * then ignored.
   */
  heads?: boolean;
  /**
   * Standardise the features with a BatchNorm, `featureNorm` (default true):
   * centred features, so that where the generator's convolutions read zero padding it looks like
   * an average cell. Unnormalised, the features are ReLU outputs with an rms of 3–12 and the
   * generator painted a patch where its stride-2 convolutions read the padding, at the left and
   * top edges (docs/results.md, eleventh round). Files saved without it load without it.
   */
  featureNorm?: boolean;
  /** Model name. Default `'synth_cit_extractor'`. */
  name?: string;
}

/**
 * Builds the synthetic CIT extractor as a `tf.LayersModel`: line art `[N, S, S, 1]` (white = 1)
 * → `[features [N, S/8, S/8, featureChannels], regionLogits [N, S/8, S/8, regions],
 * citLogits [N, citCount]]`. The features are what the generator takes as `citFeatures` (the
 * trainer reads the first output); the two heads are its pretraining objectives: which regions
 * cover each S/8 cell, and which colour-invariant tags the character has. With `heads: false`
 * the features are the only output.
 */
export function buildSynthCitExtractor(config: SynthCitExtractorConfig): tfl.LayersModel {
  const owner = 'buildSynthCitExtractor';
  const known = new Set(['inputSize', 'widths', 'featureChannels', 'regions', 'citCount', 'seed', 'heads', 'featureNorm', 'name']);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new Error(`${owner}: unknown option '${key}'; the options are ${[...known].join(', ')}.`);
  }
  const s = config.inputSize;
  checkPositiveInteger(owner, 'inputSize', s);
  if (s % 8 !== 0) throw new Error(`${owner}: inputSize must be a multiple of 8 (three stride-2 stages), got ${s}.`);
  const widths = config.widths ?? [8, 16, 32];
  if (!Array.isArray(widths) || widths.length !== 3) throw new Error(`${owner}: widths must list 3 channel counts, got ${JSON.stringify(widths)}.`);
  widths.forEach((w, i) => checkPositiveInteger(owner, `widths[${i}]`, w));
  const featureChannels = config.featureChannels ?? 32;
  const regions = config.regions ?? 10;
  const citCount = config.citCount ?? 370;
  checkPositiveInteger(owner, 'featureChannels', featureChannels);
  checkPositiveInteger(owner, 'regions', regions);
  checkPositiveInteger(owner, 'citCount', citCount);
  let seed = config.seed ?? 1;
  const conv = (name: string, filters: number, strides: number, activation: 'relu' | 'linear' = 'relu', kernelSize = 3) =>
    tfl.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides,
      padding: 'same',
      activation,
      kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }),
    });

  const lineArt = tfl.input({ shape: [s, s, 1], name: 'lineArt' });
  // Ink = 1 − line art, so that empty paper is zero input.
  let x = tfl.layers.rescaling({ scale: -1, offset: 1, name: 'ink' }).apply(lineArt) as tfl.SymbolicTensor;
  x = conv('stage1.0', widths[0], 1).apply(x) as tfl.SymbolicTensor;
  x = conv('stage2.0', widths[1], 2).apply(x) as tfl.SymbolicTensor;
  x = conv('stage2.1', widths[1], 1).apply(x) as tfl.SymbolicTensor;
  x = conv('stage3.0', widths[2], 2).apply(x) as tfl.SymbolicTensor;
  x = conv('stage3.1', widths[2], 1).apply(x) as tfl.SymbolicTensor;
  x = conv('stage4.0', featureChannels, 2).apply(x) as tfl.SymbolicTensor;
  let features = conv('features', featureChannels, 1).apply(x) as tfl.SymbolicTensor;
  if (config.featureNorm !== false) {
    features = tfl.layers.batchNormalization({ name: 'featureNorm', momentum: 0.9 }).apply(features) as tfl.SymbolicTensor;
  }
  const name = config.name ?? 'synth_cit_extractor';
  if (config.heads === false) return tfl.model({ name, inputs: lineArt, outputs: features });
  const regionLogits = conv('regionHead', regions, 1, 'linear', 1).apply(features) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tfl.SymbolicTensor;
  const citLogits = tfl.layers
    .dense({ name: 'citHead', units: citCount, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ name, inputs: lineArt, outputs: [features, regionLogits, citLogits] });
}
