import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { scaleChannels, spatialMean } from '../ops/channel_scale.js';
import { checkPositiveInteger, featureAndTagShapes, featureAndTagTensors, nhwcChannels, tagWidth } from './checks.js';
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

/** Arguments of {@link SqueezeExcitation}. */
export interface SqueezeExcitationArgs extends LayerArgs {
  /** Hidden width is `channels // reduction`. Default 16. */
  reduction?: number;
}

/** Arguments of {@link SECat}. */
export interface SECatArgs extends LayerArgs {
  /** Hidden width is `channels // reduction` of the feature channels only. Default 16. */
  reduction?: number;
}

/** The standalone excitation layers: one excitation block on its own (internal base). */
abstract class ExcitationLayer extends TorchLayer {
  readonly reduction: number;
  private se?: ExcitationParams;

  constructor(
    args: SqueezeExcitationArgs | SECatArgs,
    private readonly kind: 'se' | 'secat',
  ) {
    super(args);
    this.reduction = args.reduction ?? 16;
    checkPositiveInteger(this.owner, 'reduction', this.reduction);
  }

  private get owner(): string {
    return this.kind === 'secat' ? 'SECat' : 'SqueezeExcitation';
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, tagShape] = featureAndTagShapes(this.owner, this.kind === 'secat', inputShape);
    const c = nhwcChannels(this.owner, xShape, 'features');
    const d = tagShape ? tagWidth(this.owner, tagShape) : 0;
    this.se = buildExcitation(this.torchWeights(''), '', this.owner, this.kind, c, this.reduction, d);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return featureAndTagShapes(this.owner, this.kind === 'secat', inputShape)[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const [x, tag] = featureAndTagTensors(this.owner, this.kind === 'secat', inputs);
    return applyExcitation(this.se!, x, tag);
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('reduction');
  }
}

/**
 * Squeeze-and-excitation (Hu et al.), as the reference's `Selayer`: global average pool →
 * Linear(C → C/r, no bias) → ReLU → Linear(→ C, no bias) → sigmoid → per-channel scale of the
 * NHWC input. PyTorch keys: `fc.0.weight` `[C/r, C]`, `fc.2.weight` `[C, C/r]`.
 */
export class SqueezeExcitation extends ExcitationLayer {
  static readonly className = 'SqueezeExcitation';

  constructor(args: SqueezeExcitationArgs = {}) {
    super(args, 'se');
  }
}
serialization.registerClass(SqueezeExcitation, 'tag2pix');

/**
 * SECat (Tag2Pix): squeeze-and-excitation whose squeezed vector is concatenated with a tag
 * embedding before the excitation. Takes two inputs `[x, tag]`: NHWC features `[N, H, W, C]`
 * and the tag vector `[N, d]`; returns `x · sigmoid(W2 · relu(W1 · [avgpool(x), tag]))`.
 *
 * The hidden width is `C // reduction` (feature channels only). PyTorch keys (the reference's
 * `SeCatLayer`): `fc.0.weight` `[C/r, C + d]` (columns `0..C−1` act on the pooled features),
 * `fc.2.weight` `[C, C/r]`.
 */
export class SECat extends ExcitationLayer {
  static readonly className = 'SECat';

  constructor(args: SECatArgs = {}) {
    super(args, 'secat');
  }
}
serialization.registerClass(SECat, 'tag2pix');
