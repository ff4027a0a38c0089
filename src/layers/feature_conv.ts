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

/** Arguments of {@link FeatureConv}. */
export interface FeatureConvArgs extends LayerArgs {
  /** Output channels of each of the three convs. Default 256. */
  filters?: number;
  /**
   * Strides of the first two convs (the third has stride 1). Default `[2, 1]`: the reference's
   * choice for CIT features at S/8 going to the generator's S/16 bottleneck (it uses `[2, 2]`
   * for a ×4 and `[1, 1]` for a ×1 size ratio).
   */
  strides?: [number, number];
  /** BatchNorm after the first two convs. Default true (the 512 px model trains without). */
  batchNorm?: boolean;
  /**
   * `'auto'` (default): BatchNorm uses batch statistics in training, running statistics
   * otherwise; `'batch-stats'`: always batch statistics.
   */
  batchNormMode?: BatchNormMode;
}

/**
 * The CIT feature adaptor of the generator (`featureConv`): turns the CIT extractor's
 * `[N, S/8, S/8, 512]` features into `[N, S/16, S/16, 256]` for the decoder's bottom.
 *
 * Conv 3×3 stride 2 → BN → ReLU → Conv 3×3 → BN → ReLU → Conv 3×3 → ReLU, every conv padding 1
 * and without bias. PyTorch keys, as the reference's `network` Sequential: with BatchNorm
 * `network.0.weight`, `network.1.*`, `network.3.weight`, `network.4.*`, `network.6.weight`;
 * without, `network.0/2/4.weight`.
 */
export class FeatureConv extends TorchLayer {
  static readonly className = 'FeatureConv';
  readonly filters: number;
  readonly strides: [number, number];
  readonly batchNorm: boolean;
  readonly batchNormMode: BatchNormMode;
  private convs: ConvParams[] = [];
  private norms: BatchNormParams[] = [];

  constructor(args: FeatureConvArgs = {}) {
    super(args);
    this.filters = args.filters ?? 256;
    this.strides = args.strides ?? [2, 1];
    this.batchNorm = args.batchNorm ?? true;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    checkPositiveInteger('FeatureConv', 'filters', this.filters);
    checkBatchNormMode('FeatureConv', this.batchNormMode);
    if (
      !Array.isArray(this.strides) ||
      this.strides.length !== 2 ||
      !this.strides.every((s) => Number.isInteger(s) && s >= 1)
    ) {
      throw new Error(
        `FeatureConv: strides must be two positive integers, got ${JSON.stringify(this.strides)}.`,
      );
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const inChannels = nhwcChannels('FeatureConv', singleShape(inputShape));
    // Index of each module in the reference's Sequential, which shifts without BatchNorm.
    const convIndex = this.batchNorm ? [0, 3, 6] : [0, 2, 4];
    const strides = [...this.strides, 1];
    this.convs = convIndex.map((index, i) =>
      this.addConv(`network.${index}`, {
        inChannels: i === 0 ? inChannels : this.filters,
        outChannels: this.filters,
        kernelSize: 3,
        stride: strides[i],
        padding: 1,
        bias: false,
      }),
    );
    this.norms = this.batchNorm
      ? [1, 4].map((index) => this.addBatchNorm(`network.${index}`, this.filters))
      : [];
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const out = (v: number) => [...this.strides, 1].reduce((d, s) => Math.floor((d + 2 - 3) / s) + 1, v);
    return nhwcOutputShape(singleShape(inputShape), out, this.filters);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const input = singleTensor<tf.Tensor4D>(inputs);
    const training = isTraining(kwargs);
    return tf.tidy(() => {
      let x: tf.Tensor = input;
      this.convs.forEach((conv, i) => {
        x = applyConv(conv, x as tf.Tensor4D);
        const norm = this.norms[i];
        x = norm ? applyBatchNorm(norm, x, training, this.batchNormMode, 'relu') : tf.relu(x);
      });
      return x;
    });
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'strides', 'batchNorm', 'batchNormMode');
  }
}
serialization.registerClass(FeatureConv, 'tag2pix');
