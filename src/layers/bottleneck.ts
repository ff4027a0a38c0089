// The one (SE-)ResNeXt bottleneck every block of this library is made of (internal), as timm
// builds its blocks: one computation, with the normalisation and the way the tag vector comes
// in passed as strategies. The published SECat bottleneck, the plain ResNeXt / SE-ResNeXt
// bottlenecks and the paper's concat and AdaIN ablations are each one choice of strategies.
import * as tf from '@tensorflow/tfjs-core';
import { recomputeInBackward } from '../kernels/recompute.js';
import { addReluKeepingOutput, reluKeepingOutput } from '../kernels/relu_train.js';
import { applyAdaIn, buildAdaIn, type AdaInParams } from './adain.js';
import { applyExcitation, buildExcitation, type Excitation, type ExcitationParams } from './squeeze_excitation.js';
import {
  applyBatchNorm,
  applyConv,
  type BatchNormMode,
  type BatchNormParams,
  type ConvParams,
  type TorchWeightBuilder,
} from './torch_layer.js';

/**
 * What follows each conv: `'batch-norm'` (PyTorch's BatchNorm2d, keys `bn1..3`), `'adain'`
 * (instance norm with a scale and shift from the tag, keys `adain1..3.style.linear.*`) or
 * `'none'` (the 512 px model).
 */
export type BottleneckNorm = 'batch-norm' | 'adain' | 'none';

/**
 * Where the tiled tag vector (`[N, H, W, d]`) is concatenated to a conv's input: `'none'`,
 * `'front'` (before conv1) or `'all'` (before every conv).
 */
export type TagConcat = 'none' | 'front' | 'all';

/** How a bottleneck normalises, where it takes the tag vector in, and how its weights are keyed. */
export interface BottleneckStrategy {
  /** The excitation after conv3 (`'secat'` reads the tag). */
  excitation: Excitation;
  /** The normalisation after each conv (`'adain'` reads the tag). */
  norm: BottleneckNorm;
  /** Tag concatenation in front of the convs. */
  tagConcat: TagConcat;
  /** Add the (projected when needed) input before the last ReLU. `GD_adain.py` has none. */
  residual: boolean;
  /**
   * The order the weights are created in, which is their order in the layer's weights and
   * the reference module's state dict: `'interleaved'` (conv1, bn1, conv2, …; `BottleneckX`) or
   * `'convs-first'` (conv1..3, then the norms; the concat and AdaIN modules).
   */
  weightOrder: 'interleaved' | 'convs-first';
}

/** Geometry and strategy of one bottleneck. */
export interface BottleneckSpec extends BottleneckStrategy {
  inChannels: number;
  width: number;
  filters: number;
  cardinality: number;
  strides: number;
  reduction: number;
  /** Width of the tag vector, for the strategies that read it (0 otherwise). */
  tagChannels: number;
}

/** One normalisation's weights. */
export type NormParams = { kind: 'batch-norm'; bn: BatchNormParams } | { kind: 'adain'; adain: AdaInParams };

/** The weights of one bottleneck and the strategy its forward pass follows. */
export interface BottleneckParams {
  conv1: ConvParams;
  conv2: ConvParams;
  conv3: ConvParams;
  norms: [NormParams?, NormParams?, NormParams?];
  excitation?: ExcitationParams;
  downsample?: { conv: ConvParams; bn?: BatchNormParams };
  tagConcat: TagConcat;
  residual: boolean;
}

/** Whether a bottleneck needs the 1×1 projection on its residual path (as the reference). */
export function needsDownsample(inChannels: number, filters: number, strides: number): boolean {
  return strides !== 1 || inChannels !== filters;
}

/** Whether a strategy reads the tag vector. */
export function readsTag(s: Pick<BottleneckStrategy, 'excitation' | 'norm' | 'tagConcat'>): boolean {
  return s.excitation === 'secat' || s.norm === 'adain' || s.tagConcat !== 'none';
}

/**
 * Adds one bottleneck's weights (to the layer `b` writes into), keyed as the reference:
 * `conv1..3`, `bn1..3` or `adain1..3.*`, `selayer.*`, `downsample.0`, `downsample.1`.
 */
export function buildBottleneck(b: TorchWeightBuilder, owner: string, s: BottleneckSpec): BottleneckParams {
  const front = s.tagConcat !== 'none' ? s.tagChannels : 0;
  const all = s.tagConcat === 'all' ? s.tagChannels : 0;
  const convs: Array<() => ConvParams> = [
    () => b.conv('conv1', { inChannels: s.inChannels + front, outChannels: s.width, kernelSize: 1 }),
    () =>
      b.conv('conv2', {
        inChannels: s.width + all,
        outChannels: s.width,
        kernelSize: 3,
        stride: s.strides,
        padding: 1,
        groups: s.cardinality,
      }),
    () => b.conv('conv3', { inChannels: s.width + all, outChannels: s.filters, kernelSize: 1 }),
  ];
  const channels = [s.width, s.width, s.filters];
  const norm = (k: number): NormParams | undefined => {
    if (s.norm === 'batch-norm') return { kind: 'batch-norm', bn: b.batchNorm(`bn${k + 1}`, channels[k]!) };
    if (s.norm === 'adain') return { kind: 'adain', adain: buildAdaIn(b, `adain${k + 1}`, channels[k]!, s.tagChannels) };
    return undefined;
  };
  const made: ConvParams[] = [];
  const norms: [NormParams?, NormParams?, NormParams?] = [];
  if (s.weightOrder === 'interleaved') {
    for (let k = 0; k < 3; k++) {
      made.push(convs[k]!());
      norms.push(norm(k));
    }
  } else {
    for (const conv of convs) made.push(conv());
    for (let k = 0; k < 3; k++) norms.push(norm(k));
  }
  const p: BottleneckParams = {
    conv1: made[0]!,
    conv2: made[1]!,
    conv3: made[2]!,
    norms,
    tagConcat: s.tagConcat,
    residual: s.residual,
  };
  if (s.excitation !== 'none') {
    p.excitation = buildExcitation(b, 'selayer', owner, s.excitation, s.filters, s.reduction, s.tagChannels);
  }
  if (s.residual && needsDownsample(s.inChannels, s.filters, s.strides)) {
    p.downsample = {
      conv: b.conv('downsample.0', { inChannels: s.inChannels, outChannels: s.filters, kernelSize: 1, stride: s.strides }),
      bn: s.norm === 'batch-norm' ? b.batchNorm('downsample.1', s.filters) : undefined,
    };
  }
  return p;
}

/** How a bottleneck call runs its BatchNorms. */
export interface BottleneckCallOptions {
  training: boolean;
  batchNormMode: BatchNormMode;
  /**
   * In a training call, update the BatchNorms' running statistics. Default true; false when the
   * forward pass is recomputed for a gradient (the statistics were updated by the first pass).
   */
  updateRunningStats?: boolean;
}

/** `t` with the tag vector tiled over its height and width appended as channels. */
function withTag(t: tf.Tensor4D, tag: tf.Tensor2D): tf.Tensor4D {
  const [n, h, w] = t.shape;
  const tiled = tf.tile(tf.reshape(tag, [n, 1, 1, tag.shape[1]]), [1, h, w, 1]);
  return tf.concat([t, tiled], 3) as tf.Tensor4D;
}

/**
 * conv1 → norm → ReLU → grouped conv2 → norm → ReLU → conv3 → norm → excitation, plus the
 * residual (projected when needed), then ReLU; the strategy decides where the tag comes in.
 * BatchNorm and the ReLU after it run as one op (fused on webgpu).
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
    const batchNorm = (bn: BatchNormParams | undefined, t: tf.Tensor4D) =>
      bn ? (applyBatchNorm(bn, t, training, mode) as tf.Tensor4D) : t;
    const norm = (n: NormParams | undefined, t: tf.Tensor4D): tf.Tensor4D => {
      if (n === undefined) return t;
      return n.kind === 'adain' ? applyAdaIn(n.adain, t, tag!) : batchNorm(n.bn, t);
    };
    // A BatchNorm takes its ReLU along (one program on webgpu); the other norms are followed by it.
    const normRelu = (n: NormParams | undefined, t: tf.Tensor4D): tf.Tensor4D =>
      n?.kind === 'batch-norm'
        ? (applyBatchNorm(n.bn, t, training, mode, 'relu') as tf.Tensor4D)
        : reluKeepingOutput(norm(n, t));
    const concat = (t: tf.Tensor4D, where: TagConcat[]) => (where.includes(p.tagConcat) ? withTag(t, tag!) : t);
    const [n1, n2, n3] = p.norms;
    let out = normRelu(n1, applyConv(p.conv1, concat(x, ['front', 'all'])));
    out = normRelu(n2, applyConv(p.conv2, concat(out, ['all'])));
    out = norm(n3, applyConv(p.conv3, concat(out, ['all'])));
    if (p.excitation) out = applyExcitation(p.excitation, out, tag);
    if (!p.residual) return reluKeepingOutput(out);
    const residual = p.downsample ? batchNorm(p.downsample.bn, applyConv(p.downsample.conv, x)) : x;
    return addReluKeepingOutput(out, residual);
  });
}

/** The trainable weights a bottleneck's forward pass reads, as the tf.Variables gradients reach. */
export function bottleneckVariables(p: BottleneckParams): tf.Variable[] {
  const convs = [p.conv1, p.conv2, p.conv3, p.downsample?.conv];
  const bns = [...p.norms.map((n) => (n?.kind === 'batch-norm' ? n.bn : undefined)), p.downsample?.bn];
  const adains = p.norms.flatMap((n) => (n?.kind === 'adain' ? [n.adain] : []));
  const linears = p.excitation ? [p.excitation.fc1, p.excitation.fc2] : [];
  const weights = [
    ...convs.flatMap((c) => (c ? [c.kernel, c.bias] : [])),
    ...bns.flatMap((bn) => (bn ? [bn.gamma, bn.beta] : [])),
    ...adains.flatMap((a) => [a.weightOrig, a.bias]),
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
