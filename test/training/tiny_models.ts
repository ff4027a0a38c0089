// Tiny stand-ins with the Tag2Pix model interfaces (G: [lineArt, citFeatures, cvt] →
// [colour, guide]; D: image → [adversarial, cit, cvt] probabilities), built from TorchLayer
// primitives so that their BatchNorms behave like PyTorch's. They keep trainer tests fast.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Shape } from '@tensorflow/tfjs-layers';
import {
  TorchLayer,
  applyBatchNorm,
  applyConv,
  applyLinear,
  isTraining,
  type BatchNormParams,
  type ConvParams,
  type Kwargs,
  type LinearParams,
} from '../../src/layers/torch_layer.js';

export const TINY = { size: 16, channels: 4, features: 8, cit: 6, cvt: 5 };

class TinyGeneratorLayer extends TorchLayer {
  static readonly className = 'TinyGeneratorLayer';
  private conv1!: ConvParams;
  private bn1!: BatchNormParams;
  private feat!: LinearParams;
  private tag!: LinearParams;
  private colorConv!: ConvParams;
  private guideConv!: ConvParams;

  override build(): void {
    const c = TINY.channels;
    this.conv1 = this.addConv('conv1', { inChannels: 1, outChannels: c, kernelSize: 3, padding: 1 });
    this.bn1 = this.addBatchNorm('bn1', c);
    this.feat = this.addLinear('feat', TINY.features, c, true);
    this.tag = this.addLinear('tag', TINY.cvt, c, false);
    this.colorConv = this.addConv('colour', { inChannels: c, outChannels: 3, kernelSize: 3, padding: 1, bias: true });
    this.guideConv = this.addConv('guide', { inChannels: c, outChannels: 3, kernelSize: 1, bias: true });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const s = (inputShape as Shape[])[0];
    return [[s[0], s[1], s[2], 3], [s[0], s[1], s[2], 3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const [lineArt, features, cvt] = inputs as tf.Tensor[];
      const training = isTraining(kwargs);
      let h = tf.relu(applyBatchNorm(this.bn1, applyConv(this.conv1, lineArt as tf.Tensor4D), training)) as tf.Tensor4D;
      const pooled = tf.mean(features, [1, 2]) as tf.Tensor2D;
      const bias = tf.add(applyLinear(this.feat, pooled), applyLinear(this.tag, cvt as tf.Tensor2D));
      h = tf.add(h, tf.expandDims(tf.expandDims(bias, 1), 1)) as tf.Tensor4D;
      return [tf.tanh(applyConv(this.colorConv, h as tf.Tensor4D)), tf.tanh(applyConv(this.guideConv, h as tf.Tensor4D))];
    });
  }
}

class TinyDiscriminatorLayer extends TorchLayer {
  static readonly className = 'TinyDiscriminatorLayer';
  /** What call() returns: probabilities, logits, or both (probabilities first). */
  outputs: 'probabilities' | 'logits' | 'both' = 'probabilities';
  private conv1!: ConvParams;
  private bn1!: BatchNormParams;
  private adv!: LinearParams;
  private citHead!: LinearParams;
  private cvtHead!: LinearParams;

  override build(): void {
    const c = TINY.channels;
    this.conv1 = this.addConv('conv1', { inChannels: 3, outChannels: c, kernelSize: 3, stride: 2, padding: 1 });
    this.bn1 = this.addBatchNorm('bn1', c);
    this.adv = this.addLinear('adv', c, 1, true);
    this.citHead = this.addLinear('cit', c, TINY.cit, true);
    this.cvtHead = this.addLinear('cvt', c, TINY.cvt, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const n = (inputShape as Shape)[0];
    const heads: Shape[] = [[n, 1], [n, TINY.cit], [n, TINY.cvt]];
    return this.outputs === 'both' ? [...heads, ...heads] : heads;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const h = tf.leakyRelu(applyBatchNorm(this.bn1, applyConv(this.conv1, x), isTraining(kwargs)), 0.2);
      const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
      const logits = [applyLinear(this.adv, pooled), applyLinear(this.citHead, pooled), applyLinear(this.cvtHead, pooled)];
      const probabilities = logits.map((l) => tf.sigmoid(l));
      return this.outputs === 'logits' ? logits : this.outputs === 'both' ? [...probabilities, ...logits] : probabilities;
    });
  }
}

export function tinyGenerator(): tfl.LayersModel {
  const { size, features, cvt } = TINY;
  const inputs = [
    tfl.input({ shape: [size, size, 1] }),
    tfl.input({ shape: [size / 8, size / 8, features] }),
    tfl.input({ shape: [cvt] }),
  ];
  const outputs = new TinyGeneratorLayer({ name: 'g' }).apply(inputs) as tfl.SymbolicTensor[];
  return tfl.model({ inputs, outputs, name: 'tiny_generator' });
}

export function tinyDiscriminator(outputs: 'probabilities' | 'logits' | 'both' = 'probabilities'): tfl.LayersModel {
  const input = tfl.input({ shape: [TINY.size, TINY.size, 3] });
  const layer = new TinyDiscriminatorLayer({ name: 'd' });
  layer.outputs = outputs;
  const heads = layer.apply(input) as tfl.SymbolicTensor[];
  return tfl.model({ inputs: input, outputs: heads, name: 'tiny_discriminator' });
}

/** A deterministic tiny batch. */
export function tinyBatch(seed: number, n = 2) {
  const { size, features, cit, cvt } = TINY;
  const r = (shape: number[], lo: number, hi: number, s: number) =>
    tf.randomUniform(shape, lo, hi, 'float32', seed * 7 + s);
  return {
    lineArt: r([n, size, size, 1], 0, 1, 1) as tf.Tensor4D,
    color: r([n, size, size, 3], -1, 1, 2) as tf.Tensor4D,
    citFeatures: r([n, size / 8, size / 8, features], 0, 1, 3) as tf.Tensor4D,
    cit: tf.round(r([n, cit], 0, 1, 4)) as tf.Tensor2D,
    cvt: tf.round(r([n, cvt], 0, 1, 5)) as tf.Tensor2D,
  };
}
