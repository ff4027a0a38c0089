import * as tfl from '@tensorflow/tfjs-layers';
import {
  AblationDecoderBlock,
  DECODER_BLOCK_KINDS,
  decoderBlockTakesTag,
  type DecoderBlockKind,
} from '../layers/ablation_decoder_block.js';
import { checkBatchNormMode, checkBoolean, checkKnownOptions, checkOneOf, checkPositiveInteger } from '../layers/checks.js';
import { CVTEncoder } from '../layers/cvt_encoder.js';
import { FeatureConv } from '../layers/feature_conv.js';
import { GroupedConv2D } from '../layers/grouped_conv.js';
import { GuideDecoder } from '../layers/guide_decoder.js';
import { PixelShuffleDecoderBlock } from '../layers/se_resnext.js';
import type { BatchNormMode } from '../layers/torch_layer.js';
import { checkWidthMultiplier, scaled, scaledGrouped } from './channels.js';

export type { DecoderBlockKind };

/** Configuration of {@link buildTag2PixGenerator}; every field is optional. */
export interface Tag2PixGeneratorConfig {
  /** Side S of the square line art, a multiple of 16. Default 256 (the published 512 px model: 512). */
  inputSize?: number;
  /** Bottlenecks in deconv1..deconv4. Default `[12, 8, 5, 5]`. */
  decoderLayers?: [number, number, number, number];
  /** Length of the colour-variant tag (CVT) multi-hot vector. Default 115. */
  cvtCount?: number;
  /**
   * Number of colour-invariant tags (CIT) the paired CIT extractor was trained on. Default 370.
   * The generator only sees the extractor's features, so this is recorded, not used, as in the
   * reference (`iv_class_num`).
   */
  citCount?: number;
  /** Channels of the CIT features input. Default 512 (the CIT extractor's layer2). */
  citChannels?: number;
  /** BatchNorm in FeatureConv and the decoder bottlenecks. Default true (the 512 px model: false). */
  batchNorm?: boolean;
  /** The guide decoder. Default true; when false the second output is the colour output. */
  guideDecoder?: boolean;
  /** The CIT feature path. Default true; when false the model has no `citFeatures` input. */
  citFeatures?: boolean;
  /** ReLU between the CVT encoder's `colorFC` Linear layers. Default false. */
  colorFcRelu?: boolean;
  /**
   * Scales every channel count (grouped widths stay multiples of 16), so tests, demos and CPU
   * users can run a narrow model. Default 1; the published weights need 1.
   */
  widthMultiplier?: number;
  /** Decoder block: `'secat'` (default) or an ablation of the paper's Table 3. */
  decoderBlock?: DecoderBlockKind;
  /** BatchNorm statistics mode of the generator's BatchNorms. Default `'auto'`. */
  batchNormMode?: BatchNormMode;
  /**
   * The decoder bottlenecks' SE/SECat hidden width is `filters / seReduction`. Default 16 (the
   * published value). A narrow model (`widthMultiplier` < 1) keeps the published hidden widths
   * with `16 × widthMultiplier`: at ×0.25 and 16 the last blocks' SECat has 4 hidden units to
   * carry every colour tag.
   */
  seReduction?: number;
  /**
   * Width multiplier of the CVT encoder alone (`Linear`, `colorConv`, `colorFC`); default
   * `widthMultiplier`. Its output is the only route of the colour tags into the network, and a
   * narrow model's 16-value tag embedding (at ×0.25) must carry every family's colour at once;
   * 1 keeps the published 64 at little cost (the encoder is a small part of the model).
   */
  tagEncoderWidthMultiplier?: number;
  /**
   * Gradient checkpointing in the decoder bottlenecks (of every `decoderBlock`): a training
   * forward pass under a gradient tape keeps only each bottleneck's inputs and recomputes the
   * rest in the backward pass. Same values and gradients, a much smaller tape, about one more
   * decoder forward pass of time. Default false. See `docs/training.md`.
   */
  recompute?: boolean;
  /** Model name. Default `'tag2pix_generator'`. */
  name?: string;
}

/** A generator configuration with every default filled in and every channel count resolved. */
export interface ResolvedGeneratorConfig extends Required<Omit<Tag2PixGeneratorConfig, 'name'>> {
  name: string;
  channels: {
    encoder: number[];
    linear: number;
    colorConv: number;
    embedding: number;
    featureConv: number;
    decoderWidths: number[];
    deconv5: number;
    guide: number[];
  };
}

/** Fills in a generator configuration's defaults and validates it. */
export function resolveGeneratorConfig(config: Tag2PixGeneratorConfig = {}): ResolvedGeneratorConfig {
  const owner = 'buildTag2PixGenerator';
  const c = {
    inputSize: config.inputSize ?? 256,
    decoderLayers: config.decoderLayers ?? ([12, 8, 5, 5] as [number, number, number, number]),
    cvtCount: config.cvtCount ?? 115,
    citCount: config.citCount ?? 370,
    citChannels: config.citChannels ?? 512,
    batchNorm: config.batchNorm ?? true,
    guideDecoder: config.guideDecoder ?? true,
    citFeatures: config.citFeatures ?? true,
    colorFcRelu: config.colorFcRelu ?? false,
    widthMultiplier: config.widthMultiplier ?? 1,
    decoderBlock: config.decoderBlock ?? 'secat',
    batchNormMode: config.batchNormMode ?? 'auto',
    seReduction: config.seReduction ?? 16,
    tagEncoderWidthMultiplier: config.tagEncoderWidthMultiplier ?? config.widthMultiplier ?? 1,
    recompute: config.recompute ?? false,
    name: config.name ?? 'tag2pix_generator',
  };
  checkKnownOptions(owner, config, Object.keys(c));
  checkPositiveInteger(owner, 'inputSize', c.inputSize);
  if (c.inputSize % 16 !== 0) {
    throw new Error(
      `${owner}: inputSize must be a multiple of 16 (four stride-2 encoder stages), got ${c.inputSize}; ` +
        `try ${Math.max(16, Math.round(c.inputSize / 16) * 16)}.`,
    );
  }
  if (!Array.isArray(c.decoderLayers) || c.decoderLayers.length !== 4) {
    throw new Error(`${owner}: decoderLayers must list 4 block counts (deconv1..4), got ${JSON.stringify(c.decoderLayers)}.`);
  }
  c.decoderLayers.forEach((n, i) => checkPositiveInteger(owner, `decoderLayers[${i}]`, n));
  checkPositiveInteger(owner, 'cvtCount', c.cvtCount);
  checkPositiveInteger(owner, 'citCount', c.citCount);
  checkPositiveInteger(owner, 'citChannels', c.citChannels);
  checkPositiveInteger(owner, 'seReduction', c.seReduction);
  checkWidthMultiplier(owner, c.widthMultiplier);
  if (typeof c.tagEncoderWidthMultiplier !== 'number' || !(c.tagEncoderWidthMultiplier > 0) || !Number.isFinite(c.tagEncoderWidthMultiplier)) {
    throw new Error(`${owner}: tagEncoderWidthMultiplier must be a number > 0, got ${String(c.tagEncoderWidthMultiplier)}.`);
  }
  checkOneOf(owner, 'decoderBlock', c.decoderBlock, DECODER_BLOCK_KINDS);
  if (c.decoderBlock === 'adain' && !c.batchNorm) {
    throw new Error(`${owner}: decoderBlock 'adain' has no BatchNorm to switch off; leave batchNorm true.`);
  }
  checkBatchNormMode(owner, c.batchNormMode);
  checkBoolean(owner, 'recompute', c.recompute);
  const m = c.widthMultiplier;
  const mt = c.tagEncoderWidthMultiplier;
  return {
    ...c,
    channels: {
      encoder: [16, 32, 64, 128, 256].map((ch) => scaled(ch, m)),
      linear: scaled(32, mt),
      colorConv: scaled(64, mt),
      // A multiple of 16 so that 'concat-all' keeps its 16-group convs valid.
      embedding: scaledGrouped(64, mt),
      featureConv: scaled(256, m),
      decoderWidths: [256, 128, 64, 32].map((ch) => scaledGrouped(ch, m)),
      deconv5: scaled(32, m),
      guide: [128, 64, 32].map((ch) => scaled(ch, m)),
    },
  };
}

function conv(name: string, filters: number, strides: number): GroupedConv2D {
  return new GroupedConv2D({ name, filters, kernelSize: 3, strides, padding: 1 });
}

function leakyRelu(name: string): tfl.layers.Layer {
  return tfl.layers.leakyReLU({ alpha: 0.2, name });
}

/**
 * Builds the Tag2Pix generator as a `tf.LayersModel` (see `docs/models.md` for the data flow).
 *
 * - Inputs, in this order: `lineArt [N, S, S, 1]` (0..1, white = 1), `citFeatures
 *   [N, S/8, S/8, 512]` (the CIT extractor's output; absent with `citFeatures: false`) and
 *   `cvt [N, cvtCount]` (multi-hot colour tags).
 * - Outputs, in this order: `colour [N, S, S, 3]` and `guide [N, S, S, 3]`, both tanh, in [-1, 1].
 *
 * Layers are named by their PyTorch module path (`conv1.0`, `deconv1`, `featureConv`,
 * `deconv_for_decoder`, …; the CVT encoder's `Linear`/`colorConv`/`colorFC` keys are top-level),
 * so `loadTorchStateDict(generator, stateDict)` loads the official Generator's weights.
 * The defaults build the published 256 px model (15,809,398 parameters).
 */
export function buildTag2PixGenerator(config: Tag2PixGeneratorConfig = {}): tfl.LayersModel {
  const c = resolveGeneratorConfig(config);
  const ch = c.channels;
  const s = c.inputSize;
  const lineArt = tfl.input({ shape: [s, s, 1], name: 'lineArt' });
  const citInput = c.citFeatures
    ? tfl.input({ shape: [s / 8, s / 8, c.citChannels], name: 'citFeatures' })
    : undefined;
  const cvt = tfl.input({ shape: [c.cvtCount], name: 'cvt' });

  // U-Net encoder: conv<k>.0 (stride 1 for conv1, else 2) → LReLU → conv<k>.2 → LReLU.
  const skips: tfl.SymbolicTensor[] = [];
  let x: tfl.SymbolicTensor = lineArt;
  ch.encoder.forEach((filters, i) => {
    const block = `conv${i + 1}`;
    x = conv(`${block}.0`, filters, i === 0 ? 1 : 2).apply(x) as tfl.SymbolicTensor;
    x = leakyRelu(`${block}.1`).apply(x) as tfl.SymbolicTensor;
    x = conv(`${block}.2`, filters, 1).apply(x) as tfl.SymbolicTensor;
    x = leakyRelu(`${block}.3`).apply(x) as tfl.SymbolicTensor;
    skips.push(x);
  });

  const usesTagVector = decoderBlockTakesTag(c.decoderBlock);
  const cvtEncoder = new CVTEncoder({
    name: 'cvt_encoder',
    spatialSize: s / 16,
    linearChannels: ch.linear,
    channels: ch.colorConv,
    embeddingSize: usesTagVector ? ch.embedding : 0,
    fcRelu: c.colorFcRelu,
  });
  const encoded = cvtEncoder.apply(cvt) as tfl.SymbolicTensor | tfl.SymbolicTensor[];
  const [tagSpatial, tagVector] = Array.isArray(encoded) ? encoded : [encoded, undefined];

  const bottomParts = [skips[4]];
  if (citInput) {
    const featureConv = new FeatureConv({
      name: 'featureConv',
      filters: ch.featureConv,
      batchNorm: c.batchNorm,
      batchNormMode: c.batchNormMode,
    });
    bottomParts.push(featureConv.apply(citInput) as tfl.SymbolicTensor);
  }
  bottomParts.push(tagSpatial);
  x = tfl.layers.concatenate({ axis: -1, name: 'bottom' }).apply(bottomParts) as tfl.SymbolicTensor;

  // deconv1..4, each fed the previous block's output and the matching encoder skip.
  let deconv1Output: tfl.SymbolicTensor | undefined;
  ch.decoderWidths.forEach((width, i) => {
    const name = `deconv${i + 1}`;
    if (i > 0) {
      x = tfl.layers
        .concatenate({ axis: -1, name: `${name}_input` })
        .apply([x, skips[4 - i]]) as tfl.SymbolicTensor;
    }
    const blockArgs = {
      name,
      filters: 4 * width,
      blocks: c.decoderLayers[i],
      batchNorm: c.batchNorm,
      batchNormMode: c.batchNormMode,
      reduction: c.seReduction,
      recompute: c.recompute,
    };
    const block =
      c.decoderBlock === 'secat'
        ? new PixelShuffleDecoderBlock(blockArgs)
        : new AblationDecoderBlock({ ...blockArgs, block: c.decoderBlock });
    x = block.apply(block.takesTag ? [x, tagVector!] : x) as tfl.SymbolicTensor;
    if (i === 0) deconv1Output = x;
  });

  x = tfl.layers.concatenate({ axis: -1, name: 'deconv5_input' }).apply([x, skips[0]]) as tfl.SymbolicTensor;
  x = conv('deconv5.0', ch.deconv5, 1).apply(x) as tfl.SymbolicTensor;
  x = leakyRelu('deconv5.1').apply(x) as tfl.SymbolicTensor;
  x = conv('deconv5.2', 3, 1).apply(x) as tfl.SymbolicTensor;
  const color = tfl.layers.activation({ activation: 'tanh', name: 'deconv5.3' }).apply(x) as tfl.SymbolicTensor;

  const guide = c.guideDecoder
    ? (new GuideDecoder({ name: 'deconv_for_decoder', filters: ch.guide }).apply(deconv1Output!) as tfl.SymbolicTensor)
    : (tfl.layers.activation({ activation: 'linear', name: 'guide' }).apply(color) as tfl.SymbolicTensor);

  return tfl.model({
    name: c.name,
    inputs: citInput ? [lineArt, citInput, cvt] : [lineArt, cvt],
    outputs: [color, guide],
  });
}
