import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { scaleChannels, spatialMean } from '../ops/channel_scale.js';
import {
  TorchLayer,
  applyLinear,
  type Kwargs,
  type LayerArgs,
  type LinearParams,
  type TorchWeightBuilder,
} from './torch_layer.js';

/**
 * Channel excitation of a bottleneck:
 * - `'se'`: squeeze-and-excitation, two Linear layers without bias (`fc.0`, `fc.2`);
 * - `'secat'`: SE whose squeezed vector is concatenated with a tag embedding (SECat);
 * - `'se-conv'`: SE with 1×1 convs with bias (`conv1`, `conv2`), as the pretrained CIT
 *   extractor's `Selayer`;
 * - `'none'`: no excitation.
 */
export type Excitation = 'se' | 'secat' | 'se-conv' | 'none';

export const EXCITATIONS: readonly Excitation[] = ['se', 'secat', 'se-conv', 'none'];

/** The weights of an excitation block (internal). */
export interface ExcitationParams {
  kind: Exclude<Excitation, 'none'>;
  fc1: LinearParams;
  fc2: LinearParams;
}

/** Hidden width of an SE block: `channels // reduction` of the feature channels, as PyTorch. */
export function excitationWidth(owner: string, channels: number, reduction: number): number {
  const hidden = Math.floor(channels / reduction);
  if (hidden < 1) {
    throw new Error(
      `${owner}: ${channels} channels with reduction ${reduction} leave no hidden units ` +
        `(channels // reduction = 0); use a smaller reduction.`,
    );
  }
  return hidden;
}

/**
 * Adds an excitation block's weights under `key` (e.g. `selayer`, or `''` for a standalone
 * layer) with the reference's keys.
 */
export function buildExcitation(
  b: TorchWeightBuilder,
  key: string,
  owner: string,
  kind: Exclude<Excitation, 'none'>,
  channels: number,
  reduction: number,
  tagChannels = 0,
): ExcitationParams {
  const hidden = excitationWidth(owner, channels, reduction);
  const sub = (k: string) => (key === '' ? k : `${key}.${k}`);
  if (kind === 'se-conv') {
    return {
      kind,
      fc1: b.linear(sub('conv1'), channels, hidden, true, 'conv1x1AsLinear'),
      fc2: b.linear(sub('conv2'), hidden, channels, true, 'conv1x1AsLinear'),
    };
  }
  const inFeatures = kind === 'secat' ? channels + tagChannels : channels;
  return {
    kind,
    fc1: b.linear(sub('fc.0'), inFeatures, hidden, false),
    fc2: b.linear(sub('fc.2'), hidden, channels, false),
  };
}

/**
 * `x · sigmoid(fc2(relu(fc1(z))))` per channel, with `z` the spatial mean of `x` (NHWC),
 * followed by the tag vector for SECat.
 */
export function applyExcitation(p: ExcitationParams, x: tf.Tensor4D, tag?: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    let z = spatialMean(x);
    if (p.kind === 'secat') z = tf.concat([z, tag!], 1);
    const hidden = tf.relu(applyLinear(p.fc1, z)) as tf.Tensor2D;
    const scale = tf.sigmoid(applyLinear(p.fc2, hidden)) as tf.Tensor2D;
    return scaleChannels(x, scale);
  });
}

function checkReduction(owner: string, reduction: number): void {
  if (!Number.isInteger(reduction) || reduction < 1) {
    throw new Error(`${owner}: reduction must be a positive integer, got ${reduction}.`);
  }
}

function featureShape(owner: string, shape: Shape): number {
  const c = shape[shape.length - 1];
  if (shape.length !== 4 || c == null) {
    throw new Error(
      `${owner} expects NHWC features [batch, height, width, channels] with a known channel ` +
        `count, got [${shape.join(', ')}].`,
    );
  }
  return c;
}

/** Arguments of {@link SqueezeExcitation}. */
export interface SqueezeExcitationArgs extends LayerArgs {
  /** Hidden width is `channels // reduction`. Default 16. */
  reduction?: number;
}

/**
 * Squeeze-and-excitation (Hu et al.), as the reference's `Selayer`: global average pool →
 * Linear(C → C/r, no bias) → ReLU → Linear(→ C, no bias) → sigmoid → per-channel scale of the
 * NHWC input. PyTorch keys: `fc.0.weight` `[C/r, C]`, `fc.2.weight` `[C, C/r]`.
 */
export class SqueezeExcitation extends TorchLayer {
  static readonly className = 'SqueezeExcitation';
  readonly reduction: number;
  private se?: ExcitationParams;

  constructor(args: SqueezeExcitationArgs = {}) {
    super(args);
    this.reduction = args.reduction ?? 16;
    checkReduction('SqueezeExcitation', this.reduction);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const c = featureShape('SqueezeExcitation', shape);
    this.se = buildExcitation(this.torchWeights(''), '', 'SqueezeExcitation', 'se', c, this.reduction);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return applyExcitation(this.se!, x);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), reduction: this.reduction };
  }
}
serialization.registerClass(SqueezeExcitation, 'tag2pix');

/** Arguments of {@link SECat}. */
export interface SECatArgs extends LayerArgs {
  /** Hidden width is `channels // reduction` of the feature channels only. Default 16. */
  reduction?: number;
}

/**
 * SECat (Tag2Pix): squeeze-and-excitation whose squeezed vector is concatenated with a tag
 * embedding before the excitation. Takes two inputs `[x, tag]`: NHWC features `[N, H, W, C]`
 * and the tag vector `[N, d]`; returns `x · sigmoid(W2 · relu(W1 · [avgpool(x), tag]))`.
 *
 * The hidden width is `C // reduction` (feature channels only). PyTorch keys (the reference's
 * `SeCatLayer`): `fc.0.weight` `[C/r, C + d]` (columns `0..C−1` act on the pooled features),
 * `fc.2.weight` `[C, C/r]`.
 */
export class SECat extends TorchLayer {
  static readonly className = 'SECat';
  readonly reduction: number;
  private se?: ExcitationParams;

  constructor(args: SECatArgs = {}) {
    super(args);
    this.reduction = args.reduction ?? 16;
    checkReduction('SECat', this.reduction);
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, tagShape] = splitTwoInputs('SECat', inputShape);
    const c = featureShape('SECat', xShape);
    const d = tagShape[1];
    if (tagShape.length !== 2 || d == null) {
      throw new Error(`SECat expects the tag vector as [batch, d] with a known d, got [${tagShape.join(', ')}].`);
    }
    this.se = buildExcitation(this.torchWeights(''), '', 'SECat', 'secat', c, this.reduction, d);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return splitTwoInputs('SECat', inputShape)[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const [x, tag] = twoTensors('SECat', inputs);
    return applyExcitation(this.se!, x, tag);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), reduction: this.reduction };
  }
}
serialization.registerClass(SECat, 'tag2pix');

/** The shapes of a `[features, tag]` input pair, with a clear error otherwise (internal). */
export function splitTwoInputs(owner: string, inputShape: Shape | Shape[]): [Shape, Shape] {
  if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
    throw new Error(
      `${owner} takes two inputs [features, tag]: the NHWC features and the tag vector ` +
        `[batch, d]; call it as layer.apply([x, tag]).`,
    );
  }
  return [inputShape[0] as Shape, inputShape[1] as Shape];
}

/** The `[features, tag]` tensors of a call, checked (internal). */
export function twoTensors(owner: string, inputs: tf.Tensor | tf.Tensor[]): [tf.Tensor4D, tf.Tensor2D] {
  if (!Array.isArray(inputs) || inputs.length !== 2) {
    throw new Error(`${owner} takes two inputs [features, tag]; call it as layer.apply([x, tag]).`);
  }
  const [x, tag] = inputs;
  if (x.rank !== 4 || tag.rank !== 2 || x.shape[0] !== tag.shape[0]) {
    throw new Error(
      `${owner}: expected features [N, H, W, C] and tag [N, d] with the same N, got ` +
        `[${x.shape.join(', ')}] and [${tag.shape.join(', ')}].`,
    );
  }
  return [x as tf.Tensor4D, tag as tf.Tensor2D];
}
