import { WeightsError } from '../errors.js';
import type { Tag2PixGeneratorConfig } from './generator.js';
import type { SynthCitExtractorConfig } from './synth_cit_extractor.js';

/** Anything with a shape: a `tf.Tensor`, a safetensors header entry, a checkpoint's `TorchTensor`. */
export interface Shaped {
  readonly shape: readonly number[];
}

/** Shapes by key: a state dict's tensors, or their descriptions before they are decoded. */
export type StateDictShapes = Readonly<Record<string, Shaped>>;

/** A configuration read off a generator's weights: every setting that shapes them is present. */
export type InferredGeneratorConfig = Tag2PixGeneratorConfig &
  Required<
    Pick<
      Tag2PixGeneratorConfig,
      'inputSize' | 'decoderLayers' | 'cvtCount' | 'batchNorm' | 'guideDecoder' | 'citFeatures' | 'colorFcRelu' | 'widthMultiplier'
    >
  >;

/**
 * What a state dict holds, judged from its keys: `cit-extractor` is the published CIT network,
 * `synth-cit-extractor` the demo's synthetic one (`buildSynthCitExtractor`).
 */
export type StateDictKind = 'generator' | 'discriminator' | 'cit-extractor' | 'synth-cit-extractor' | 'unknown';

/** Classifies a state dict (PyTorch keys, without a `module.` prefix) by its keys. */
export function stateDictKind(stateDict: Readonly<Record<string, unknown>>): StateDictKind {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(stateDict, k);
  if (has('Linear.weight') && has('conv1.0.weight')) return 'generator';
  if (has('adv_judge.0.weight')) return 'discriminator';
  if (has('conv1.weight') && has('layer1.0.conv1.weight')) return 'cit-extractor';
  if (has('stage1.0.weight') && has('features.weight')) return 'synth-cit-extractor';
  return 'unknown';
}

/**
 * The configuration of a synthetic CIT extractor state dict (the demo's `cit_extractor.safetensors`),
 * read off its shapes, for a generator of `inputSize`; without the pretraining heads (`heads:
 * false`), which only pretraining uses. Shapes that do not chain are caught when the weights load.
 * Browser-safe.
 */
export function inferSynthCitExtractorConfig(stateDict: StateDictShapes, inputSize: number): SynthCitExtractorConfig {
  const outChannels = (k: string): number => {
    const t = Object.prototype.hasOwnProperty.call(stateDict, k) ? stateDict[k] : undefined;
    if (!t) throw new WeightsError(`This is not a synthetic CIT extractor state dict: it has no '${k}'.`);
    const n = t.shape[0];
    if (t.shape.length !== 4 || !(Number.isInteger(n) && n! > 0)) {
      throw new WeightsError(`'${k}' has shape [${t.shape.join(', ')}]; a convolution weight [out, in, kh, kw] was expected.`);
    }
    return n!;
  };
  return {
    inputSize,
    widths: [outChannels('stage1.0.weight'), outChannels('stage2.0.weight'), outChannels('stage3.0.weight')],
    featureChannels: outChannels('features.weight'),
    featureNorm: Object.prototype.hasOwnProperty.call(stateDict, 'featureNorm.running_mean'),
    heads: false,
  };
}

/**
 * The generator configuration a state dict was trained with, read off its PyTorch keys and
 * shapes alone (no tensor data is needed: pass tensors, or a safetensors header's entries):
 * input size (from `Linear`), decoder block counts, BatchNorm, guide decoder, CIT path and its
 * channels, colorFC ReLU, width multiplier, the CVT encoder's own width and the SECat reduction.
 * Only SECat generators (the published model) are recognised. Browser-safe.
 */
export function inferGeneratorConfig(stateDict: StateDictShapes): InferredGeneratorConfig {
  const shape = (k: string) => {
    // Own keys only: a file's key list may name anything, '__proto__' included.
    const t = Object.prototype.hasOwnProperty.call(stateDict, k) ? stateDict[k] : undefined;
    if (!t) throw new WeightsError(`This is not a complete Tag2Pix generator state dict: it has no '${k}'.`);
    return t.shape;
  };
  const keys = Object.keys(stateDict);
  if (!keys.includes('deconv1.secat_layer.0.selayer.fc.0.weight')) {
    throw new WeightsError(
      'The generator state dict has no SECat decoder blocks (deconv1.secat_layer.0.selayer.fc.0.weight); ' +
        'only SECat generators (the published model) can be loaded from files; build ablations with buildTag2PixGenerator.',
    );
  }
  const stem = shape('conv1.0.weight')[0]!;
  const [linearRows, cvtCount] = shape('Linear.weight') as [number, number];
  const linearChannels = shape('colorConv.0.weight')[1] ?? 1;
  const bottom = Math.round(Math.sqrt(linearRows / linearChannels));
  if (bottom * bottom * linearChannels !== linearRows) {
    throw new WeightsError(
      `Linear.weight has ${linearRows} rows, which is not ${linearChannels}·(S/16)² for any size S; this is not a Tag2Pix generator.`,
    );
  }
  const decoderLayers = [1, 2, 3, 4].map((d) => {
    const pattern = new RegExp(`^deconv${d}\\.secat_layer\\.(\\d+)\\.`);
    return new Set(keys.map((k) => pattern.exec(k)?.[1]).filter((v): v is string => v !== undefined)).size;
  }) as [number, number, number, number];
  if (decoderLayers.some((n) => n === 0)) {
    throw new WeightsError(`A decoder block (deconv1..deconv4) has no weights (blocks found: [${decoderLayers.join(', ')}]); the state dict is incomplete.`);
  }
  const config: InferredGeneratorConfig = {
    inputSize: bottom * 16,
    decoderLayers,
    cvtCount,
    // Prefix tests rather than single keys, so that a training checkpoint's weight names read
    // the same (its guide decoder names its convolutions differently from PyTorch).
    batchNorm: keys.some((k) => k.startsWith('deconv1.') && k.endsWith('.running_mean')),
    guideDecoder: keys.some((k) => k.startsWith('deconv_for_decoder.')),
    citFeatures: keys.some((k) => k.startsWith('featureConv.')),
    colorFcRelu: keys.includes('colorFC.6.weight'),
    widthMultiplier: stem / 16,
  };
  if (config.citFeatures) config.citChannels = shape('featureConv.network.0.weight')[1];
  // A CVT encoder wider or narrower than the rest (the demo's is ×1 in a ×0.25 generator).
  const tagEncoderWidth = shape('colorConv.0.weight')[0]! / 64;
  if (tagEncoderWidth !== config.widthMultiplier) config.tagEncoderWidthMultiplier = tagEncoderWidth;
  // SECat hidden width = filters // reduction, read off the widest block.
  const reduction = Math.round(shape('deconv1.secat_layer.0.conv3.weight')[0]! / shape('deconv1.secat_layer.0.selayer.fc.0.weight')[0]!);
  if (reduction !== 16) config.seReduction = reduction;
  return config;
}
