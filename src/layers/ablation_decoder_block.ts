import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { initializers, type LayerVariable, type Shape } from '@tensorflow/tfjs-layers';
import { pixelShuffle } from '../ops/pixel_shuffle.js';
import {
  applyBottleneck,
  buildBottleneck,
  needsDownsample,
  type BottleneckParams,
  type PixelShuffleDecoderBlockArgs,
} from './se_resnext.js';
import { applyExcitation, buildExcitation, type ExcitationParams } from './squeeze_excitation.js';
import {
  TorchLayer,
  applyBatchNorm,
  applyConv,
  isTraining,
  type BatchNormMode,
  type BatchNormParams,
  type ConvParams,
  type Kwargs,
  type TorchParam,
} from './torch_layer.js';

/**
 * The decoder blocks the Tag2Pix paper compares with SECat (Table 3 / Figure 11), as the
 * official code implements them (`model/GD_*.py`):
 * - `'resnext'` (a): ResNeXt bottlenecks, no excitation, no tag input;
 * - `'se-resnext'` (b): SE-ResNeXt bottlenecks with plain SE, no tag input;
 * - `'concat-front'` (c): the tag vector tiled to `H×W×d` and concatenated in front of each
 *   bottleneck's first 1×1 conv; plain SE;
 * - `'concat-all'` (c'): the tiled tag concatenated in front of every conv of the bottleneck;
 * - `'adain'` (d): each BatchNorm replaced by AdaIN (instance norm, then a per-channel scale and
 *   shift from an equalised-learning-rate Linear of the tag vector), a ReLU after each, and no
 *   residual path, exactly as `GD_adain.py` computes it.
 */
export type AblationBlockKind = 'resnext' | 'se-resnext' | 'concat-front' | 'concat-all' | 'adain';

const KINDS: readonly AblationBlockKind[] = ['resnext', 'se-resnext', 'concat-front', 'concat-all', 'adain'];

/** Whether a kind of block takes the tag vector as a second input. */
export function ablationBlockTakesTag(kind: AblationBlockKind): boolean {
  return kind !== 'resnext' && kind !== 'se-resnext';
}

/** Arguments of {@link AblationDecoderBlock}: those of a PixelShuffle decoder block, and which block. */
export interface AblationDecoderBlockArgs extends PixelShuffleDecoderBlockArgs {
  /** Which block of the paper's Figure 11. */
  block: AblationBlockKind;
  /** BatchNorm in the bottlenecks (all kinds but `'adain'`, which has none). Default true. */
  batchNorm?: boolean;
}

/** One AdaIN: the Linear producing `[gamma | beta]` from the tag (internal). */
interface AdaInParams {
  weightOrig: LayerVariable;
  bias: LayerVariable;
  fanIn: number;
}

/** The weights of one concat / AdaIN bottleneck (internal). */
interface CustomBottleneck {
  conv1: ConvParams;
  conv2: ConvParams;
  conv3: ConvParams;
  bn?: (BatchNormParams | undefined)[];
  adain?: AdaInParams[];
  excitation?: ExcitationParams;
  downsample?: { conv: ConvParams; bn?: BatchNormParams };
}

const INSTANCE_NORM_EPSILON = 1e-5;

/**
 * A decoder block of one of the paper's ablation generators: `blocks` bottlenecks of the chosen
 * kind, then PixelShuffle. `[N, H, W, C]` (and the tag `[N, d]` for the kinds that use it) →
 * `[N, 2H, 2W, filters / 4]`.
 *
 * PyTorch keys follow the official ablation code: `secat_layer.<i>.*` for `'resnext'`,
 * `'concat-front'`, `'concat-all'` and `'adain'` (AdaIN weights as
 * `adain<k>.style.linear.weight_orig` / `.bias`), and `0.<i>.*` for `'se-resnext'`
 * (`GD_senet.py` builds `Sequential(layer, PixelShuffle)`).
 */
export class AblationDecoderBlock extends TorchLayer {
  static readonly className = 'AblationDecoderBlock';
  readonly block: AblationBlockKind;
  readonly filters: number;
  readonly blocks: number;
  readonly cardinality: number;
  readonly reduction: number;
  readonly batchNorm: boolean;
  readonly batchNormMode: BatchNormMode;
  readonly upscaleFactor: number;
  private standard: BottleneckParams[] = [];
  private custom: CustomBottleneck[] = [];

  constructor(args: AblationDecoderBlockArgs) {
    super(args);
    this.block = args.block;
    this.filters = args.filters;
    this.blocks = args.blocks;
    this.cardinality = args.cardinality ?? 16;
    this.reduction = args.reduction ?? 16;
    this.batchNorm = args.batchNorm ?? true;
    this.batchNormMode = args.batchNormMode ?? 'auto';
    this.upscaleFactor = args.upscaleFactor ?? 2;
    const owner = 'AblationDecoderBlock';
    // The args extend PixelShuffleDecoderBlockArgs, so `recompute` type-checks here; refuse it
    // rather than silently keep the full tape.
    if (args.recompute) {
      throw new Error(`${owner}: recompute is implemented for PixelShuffleDecoderBlock (the 'secat' block) only; leave it false here.`);
    }
    if (!KINDS.includes(this.block)) {
      throw new Error(`${owner}: block must be one of ${KINDS.join(', ')}, got '${String(this.block)}'.`);
    }
    for (const [name, v] of Object.entries({
      filters: this.filters,
      blocks: this.blocks,
      cardinality: this.cardinality,
      reduction: this.reduction,
      upscaleFactor: this.upscaleFactor,
    })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${owner}: ${name} must be a positive integer, got ${v}.`);
    }
    if (this.filters % 4 !== 0 || (this.filters / 4) % this.cardinality !== 0) {
      throw new Error(
        `${owner}: filters (${this.filters}) must be 4 × a multiple of cardinality (${this.cardinality}).`,
      );
    }
    if (this.filters % this.upscaleFactor ** 2 !== 0) {
      throw new Error(`${owner}: filters (${this.filters}) must be divisible by upscaleFactor² (${this.upscaleFactor ** 2}).`);
    }
  }

  private get takesTag(): boolean {
    return ablationBlockTakesTag(this.block);
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | undefined] {
    const owner = `AblationDecoderBlock '${this.block}'`;
    const list = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    if (this.takesTag && list.length !== 2) {
      throw new Error(`${owner} takes [features, tag], got ${list.length} input(s).`);
    }
    if (!this.takesTag && list.length !== 1) {
      throw new Error(`${owner} takes only the features (it ignores tags), got ${list.length} inputs.`);
    }
    const [x, tag] = list;
    if (x.length !== 4 || x[3] == null) {
      throw new Error(`${owner} expects NHWC features with a known channel count, got [${x.join(', ')}].`);
    }
    if (tag && (tag.length !== 2 || tag[1] == null)) {
      throw new Error(`${owner} expects the tag vector as [batch, d], got [${tag.join(', ')}].`);
    }
    return [x, tag];
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, tagShape] = this.shapes(inputShape);
    const d = tagShape ? (tagShape[1] as number) : 0;
    const width = this.filters / 4;
    let inChannels = xShape[3] as number;
    this.standard = [];
    this.custom = [];
    for (let i = 0; i < this.blocks; i++) {
      if (this.block === 'resnext' || this.block === 'se-resnext') {
        // GD_senet's keys start with a digit ('0.<i>'), which tfjs-layers misreads when it is a
        // saved model's first weight name: the weights are named 'layer.<i>' (see torchParams).
        const prefix = this.block === 'resnext' ? `secat_layer.${i}` : `layer.${i}`;
        this.standard.push(
          buildBottleneck(this.torchWeights(prefix), '', 'AblationDecoderBlock', {
            inChannels,
            width,
            filters: this.filters,
            cardinality: this.cardinality,
            strides: 1,
            excitation: this.block === 'resnext' ? 'none' : 'se',
            reduction: this.reduction,
            batchNorm: this.batchNorm,
            tagChannels: 0,
          }),
        );
      } else {
        this.custom.push(this.buildCustom(`secat_layer.${i}`, inChannels, width, d));
      }
      inChannels = this.filters;
    }
    this.built = true;
  }

  private buildCustom(prefix: string, inChannels: number, width: number, d: number): CustomBottleneck {
    const b = this.torchWeights(prefix);
    const all = this.block === 'concat-all';
    const front = this.block === 'concat-front' || all;
    const conv = (key: string, cin: number, cout: number, k: number, groups = 1) =>
      b.conv(key, { inChannels: cin, outChannels: cout, kernelSize: k, padding: k === 3 ? 1 : 0, groups });
    const p: CustomBottleneck = {
      conv1: conv('conv1', inChannels + (front ? d : 0), width, 1),
      conv2: conv('conv2', width + (all ? d : 0), width, 3, this.cardinality),
      conv3: conv('conv3', width + (all ? d : 0), this.filters, 1),
    };
    if (this.block === 'adain') {
      p.adain = [width, width, this.filters].map((c, k) => this.addAdaIn(`${prefix}.adain${k + 1}`, c, d));
      return p;
    }
    if (this.batchNorm) {
      p.bn = [width, width, this.filters].map((c, k) => b.batchNorm(`bn${k + 1}`, c));
    }
    p.excitation = buildExcitation(b, 'selayer', 'AblationDecoderBlock', 'se', this.filters, this.reduction);
    if (needsDownsample(inChannels, this.filters, 1)) {
      p.downsample = {
        conv: conv('downsample.0', inChannels, this.filters, 1),
        bn: this.batchNorm ? b.batchNorm('downsample.1', this.filters) : undefined,
      };
    }
    return p;
  }

  private addAdaIn(key: string, channels: number, d: number): AdaInParams {
    // StyleGAN's EqualLinear: weight ~ N(0, 1) scaled by sqrt(2 / fan_in) at run time; the bias
    // starts as gamma = 1, beta = 0.
    const weightOrig = this.addTorchWeight(
      `${key}.style.linear.weight_orig`,
      [d, 2 * channels],
      'linear',
      initializers.randomNormal({ mean: 0, stddev: 1 }),
    );
    const bias = this.addTorchWeight(`${key}.style.linear.bias`, [2 * channels], 'vector', initializers.zeros());
    const start = tf.tidy(() => tf.concat([tf.ones([channels]), tf.zeros([channels])]));
    bias.write(start);
    start.dispose();
    return { weightOrig, bias, fanIn: d };
  }

  override torchParams(): TorchParam[] {
    if (this.block !== 'se-resnext') return super.torchParams();
    return super.torchParams().map((p) => ({ ...p, key: p.key.replace(/^layer\./, '0.') }));
  }

  override torchIgnoredKeys(): string[] {
    if (this.block !== 'se-resnext') return super.torchIgnoredKeys();
    return super.torchIgnoredKeys().map((k) => k.replace(/^layer\./, '0.'));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = this.shapes(inputShape);
    const r = this.upscaleFactor;
    const up = (v: number | null) => (v == null ? null : v * r);
    return [x[0], up(x[1]), up(x[2]), this.filters / (r * r)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const expected = this.takesTag ? 2 : 1;
    if (list.length !== expected) {
      throw new Error(
        this.takesTag
          ? `AblationDecoderBlock '${this.block}' takes [features, tag], got ${list.length} input(s).`
          : `AblationDecoderBlock '${this.block}' takes only the features (it ignores tags), got ${list.length} inputs.`,
      );
    }
    const x = list[0] as tf.Tensor4D;
    const tag = list[1] as tf.Tensor2D | undefined;
    const training = isTraining(kwargs);
    return tf.tidy(() => {
      let out = x;
      for (const p of this.standard) {
        out = applyBottleneck(p, out, undefined, { training, batchNormMode: this.batchNormMode });
      }
      for (const p of this.custom) out = this.applyCustom(p, out, tag!, training);
      return pixelShuffle(out, this.upscaleFactor);
    });
  }

  private applyCustom(p: CustomBottleneck, x: tf.Tensor4D, tag: tf.Tensor2D, training: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const all = this.block === 'concat-all';
      const front = this.block === 'concat-front' || all;
      const withTag = (t: tf.Tensor4D): tf.Tensor4D => {
        const [n, h, w] = t.shape;
        const tiled = tf.tile(tf.reshape(tag, [n, 1, 1, tag.shape[1]]), [1, h, w, 1]);
        return tf.concat([t, tiled], 3) as tf.Tensor4D;
      };
      const norm = (k: number, t: tf.Tensor4D): tf.Tensor4D => {
        if (p.adain) return adaIn(p.adain[k], t, tag);
        const bn = p.bn?.[k];
        return bn ? (applyBatchNorm(bn, t, training, this.batchNormMode) as tf.Tensor4D) : t;
      };
      let out = tf.relu(norm(0, applyConv(p.conv1, front ? withTag(x) : x))) as tf.Tensor4D;
      out = tf.relu(norm(1, applyConv(p.conv2, all ? withTag(out) : out))) as tf.Tensor4D;
      out = norm(2, applyConv(p.conv3, all ? withTag(out) : out));
      if (p.adain) return tf.relu(out) as tf.Tensor4D;
      out = applyExcitation(p.excitation!, out);
      const residual = p.downsample
        ? (() => {
            const r = applyConv(p.downsample.conv, x);
            const bn = p.downsample.bn;
            return bn ? (applyBatchNorm(bn, r, training, this.batchNormMode) as tf.Tensor4D) : r;
          })()
        : x;
      return tf.relu(tf.add(out, residual)) as tf.Tensor4D;
    });
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      block: this.block,
      filters: this.filters,
      blocks: this.blocks,
      cardinality: this.cardinality,
      reduction: this.reduction,
      batchNorm: this.batchNorm,
      batchNormMode: this.batchNormMode,
      upscaleFactor: this.upscaleFactor,
    };
  }
}
serialization.registerClass(AblationDecoderBlock, 'tag2pix');

/** AdaIN: instance norm (biased variance, eps 1e-5, no affine), then `gamma·x + beta` from the tag. */
function adaIn(p: AdaInParams, x: tf.Tensor4D, tag: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , c] = x.shape;
    const weight = tf.mul(p.weightOrig.read(), Math.sqrt(2 / p.fanIn));
    const style = tf.add(tf.matMul(tag, weight as tf.Tensor2D), p.bias.read());
    const [gamma, beta] = tf.split(style, 2, 1);
    const mean = tf.mean(x, [1, 2], true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), [1, 2], true);
    const normalised = tf.mul(centred, tf.rsqrt(tf.add(variance, INSTANCE_NORM_EPSILON)));
    return tf.add(
      tf.mul(normalised, tf.reshape(gamma, [n, 1, 1, c])),
      tf.reshape(beta, [n, 1, 1, c]),
    ) as tf.Tensor4D;
  });
}
