import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { pixelShuffle } from '../ops/pixel_shuffle.js';
import {
  applyBottleneck,
  applyBottleneckRecomputed,
  buildBottleneck,
  readsTag,
  type BottleneckParams,
  type BottleneckStrategy,
} from './bottleneck.js';
import {
  checkBatchNormMode,
  checkOneOf,
  checkPositiveIntegers,
  featureAndTagShapes,
  featureAndTagTensors,
  nhwcChannels,
  nhwcOutputShape,
  tagWidth,
} from './checks.js';
import { EXCITATIONS, type Excitation } from './squeeze_excitation.js';
import {
  TorchLayer,
  isTraining,
  type BatchNormMode,
  type Kwargs,
  type LayerArgs,
} from './torch_layer.js';

function checkCardinality(owner: string, width: number, cardinality: number): void {
  if (width % cardinality !== 0) {
    throw new Error(
      `${owner}: the bottleneck width (${width}) must be divisible by cardinality (${cardinality}).`,
    );
  }
}

/** Arguments of {@link SEResNeXtBottleneck}. */
export interface SEResNeXtBottleneckArgs extends LayerArgs {
  /** Output channels (the reference's `planes × 4`). */
  filters: number;
  /**
   * Channels of the grouped 3×3 conv. Default `filters / 4`, as the generator's and
   * discriminator's bottlenecks; the CIT extractor's `BottleneckX_Origin` uses `filters / 2`.
   */
  width?: number;
  /** Groups of the 3×3 conv; must divide `width`. Default 16 (the CIT extractor uses 32). */
  cardinality?: number;
  /** Stride of the 3×3 conv and of the projection. Default 1. */
  strides?: number;
  /**
   * Channel excitation after conv3: `'se'` (default; keys `selayer.fc.0.weight`,
   * `selayer.fc.2.weight`), `'secat'` (SECat; the layer then takes `[x, tag]`), `'se-conv'`
   * (1×1 convs with bias, keys `selayer.conv1.*`, `selayer.conv2.*`, as the pretrained CIT
   * extractor) or `'none'`.
   */
  excitation?: Excitation;
  /** SE hidden width is `filters // reduction`. Default 16. */
  reduction?: number;
  /** Use BatchNorm after each conv. Default true; the 512 px model has none. */
  batchNorm?: boolean;
  /**
   * `'auto'` (default): BatchNorm uses batch statistics in training calls and running
   * statistics otherwise. `'batch-stats'`: always batch statistics (the reference CIT extractor
   * is never put in eval mode); running statistics still only update in training calls.
   */
  batchNormMode?: BatchNormMode;
  /**
   * Gradient checkpointing: in training calls under a gradient tape, the bottleneck keeps only its inputs
   * for the backward pass and recomputes the rest there (same values and gradients; about one
   * more forward pass of time for a much smaller tape). Default false. See `docs/training.md`.
   */
  recompute?: boolean;
}

/**
 * SE-ResNeXt bottleneck (the reference's `BottleneckX` / `SECatBottleneckX` /
 * `BottleneckX_Origin`), NHWC: 1×1 conv → BN → ReLU → grouped 3×3 conv (stride) → BN → ReLU →
 * 1×1 conv → BN → excitation, plus the residual, then ReLU. The residual is a 1×1 conv + BN
 * projection when the channel count changes or the block is strided, else the input.
 *
 * Convs have no bias. PyTorch keys: `conv1.weight`, `bn1.*`, `conv2.weight`, `bn2.*`,
 * `conv3.weight`, `bn3.*`, `selayer.*` (see `excitation`), `downsample.0.weight`,
 * `downsample.1.*`; `bn*` keys are absent with `batchNorm: false`.
 *
 * With `excitation: 'secat'` the layer takes `[x, tag]`. A `training` call uses batch statistics
 * and updates the running ones as PyTorch does.
 */
export class SEResNeXtBottleneck extends TorchLayer {
  static readonly className = 'SEResNeXtBottleneck';
  readonly filters: number;
  readonly width: number;
  readonly cardinality: number;
  readonly strides: number;
  readonly excitation: Excitation;
  readonly reduction: number;
  readonly batchNorm: boolean;
  readonly batchNormMode: BatchNormMode;
  readonly recompute: boolean;
  private block?: BottleneckParams;

  constructor(args: SEResNeXtBottleneckArgs) {
    super(args);
    this.filters = args.filters;
    this.width = args.width ?? args.filters / 4;
    this.cardinality = args.cardinality ?? 16;
    this.strides = args.strides ?? 1;
    this.excitation = args.excitation ?? 'se';
    this.reduction = args.reduction ?? 16;
    this.batchNorm = args.batchNorm ?? true;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    this.recompute = args.recompute ?? false;
    const owner = 'SEResNeXtBottleneck';
    checkPositiveIntegers(owner, {
      filters: this.filters,
      width: this.width,
      cardinality: this.cardinality,
      strides: this.strides,
      reduction: this.reduction,
    });
    checkCardinality(owner, this.width, this.cardinality);
    checkBatchNormMode(owner, this.batchNormMode);
    checkOneOf(owner, 'excitation', this.excitation, EXCITATIONS);
  }

  private get owner(): string {
    return this.excitation === 'secat' ? "SEResNeXtBottleneck with excitation 'secat'" : 'SEResNeXtBottleneck';
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, tagShape] = featureAndTagShapes(this.owner, this.excitation === 'secat', inputShape);
    this.block = buildBottleneck(this.torchWeights(''), 'SEResNeXtBottleneck', {
      inChannels: nhwcChannels('SEResNeXtBottleneck', xShape, 'features'),
      width: this.width,
      filters: this.filters,
      cardinality: this.cardinality,
      strides: this.strides,
      excitation: this.excitation,
      norm: this.batchNorm ? 'batch-norm' : 'none',
      tagConcat: 'none',
      residual: true,
      weightOrder: 'interleaved',
      reduction: this.reduction,
      tagChannels: tagShape ? tagWidth('SEResNeXtBottleneck', tagShape) : 0,
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = featureAndTagShapes(this.owner, this.excitation === 'secat', inputShape);
    return nhwcOutputShape(x, (d) => Math.floor((d - 1) / this.strides) + 1, this.filters);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const options = { training: isTraining(kwargs), batchNormMode: this.batchNormMode };
    const run = this.recompute ? applyBottleneckRecomputed : applyBottleneck;
    const [x, tag] = featureAndTagTensors(this.owner, this.excitation === 'secat', inputs);
    return run(this.block!, x, tag, options);
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'width', 'cardinality', 'strides', 'excitation', 'reduction', 'batchNorm', 'batchNormMode', 'recompute');
  }
}
serialization.registerClass(SEResNeXtBottleneck, 'tag2pix');

/** Arguments of {@link PixelShuffleDecoderBlock}. */
export interface PixelShuffleDecoderBlockArgs extends LayerArgs {
  /**
   * Output channels of the bottlenecks, before the shuffle (the reference's `planes`, e.g. 1024
   * for deconv1). The block outputs `filters / upscaleFactor²` channels.
   */
  filters: number;
  /** Number of SECat bottlenecks (the reference's `block_num`, e.g. 12 for deconv1). */
  blocks: number;
  /** Groups of each bottleneck's 3×3 conv. Default 16. */
  cardinality?: number;
  /** SECat hidden width is `filters // reduction`. Default 16. */
  reduction?: number;
  /** Use BatchNorm in the bottlenecks. Default true; the 512 px model has none. */
  batchNorm?: boolean;
  /** As {@link SEResNeXtBottleneckArgs.batchNormMode}. Default `'auto'`. */
  batchNormMode?: BatchNormMode;
  /** PixelShuffle factor. Default 2. */
  upscaleFactor?: number;
  /**
   * Gradient checkpointing: in training calls under a gradient tape, each bottleneck keeps only its inputs
   * for the backward pass and recomputes the rest there (same values and gradients; about one
   * more forward pass of time for a much smaller tape). Default false. See `docs/training.md`.
   */
  recompute?: boolean;
}

/** What sets a kind of decoder block apart: its bottlenecks' strategy and keys (internal). */
export interface DecoderBlockVariant {
  /** The layer's name in messages. */
  owner: string;
  strategy: BottleneckStrategy;
  /** The module path of bottleneck `i`'s weights. */
  bottleneckKey(i: number): string;
}

/** The published decoder block: SECat bottlenecks under `secat_layer.<i>`. */
const SECAT_BLOCK: DecoderBlockVariant = {
  owner: 'PixelShuffleDecoderBlock',
  strategy: { excitation: 'secat', norm: 'batch-norm', tagConcat: 'none', residual: true, weightOrder: 'interleaved' },
  bottleneckKey: (i) => `secat_layer.${i}`,
};

/**
 * A Tag2Pix generator decoder block (the reference's `DecoderBlock`, deconv1..4): `blocks` SECat
 * bottlenecks (width `filters / 4`, the first with a projection when the input channel count
 * differs), then PixelShuffle. Takes `[x, tag]`; `[N, H, W, C] → [N, 2H, 2W, filters / 4]`.
 *
 * PyTorch keys: `secat_layer.<i>.` + the {@link SEResNeXtBottleneck} keys with
 * `excitation: 'secat'` (e.g. `secat_layer.0.conv1.weight`, `secat_layer.0.selayer.fc.0.weight`).
 */
export class PixelShuffleDecoderBlock extends TorchLayer {
  static readonly className: string = 'PixelShuffleDecoderBlock';
  readonly filters: number;
  readonly blocks: number;
  readonly cardinality: number;
  readonly reduction: number;
  readonly batchNorm: boolean;
  readonly batchNormMode: BatchNormMode;
  readonly upscaleFactor: number;
  readonly recompute: boolean;
  private readonly variant: DecoderBlockVariant;
  private bottlenecks: BottleneckParams[] = [];

  /** `variant` is for the subclasses (the ablation blocks); the published block is SECat's. */
  constructor(args: PixelShuffleDecoderBlockArgs, variant: DecoderBlockVariant = SECAT_BLOCK) {
    super(args);
    this.variant = variant;
    this.filters = args.filters;
    this.blocks = args.blocks;
    this.cardinality = args.cardinality ?? 16;
    this.reduction = args.reduction ?? 16;
    this.batchNorm = args.batchNorm ?? true;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    this.upscaleFactor = args.upscaleFactor ?? 2;
    this.recompute = args.recompute ?? false;
    const owner = this.owner;
    checkPositiveIntegers(owner, {
      filters: this.filters,
      blocks: this.blocks,
      cardinality: this.cardinality,
      reduction: this.reduction,
      upscaleFactor: this.upscaleFactor,
    });
    if (this.filters % 4 !== 0) {
      throw new Error(`${owner}: filters (${this.filters}) must be divisible by 4 (the bottleneck expansion).`);
    }
    if ((this.filters / 4) % this.cardinality !== 0) {
      throw new Error(
        `${owner}: filters (${this.filters}) must be 4 × a multiple of cardinality (${this.cardinality}): ` +
          `the bottleneck width filters / 4 is split into cardinality groups.`,
      );
    }
    checkBatchNormMode(owner, this.batchNormMode);
    if (typeof this.recompute !== 'boolean') {
      throw new Error(`${owner}: recompute must be true or false, got ${JSON.stringify(this.recompute)}.`);
    }
    if (this.filters % this.upscaleFactor ** 2 !== 0) {
      throw new Error(
        `${owner}: filters (${this.filters}) must be divisible by upscaleFactor² (${this.upscaleFactor ** 2}).`,
      );
    }
  }

  private get owner(): string {
    return this.variant.owner;
  }

  /** Whether the block takes `[x, tag]` (else the features alone). */
  get takesTag(): boolean {
    return readsTag(this.variant.strategy);
  }

  override build(inputShape: Shape | Shape[]): void {
    const owner = this.owner;
    const [xShape, tagShape] = featureAndTagShapes(owner, this.takesTag, inputShape);
    const tagChannels = tagShape ? tagWidth(owner, tagShape) : 0;
    let inChannels = nhwcChannels(owner, xShape, 'features');
    const strategy = this.variant.strategy;
    this.bottlenecks = [];
    for (let i = 0; i < this.blocks; i++) {
      this.bottlenecks.push(
        buildBottleneck(this.torchWeights(this.variant.bottleneckKey(i)), owner, {
          ...strategy,
          norm: strategy.norm === 'batch-norm' && !this.batchNorm ? 'none' : strategy.norm,
          inChannels,
          width: this.filters / 4,
          filters: this.filters,
          cardinality: this.cardinality,
          strides: 1,
          reduction: this.reduction,
          tagChannels,
        }),
      );
      inChannels = this.filters;
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = featureAndTagShapes(this.owner, this.takesTag, inputShape);
    const r = this.upscaleFactor;
    return nhwcOutputShape(x, (d) => d * r, this.filters / (r * r));
  }

  /**
   * The bottlenecks' output before the PixelShuffle, `[N, H, W, filters]` (the reference's
   * `block.secat_layer(x, tag)`). The layer must be built.
   */
  preShuffle(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs = {}): tf.Tensor4D {
    if (!this.built) {
      throw new Error(`${this.owner}.preShuffle: build the layer first (apply it once).`);
    }
    const [x, tag] = featureAndTagTensors(this.owner, this.takesTag, inputs);
    const options = { training: isTraining(kwargs), batchNormMode: this.batchNormMode };
    const run = this.recompute ? applyBottleneckRecomputed : applyBottleneck;
    return tf.tidy(() => {
      let out = x;
      for (const p of this.bottlenecks) out = run(p, out, tag, options);
      return out;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => pixelShuffle(this.preShuffle(inputs, kwargs), this.upscaleFactor));
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'blocks', 'cardinality', 'reduction', 'batchNorm', 'batchNormMode', 'upscaleFactor', 'recompute');
  }
}
serialization.registerClass(PixelShuffleDecoderBlock, 'tag2pix');
