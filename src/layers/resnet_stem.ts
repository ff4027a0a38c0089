import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { checkBatchNormMode, checkPositiveInteger, nhwcChannels, nhwcOutputShape, singleShape, singleTensor } from './checks.js';
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
} from './torch_layer.js';

/** Arguments of {@link ResNetStem}. */
export interface ResNetStemArgs extends LayerArgs {
  /** Output channels of the 7×7 conv. Default 64. */
  filters?: number;
  /** As the other layers' `batchNormMode` (`'batch-stats'`: as the reference CIT extractor runs). */
  batchNormMode?: BatchNormMode;
}

/**
 * The stem of a (SE-)ResNeXt: Conv 7×7 stride 2 padding 3 (no bias) → BatchNorm → ReLU →
 * MaxPool 3×3 stride 2 padding 1, so `[N, S, S, C] → [N, S/4, S/4, filters]`.
 *
 * The PyTorch keys (`conv1.weight`, `bn1.*`) sit at the top level of the ResNet module, so its
 * {@link ResNetStem.torchKeyPrefix} is empty.
 */
export class ResNetStem extends TorchLayer {
  static readonly className = 'ResNetStem';
  readonly filters: number;
  readonly batchNormMode: BatchNormMode;
  /** The keys `conv1.*` / `bn1.*` are top-level keys of the PyTorch ResNet. */
  readonly torchKeyPrefix = '';
  private conv?: ConvParams;
  private bn?: BatchNormParams;

  constructor(args: ResNetStemArgs = {}) {
    super(args);
    this.filters = args.filters ?? 64;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    checkPositiveInteger('ResNetStem', 'filters', this.filters);
    checkBatchNormMode('ResNetStem', this.batchNormMode);
  }

  override build(inputShape: Shape | Shape[]): void {
    const inChannels = nhwcChannels('ResNetStem', singleShape(inputShape), 'images');
    this.conv = this.addConv('conv1', {
      inChannels,
      outChannels: this.filters,
      kernelSize: 7,
      stride: 2,
      padding: 3,
      bias: false,
    });
    this.bn = this.addBatchNorm('bn1', this.filters);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    // Conv (k7, s2, p3) then max pool (k3, s2, p1): each is floor((n − 1) / 2) + 1.
    const half = (v: number) => Math.floor((v - 1) / 2) + 1;
    return nhwcOutputShape(singleShape(inputShape), (v) => half(half(v)), this.filters);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = singleTensor<tf.Tensor4D>(inputs);
    const training = isTraining(kwargs);
    return tf.tidy(() => {
      const y = applyBatchNorm(this.bn!, applyConv(this.conv!, x), training, this.batchNormMode, 'relu');
      // PyTorch pads the max pool with -inf; after the ReLU every value is >= 0, so zero padding
      // gives the same maxima and works on every backend.
      const padded = tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tf.Tensor4D;
      return tf.maxPool(padded, 3, 2, 'valid');
    });
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'batchNormMode');
  }
}
serialization.registerClass(ResNetStem, 'tag2pix');
