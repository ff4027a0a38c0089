import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { checkOneOf, checkPositiveInteger, nhwcChannels, nhwcOutputShape, singleShape, singleTensor } from './checks.js';
import {
  TorchLayer,
  applyConv,
  type ConvParams,
  type Kwargs,
  type LayerArgs,
  type TorchParam,
} from './torch_layer.js';

/** Arguments of {@link GuideDecoder}. */
export interface GuideDecoderArgs extends LayerArgs {
  /**
   * Output channels of the upsampling transposed convs, one per ×2 step. Default
   * `[128, 64, 32]` (the reference: 256 → 128 → 64 → 32 from deconv1's 256-channel output).
   */
  filters?: number[];
  /** Channels of the image it decodes. Default 3 (RGB). */
  outputChannels?: number;
  /** Negative slope of the LeakyReLUs after each upsampling step. Default 0.2. */
  alpha?: number;
  /**
   * `'tanh'` (default, as the reference) or `'linear'` to return the pre-tanh logits (useful to
   * compare with the reference's `deconv_for_decoder.6` output, or for a custom loss).
   */
  outputActivation?: 'tanh' | 'linear';
}

/**
 * The generator's guide decoder: it decodes deconv1's output (`[N, S/8, S/8, C]`) straight to a
 * colour image `[N, S, S, 3]` so that the first decoder block learns to colourise on its own.
 *
 * Each upsampling step is PyTorch's `ConvTranspose2d(k=3, stride=2, padding=1,
 * output_padding=1)` (exactly doubles the size) followed by LeakyReLU(0.2); then a stride-1
 * `ConvTranspose2d(k=3, padding=1)` to `outputChannels` and tanh. PyTorch keys, as the
 * reference's `nn.Sequential`: `0.weight`, `0.bias`, `2.*`, `4.*`, `6.*` (every second index).
 * The tfjs weights are named `deconv<i>.weight` / `.bias` instead: tfjs-layers mistakes a
 * saved model whose first weight name starts with a digit for the Keras 3 format.
 */
export class GuideDecoder extends TorchLayer {
  static readonly className = 'GuideDecoder';
  readonly filters: number[];
  readonly outputChannels: number;
  readonly alpha: number;
  readonly outputActivation: 'tanh' | 'linear';
  private convs: ConvParams[] = [];

  constructor(args: GuideDecoderArgs = {}) {
    super(args);
    this.filters = args.filters ?? [128, 64, 32];
    this.outputChannels = args.outputChannels ?? 3;
    this.alpha = args.alpha ?? 0.2;
    this.outputActivation = args.outputActivation ?? 'tanh';
    this.filters.forEach((v, i) => checkPositiveInteger('GuideDecoder', `filters[${i}]`, v));
    checkPositiveInteger('GuideDecoder', 'outputChannels', this.outputChannels);
    checkOneOf('GuideDecoder', 'outputActivation', this.outputActivation, ['tanh', 'linear']);
  }

  override build(inputShape: Shape | Shape[]): void {
    const inChannels = nhwcChannels('GuideDecoder', singleShape(inputShape));
    const ins = [inChannels, ...this.filters];
    const outs = [...this.filters, this.outputChannels];
    this.convs = outs.map((outChannels, i) => {
      const upsample = i < this.filters.length;
      return this.addConv(`deconv${i}`, {
        inChannels: ins[i],
        outChannels,
        kernelSize: 3,
        stride: upsample ? 2 : 1,
        padding: 1,
        outputPadding: upsample ? 1 : 0,
        bias: true,
        transpose: true,
      });
    });
    this.built = true;
  }

  override torchParams(): TorchParam[] {
    // deconv<i>.* → the Sequential index 2·i (a LeakyReLU sits between the convs).
    return super.torchParams().map((p) => ({
      ...p,
      key: p.key.replace(/^deconv(\d+)\./, (_, i: string) => `${2 * Number(i)}.`),
    }));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const scale = 2 ** this.filters.length;
    return nhwcOutputShape(singleShape(inputShape), (v) => v * scale, this.outputChannels);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let x = singleTensor<tf.Tensor4D>(inputs);
      this.convs.forEach((conv, i) => {
        const y = applyConv(conv, x);
        if (i < this.convs.length - 1) x = tf.leakyRelu(y, this.alpha) as tf.Tensor4D;
        else x = this.outputActivation === 'tanh' ? tf.tanh(y) : y;
      });
      return x;
    });
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'outputChannels', 'alpha', 'outputActivation');
  }
}
serialization.registerClass(GuideDecoder, 'tag2pix');
