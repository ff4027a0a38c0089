import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { checkPositiveIntegers, singleShape, singleTensor } from './checks.js';
import {
  TorchLayer,
  applyConv,
  applyLinear,
  type ConvParams,
  type Kwargs,
  type LayerArgs,
  type LinearParams,
} from './torch_layer.js';

/** Arguments of {@link CVTEncoder}. */
export interface CVTEncoderArgs extends LayerArgs {
  /**
   * Side of the spatial tag feature: the generator's bottleneck size, `inputSize / 16`
   * (16 for the 256 px model).
   */
  spatialSize: number;
  /** Channels of the Linear layer's output once viewed as an image. Default 32. */
  linearChannels?: number;
  /** Channels of the three 3×3 convs (`colorConv`), i.e. of the spatial output. Default 64. */
  channels?: number;
  /**
   * Width of the four Linear layers (`colorFC`), i.e. of the SECat tag vector. Default 64.
   * 0 leaves `colorFC` out: the layer then has the spatial feature as its only output (the
   * paper's SE-ResNeXt ablation, whose decoder takes no tag vector).
   */
  embeddingSize?: number;
  /**
   * Put a ReLU between the four `colorFC` Linear layers (the reference's `net_opt['relu']`).
   * Default false, as the published weights. It also changes the PyTorch keys
   * (`colorFC.0/2/4/6` instead of `colorFC.0/1/2/3`), as in the reference's `nn.Sequential`.
   */
  fcRelu?: boolean;
  /** Negative slope of the LeakyReLUs between the convs. Default 0.2. */
  alpha?: number;
}

/**
 * The generator's colour-variant-tag (CVT) encoder. From a CVT multi-hot vector `[N, cvtCount]`
 * it computes both tag embeddings of Tag2Pix:
 *
 * 1. the spatial feature `[N, S/16, S/16, channels]`: `Linear(cvtCount → linearChannels·(S/16)²)`,
 *    viewed in PyTorch's NCHW order as `[linearChannels, S/16, S/16]` (then moved to NHWC), then
 *    `colorConv` = Conv 3×3 → LReLU → Conv 3×3 → LReLU → Conv 3×3 → tanh;
 * 2. the SECat vector `[N, embeddingSize]`: `colorFC` = four Linear layers (optionally with
 *    ReLU between them).
 *
 * Outputs `[spatial, vector]` (only `spatial` with `embeddingSize: 0`). The PyTorch keys (`Linear.*`, `colorConv.*`, `colorFC.*`) sit at the
 * top level of the reference Generator, so the weight names here are exactly those keys; see
 * {@link CVTEncoder.torchKeyPrefix}.
 */
export class CVTEncoder extends TorchLayer {
  static readonly className = 'CVTEncoder';
  readonly spatialSize: number;
  readonly linearChannels: number;
  readonly channels: number;
  readonly embeddingSize: number;
  readonly fcRelu: boolean;
  readonly alpha: number;
  /**
   * The PyTorch module path this layer's keys are relative to: empty, because the reference
   * keeps `Linear`, `colorConv` and `colorFC` directly on the Generator.
   */
  readonly torchKeyPrefix = '';
  private linear?: LinearParams;
  private convs: ConvParams[] = [];
  private fcs: LinearParams[] = [];

  constructor(args: CVTEncoderArgs) {
    super(args);
    this.spatialSize = args.spatialSize;
    this.linearChannels = args.linearChannels ?? 32;
    this.channels = args.channels ?? 64;
    this.embeddingSize = args.embeddingSize ?? 64;
    this.fcRelu = args.fcRelu ?? false;
    this.alpha = args.alpha ?? 0.2;
    checkPositiveIntegers('CVTEncoder', {
      spatialSize: this.spatialSize,
      linearChannels: this.linearChannels,
      channels: this.channels,
    });
    if (!Number.isInteger(this.embeddingSize) || this.embeddingSize < 0) {
      throw new Error(
        `CVTEncoder: embeddingSize must be a non-negative integer (0: no colorFC), got ${this.embeddingSize}.`,
      );
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const cvtCount = shape[shape.length - 1];
    if (shape.length !== 2 || cvtCount == null) {
      throw new Error(
        `CVTEncoder expects a CVT multi-hot input [batch, cvtCount], got [${shape.join(', ')}].`,
      );
    }
    const s = this.spatialSize;
    this.linear = this.addLinear('Linear', cvtCount, this.linearChannels * s * s, true);
    const convIn = [this.linearChannels, this.channels, this.channels];
    this.convs = convIn.map((inChannels, i) =>
      this.addConv(`colorConv.${2 * i}`, {
        inChannels,
        outChannels: this.channels,
        kernelSize: 3,
        padding: 1,
        bias: true,
      }),
    );
    const e = this.embeddingSize;
    const step = this.fcRelu ? 2 : 1;
    this.fcs =
      e === 0
        ? []
        : [cvtCount, e, e, e].map((inFeatures, i) => this.addLinear(`colorFC.${i * step}`, inFeatures, e, true));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const shape = singleShape(inputShape);
    const s = this.spatialSize;
    const spatial: Shape = [shape[0], s, s, this.channels];
    return this.embeddingSize === 0 ? spatial : [spatial, [shape[0], this.embeddingSize]];
  }

  /**
   * The raw output of the `Linear` layer, `[N, linearChannels·(S/16)²]` in PyTorch's NCHW row
   * order (the reference's `intermediate.Linear`), before it is viewed as an image.
   */
  linearOutput(cvt: tf.Tensor2D): tf.Tensor2D {
    return applyLinear(this.linear!, cvt);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const cvt = singleTensor<tf.Tensor2D>(inputs);
    return tf.tidy(() => {
      const n = cvt.shape[0];
      const s = this.spatialSize;
      // PyTorch views the Linear output as [N, C, s, s]: reshape in that order, then to NHWC.
      const nchw = tf.reshape(applyLinear(this.linear!, cvt), [n, this.linearChannels, s, s]);
      let x = tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D;
      this.convs.forEach((conv, i) => {
        const y = applyConv(conv, x);
        x = (i < this.convs.length - 1 ? tf.leakyRelu(y, this.alpha) : tf.tanh(y)) as tf.Tensor4D;
      });
      if (this.fcs.length === 0) return x;
      let v: tf.Tensor2D = cvt;
      this.fcs.forEach((fc, i) => {
        v = applyLinear(fc, v);
        if (this.fcRelu && i < this.fcs.length - 1) v = tf.relu(v);
      });
      return [x, v];
    });
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('spatialSize', 'linearChannels', 'channels', 'embeddingSize', 'fcRelu', 'alpha');
  }
}
serialization.registerClass(CVTEncoder, 'tag2pix');
