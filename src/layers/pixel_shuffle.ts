import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { pixelShuffle } from '../ops/pixel_shuffle.js';
import { checkPositiveInteger, nhwcOutputShape, singleShape, singleTensor } from './checks.js';
import { TorchLayer, type Kwargs, type LayerArgs } from './torch_layer.js';

/** Arguments of {@link PixelShuffle}. */
export interface PixelShuffleArgs extends LayerArgs {
  /** Upscale factor r: `[N, H, W, C·r²] → [N, H·r, W·r, C]`. Default 2. */
  upscaleFactor?: number;
}

/**
 * PyTorch's `nn.PixelShuffle(r)` on NHWC tensors: `[N, H, W, C·r²] → [N, H·r, W·r, C]` with
 * `out[n, r·h + i, r·w + j, c] = in[n, h, w, r²·c + r·i + j]`.
 *
 * This is PyTorch's channel order, not `tf.depthToSpace`'s, and it is differentiable (reshapes
 * and a transpose). No weights.
 */
export class PixelShuffle extends TorchLayer {
  static readonly className = 'PixelShuffle';
  readonly upscaleFactor: number;

  constructor(args: PixelShuffleArgs = {}) {
    super(args);
    this.upscaleFactor = args.upscaleFactor ?? 2;
    checkPositiveInteger('PixelShuffle', 'upscaleFactor', this.upscaleFactor);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const r2 = this.upscaleFactor ** 2;
    const c = shape[shape.length - 1];
    if (shape.length !== 4) {
      throw new Error(`PixelShuffle expects NHWC input [batch, height, width, channels], got [${shape.join(', ')}].`);
    }
    if (c != null && c % r2 !== 0) {
      throw new Error(
        `PixelShuffle: ${c} input channels are not divisible by upscaleFactor² = ${r2}; ` +
          `the input needs C·${r2} channels for C output channels.`,
      );
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape);
    const r = this.upscaleFactor;
    const c = shape[3];
    return nhwcOutputShape(shape, (d) => d * r, c == null ? null : c / (r * r));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return pixelShuffle(singleTensor<tf.Tensor4D>(inputs), this.upscaleFactor);
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('upscaleFactor');
  }
}
serialization.registerClass(PixelShuffle, 'tag2pix');
