import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { pixelShuffle } from '../ops/pixel_shuffle.js';
import { recomputeInBackward } from '../kernels/recompute.js';
import { addReluKeepingOutput, reluKeepingOutput } from '../kernels/relu_train.js';
import {
  EXCITATIONS,
  applyExcitation,
  buildExcitation,
  splitTwoInputs,
  twoTensors,
  type Excitation,
  type ExcitationParams,
} from './squeeze_excitation.js';
import {
  TorchLayer,
  applyBatchNorm,
  applyConv,
  isTraining,
  type BatchNormMode,
  type BatchNormParams,
  type ConvParams,
  type Kwargs,
  type LayerArgs,
  type TorchWeightBuilder,
} from './torch_layer.js';

/** Geometry and options of one SE-ResNeXt bottleneck (internal). */
export interface BottleneckSpec {
  inChannels: number;
  width: number;
  filters: number;
  cardinality: number;
  strides: number;
  excitation: Excitation;
  reduction: number;
  batchNorm: boolean;
  /** Width of the tag vector, for `'secat'`. */
  tagChannels: number;
}

/** The weights of one bottleneck (internal). */
export interface BottleneckParams {
  conv1: ConvParams;
  bn1?: BatchNormParams;
  conv2: ConvParams;
  bn2?: BatchNormParams;
  conv3: ConvParams;
  bn3?: BatchNormParams;
  excitation?: ExcitationParams;
  downsample?: { conv: ConvParams; bn?: BatchNormParams };
}

/** Whether a bottleneck needs the 1×1 projection on its residual path (as the reference). */
export function needsDownsample(inChannels: number, filters: number, strides: number): boolean {
  return strides !== 1 || inChannels !== filters;
}

/**
 * Adds one bottleneck's weights under `key` with the reference's keys: `conv1`, `bn1`, `conv2`,
 * `bn2`, `conv3`, `bn3`, `selayer.*`, `downsample.0`, `downsample.1`.
 */
export function buildBottleneck(b: TorchWeightBuilder, key: string, owner: string, s: BottleneckSpec): BottleneckParams {
  const sub = (k: string) => (key === '' ? k : `${key}.${k}`);
  const bn = (k: string, c: number) => (s.batchNorm ? b.batchNorm(sub(k), c) : undefined);
  const p: BottleneckParams = {
    conv1: b.conv(sub('conv1'), { inChannels: s.inChannels, outChannels: s.width, kernelSize: 1 }),
    bn1: bn('bn1', s.width),
    conv2: b.conv(sub('conv2'), {
      inChannels: s.width,
      outChannels: s.width,
      kernelSize: 3,
      stride: s.strides,
      padding: 1,
      groups: s.cardinality,
    }),
    bn2: bn('bn2', s.width),
    conv3: b.conv(sub('conv3'), { inChannels: s.width, outChannels: s.filters, kernelSize: 1 }),
    bn3: bn('bn3', s.filters),
  };
  if (s.excitation !== 'none') {
    p.excitation = buildExcitation(b, sub('selayer'), owner, s.excitation, s.filters, s.reduction, s.tagChannels);
  }
  if (needsDownsample(s.inChannels, s.filters, s.strides)) {
    p.downsample = {
      conv: b.conv(sub('downsample.0'), {
        inChannels: s.inChannels,
        outChannels: s.filters,
        kernelSize: 1,
        stride: s.strides,
      }),
      bn: bn('downsample.1', s.filters),
    };
  }
  return p;
}

/** How a bottleneck call runs its BatchNorms (internal). */
export interface BottleneckCallOptions {
  training: boolean;
  batchNormMode: BatchNormMode;
  /**
   * In a training call, update the BatchNorms' running statistics. Default true; false when the
   * forward pass is recomputed for a gradient (the statistics were updated by the first pass).
   */
  updateRunningStats?: boolean;
}

/**
 * conv1 → BN → ReLU → grouped conv2 → BN → ReLU → conv3 → BN → excitation, plus the residual
 * (projected when needed), then ReLU. `tag` is the SECat vector.
 */
export function applyBottleneck(
  p: BottleneckParams,
  x: tf.Tensor4D,
  tag: tf.Tensor2D | undefined,
  o: BottleneckCallOptions,
): tf.Tensor4D {
  // A training call that must not update the running statistics normalises with batch
  // statistics exactly as a training call does ('batch-stats' outside training).
  const frozenStats = o.training && o.updateRunningStats === false;
  const training = o.training && !frozenStats;
  const mode: BatchNormMode = frozenStats ? 'batch-stats' : o.batchNormMode;
  return tf.tidy((): tf.Tensor4D => {
    const norm = (bn: BatchNormParams | undefined, t: tf.Tensor4D) =>
      bn ? (applyBatchNorm(bn, t, training, mode) as tf.Tensor4D) : t;
    const normRelu = (bn: BatchNormParams | undefined, t: tf.Tensor4D) =>
      bn ? (applyBatchNorm(bn, t, training, mode, 'relu') as tf.Tensor4D) : reluKeepingOutput(t);
    let out = normRelu(p.bn1, applyConv(p.conv1, x));
    out = normRelu(p.bn2, applyConv(p.conv2, out));
    out = norm(p.bn3, applyConv(p.conv3, out));
    if (p.excitation) out = applyExcitation(p.excitation, out, tag);
    const residual = p.downsample ? norm(p.downsample.bn, applyConv(p.downsample.conv, x)) : x;
    return addReluKeepingOutput(out, residual);
  });
}

/** The trainable weights a bottleneck's forward pass reads, as the tf.Variables gradients reach. */
export function bottleneckVariables(p: BottleneckParams): tf.Variable[] {
  const convs = [p.conv1, p.conv2, p.conv3, p.downsample?.conv];
  const norms = [p.bn1, p.bn2, p.bn3, p.downsample?.bn];
  const linears = p.excitation ? [p.excitation.fc1, p.excitation.fc2] : [];
  const weights = [
    ...convs.flatMap((c) => (c ? [c.kernel, c.bias] : [])),
    ...norms.flatMap((bn) => (bn ? [bn.gamma, bn.beta] : [])),
    ...linears.flatMap((l) => [l.kernel, l.bias]),
  ];
  return weights.filter((w) => w != null && w.trainable).map((w) => w!.read() as tf.Variable);
}

/**
 * {@link applyBottleneck} with gradient checkpointing: in a training call under a gradient tape
 * the whole bottleneck is one tape node that keeps only `x` and `tag`, and its gradient runs the
 * bottleneck again (same batch statistics, running statistics left alone) to back-propagate
 * through it. Same values and gradients as {@link applyBottleneck}; about one more forward pass
 * of time, a fraction of the tape's memory. Other calls take the plain path.
 */
export function applyBottleneckRecomputed(
  p: BottleneckParams,
  x: tf.Tensor4D,
  tag: tf.Tensor2D | undefined,
  o: BottleneckCallOptions,
): tf.Tensor4D {
  if (!o.training) return applyBottleneck(p, x, tag, o);
  return recomputeInBackward(
    ([xs, tags], recomputing) =>
      applyBottleneck(p, xs as tf.Tensor4D, tags as tf.Tensor2D | undefined, {
        ...o,
        updateRunningStats: !recomputing && o.updateRunningStats !== false,
      }),
    tag ? [x, tag] : [x],
    bottleneckVariables(p),
  );
}

function checkPositiveInteger(owner: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`${owner}: ${name} must be a positive integer, got ${v}.`);
    }
  }
}

function checkBatchNormMode(owner: string, mode: string): void {
  if (mode !== 'auto' && mode !== 'batch-stats') {
    throw new Error(`${owner}: batchNormMode must be 'auto' or 'batch-stats', got '${mode}'.`);
  }
}

function checkCardinality(owner: string, width: number, cardinality: number): void {
  if (width % cardinality !== 0) {
    throw new Error(
      `${owner}: the bottleneck width (${width}) must be divisible by cardinality (${cardinality}).`,
    );
  }
}

function inputChannels(owner: string, shape: Shape): number {
  const c = shape[shape.length - 1];
  if (shape.length !== 4 || c == null) {
    throw new Error(
      `${owner} expects NHWC features [batch, height, width, channels] with a known channel ` +
        `count, got [${shape.join(', ')}].`,
    );
  }
  return c;
}

function tagChannels(owner: string, shape: Shape): number {
  const d = shape[1];
  if (shape.length !== 2 || d == null) {
    throw new Error(`${owner} expects the tag vector as [batch, d] with a known d, got [${shape.join(', ')}].`);
  }
  return d;
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
    checkPositiveInteger(owner, {
      filters: this.filters,
      width: this.width,
      cardinality: this.cardinality,
      strides: this.strides,
      reduction: this.reduction,
    });
    checkCardinality(owner, this.width, this.cardinality);
    checkBatchNormMode(owner, this.batchNormMode);
    if (!EXCITATIONS.includes(this.excitation)) {
      throw new Error(`${owner}: excitation must be one of ${EXCITATIONS.join(', ')}, got '${this.excitation}'.`);
    }
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | undefined] {
    if (this.excitation === 'secat') return splitTwoInputs("SEResNeXtBottleneck with excitation 'secat'", inputShape);
    if (Array.isArray(inputShape[0])) {
      if (inputShape.length !== 1) {
        throw new Error(
          `SEResNeXtBottleneck with excitation '${this.excitation}' takes one input; only 'secat' takes [x, tag].`,
        );
      }
      return [inputShape[0] as Shape, undefined];
    }
    return [inputShape as Shape, undefined];
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, tagShape] = this.shapes(inputShape);
    const owner = 'SEResNeXtBottleneck';
    this.block = buildBottleneck(this.torchWeights(''), '', owner, {
      inChannels: inputChannels(owner, xShape),
      width: this.width,
      filters: this.filters,
      cardinality: this.cardinality,
      strides: this.strides,
      excitation: this.excitation,
      reduction: this.reduction,
      batchNorm: this.batchNorm,
      tagChannels: tagShape ? tagChannels(owner, tagShape) : 0,
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = this.shapes(inputShape);
    const out = (d: number | null) => (d == null ? null : Math.floor((d - 1) / this.strides) + 1);
    return [x[0], out(x[1]), out(x[2]), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const options = { training: isTraining(kwargs), batchNormMode: this.batchNormMode };
    const run = this.recompute ? applyBottleneckRecomputed : applyBottleneck;
    if (this.excitation === 'secat') {
      const [x, tag] = twoTensors("SEResNeXtBottleneck with excitation 'secat'", inputs);
      return run(this.block!, x, tag, options);
    }
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return run(this.block!, x, undefined, options);
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      width: this.width,
      cardinality: this.cardinality,
      strides: this.strides,
      excitation: this.excitation,
      reduction: this.reduction,
      batchNorm: this.batchNorm,
      batchNormMode: this.batchNormMode,
      recompute: this.recompute,
    };
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

/**
 * A Tag2Pix generator decoder block (the reference's `DecoderBlock`, deconv1..4): `blocks` SECat
 * bottlenecks (width `filters / 4`, the first with a projection when the input channel count
 * differs), then PixelShuffle. Takes `[x, tag]`; `[N, H, W, C] → [N, 2H, 2W, filters / 4]`.
 *
 * PyTorch keys: `secat_layer.<i>.` + the {@link SEResNeXtBottleneck} keys with
 * `excitation: 'secat'` (e.g. `secat_layer.0.conv1.weight`, `secat_layer.0.selayer.fc.0.weight`).
 */
export class PixelShuffleDecoderBlock extends TorchLayer {
  static readonly className = 'PixelShuffleDecoderBlock';
  readonly filters: number;
  readonly blocks: number;
  readonly cardinality: number;
  readonly reduction: number;
  readonly batchNorm: boolean;
  readonly batchNormMode: BatchNormMode;
  readonly upscaleFactor: number;
  readonly recompute: boolean;
  private bottlenecks: BottleneckParams[] = [];

  constructor(args: PixelShuffleDecoderBlockArgs) {
    super(args);
    this.filters = args.filters;
    this.blocks = args.blocks;
    this.cardinality = args.cardinality ?? 16;
    this.reduction = args.reduction ?? 16;
    this.batchNorm = args.batchNorm ?? true;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    this.upscaleFactor = args.upscaleFactor ?? 2;
    this.recompute = args.recompute ?? false;
    const owner = 'PixelShuffleDecoderBlock';
    checkPositiveInteger(owner, {
      filters: this.filters,
      blocks: this.blocks,
      cardinality: this.cardinality,
      reduction: this.reduction,
      upscaleFactor: this.upscaleFactor,
    });
    if (this.filters % 4 !== 0) {
      throw new Error(`${owner}: filters (${this.filters}) must be divisible by 4 (the bottleneck expansion).`);
    }
    checkCardinality(owner, this.filters / 4, this.cardinality);
    checkBatchNormMode(owner, this.batchNormMode);
    if (this.filters % this.upscaleFactor ** 2 !== 0) {
      throw new Error(
        `${owner}: filters (${this.filters}) must be divisible by upscaleFactor² (${this.upscaleFactor ** 2}).`,
      );
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const owner = 'PixelShuffleDecoderBlock';
    const [xShape, tagShape] = splitTwoInputs(owner, inputShape);
    const d = tagChannels(owner, tagShape);
    let inChannels = inputChannels(owner, xShape);
    this.bottlenecks = [];
    for (let i = 0; i < this.blocks; i++) {
      this.bottlenecks.push(
        buildBottleneck(this.torchWeights(`secat_layer.${i}`), '', owner, {
          inChannels,
          width: this.filters / 4,
          filters: this.filters,
          cardinality: this.cardinality,
          strides: 1,
          excitation: 'secat',
          reduction: this.reduction,
          batchNorm: this.batchNorm,
          tagChannels: d,
        }),
      );
      inChannels = this.filters;
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = splitTwoInputs('PixelShuffleDecoderBlock', inputShape);
    const r = this.upscaleFactor;
    const up = (d: number | null) => (d == null ? null : d * r);
    return [x[0], up(x[1]), up(x[2]), this.filters / (r * r)];
  }

  /**
   * The bottlenecks' output before the PixelShuffle, `[N, H, W, filters]` (the reference's
   * `block.secat_layer(x, tag)`). The layer must be built.
   */
  preShuffle(inputs: tf.Tensor[], kwargs: Kwargs = {}): tf.Tensor4D {
    if (!this.built) {
      throw new Error('PixelShuffleDecoderBlock.preShuffle: build the layer first (apply it once).');
    }
    const [x, tag] = twoTensors('PixelShuffleDecoderBlock', inputs);
    const options = { training: isTraining(kwargs), batchNormMode: this.batchNormMode };
    const run = this.recompute ? applyBottleneckRecomputed : applyBottleneck;
    return tf.tidy(() => {
      let out = x;
      for (const p of this.bottlenecks) out = run(p, out, tag, options);
      return out;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => pixelShuffle(this.preShuffle(inputs as tf.Tensor[], kwargs), this.upscaleFactor));
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      blocks: this.blocks,
      cardinality: this.cardinality,
      reduction: this.reduction,
      batchNorm: this.batchNorm,
      batchNormMode: this.batchNormMode,
      upscaleFactor: this.upscaleFactor,
      recompute: this.recompute,
    };
  }
}
serialization.registerClass(PixelShuffleDecoderBlock, 'tag2pix');
