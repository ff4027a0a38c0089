import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { conv2dTorch, conv2dTransposeTorch } from '../ops/conv.js';
import { batchNormTorch } from '../ops/batch_norm.js';

// tfjs-layers' own names for these types live in its internal build paths; they are derived from
// its public API here so that no declaration of ours reaches into `dist/...`.
/** The base arguments of every tfjs layer (`name`, `trainable`, `inputShape`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;
/** The keyword arguments of a layer call (e.g. `{ training: true }`). */
export type Kwargs = Parameters<layers.Layer['call']>[1];
/** A tfjs weight initializer, as `initializers.zeros()` returns. */
export type Initializer = ReturnType<typeof initializers.zeros>;

/**
 * How a PyTorch tensor maps onto a TensorFlow.js weight:
 * - `conv`: Conv2d `[out, in/groups, kh, kw]` or ConvTranspose2d `[in, out, kh, kw]` → transpose
 *   `(2, 3, 1, 0)`;
 * - `linear`: Linear `[out, in]` → `[in, out]`;
 * - `conv1x1AsLinear`: a 1×1 Conv2d `[out, in, 1, 1]` used as a Linear → `[in, out]`;
 * - `vector`: copied as is (biases, BatchNorm parameters and statistics).
 */
export type TorchLayout = 'conv' | 'linear' | 'conv1x1AsLinear' | 'vector';

/** One weight of a layer and the PyTorch state-dict key (relative to the layer) it matches. */
export interface TorchParam {
  /** State-dict key relative to the layer, e.g. `conv1.weight`. */
  key: string;
  /** The layer's weight. */
  variable: LayerVariable;
  /** How the PyTorch tensor's layout converts to this weight's. */
  layout: TorchLayout;
}

/** A layer whose weights map one to one onto a PyTorch module's state dict. */
export interface TorchMappedLayer {
  /** Every weight with its PyTorch key and layout. */
  torchParams(): TorchParam[];
  /** Keys PyTorch stores that have no weight here (e.g. BatchNorm's `num_batches_tracked`). */
  torchIgnoredKeys(): string[];
  /**
   * The PyTorch module path of this layer's keys inside a model, when it is not the layer's
   * name (e.g. `''` for weights at the top level of the PyTorch module).
   */
  readonly torchKeyPrefix?: string;
}

export function isTorchMapped(layer: unknown): layer is TorchMappedLayer {
  return (
    typeof layer === 'object' &&
    layer !== null &&
    typeof (layer as TorchMappedLayer).torchParams === 'function' &&
    typeof (layer as TorchMappedLayer).torchIgnoredKeys === 'function'
  );
}

/** A convolution's weights and geometry (internal). */
export interface ConvParams {
  kernel: LayerVariable;
  bias?: LayerVariable;
  stride: number;
  padding: number;
  groups: number;
  transpose: boolean;
  outputPadding: number;
}

/** A PyTorch-style BatchNorm's weights (internal). */
export interface BatchNormParams {
  gamma: LayerVariable;
  beta: LayerVariable;
  runningMean: LayerVariable;
  runningVar: LayerVariable;
  epsilon: number;
  momentum: number;
}

/** A Linear layer's weights (internal). */
export interface LinearParams {
  kernel: LayerVariable;
  bias?: LayerVariable;
}

/** Options of {@link TorchLayer.addConv}. */
export interface AddConvOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
  /** A ConvTranspose2d (`kernel` stored `[kh, kw, out, in]`). */
  transpose?: boolean;
  outputPadding?: number;
}

/**
 * Creates a layer's PyTorch-keyed weights under a module path (internal): lets shared building
 * functions (a bottleneck, an SE block) add weights to whichever layer owns them.
 */
export interface TorchWeightBuilder {
  /** A weight of any layout (e.g. AdaIN's style Linear). */
  weight(key: string, shape: number[], layout: TorchLayout, initializer: Initializer): LayerVariable;
  conv(key: string, options: AddConvOptions): ConvParams;
  batchNorm(key: string, channels: number): BatchNormParams;
  linear(
    key: string,
    inFeatures: number,
    outFeatures: number,
    bias: boolean,
    layout?: 'linear' | 'conv1x1AsLinear',
  ): LinearParams;
}

/** Running-statistics mode of the BatchNorms of a layer. */
export type BatchNormMode = 'auto' | 'batch-stats';

/**
 * Base class of this library's layers: PyTorch-compatible weight creation (PyTorch's default
 * initialisation, state-dict keys as weight names) and the conv / BatchNorm / Linear
 * primitives that layers compose. Weights are owned directly by the layer, so a model that
 * contains it saves, loads and trains like any tfjs layer.
 */
export abstract class TorchLayer extends layers.Layer implements TorchMappedLayer {
  private readonly torchParamList: TorchParam[] = [];
  private readonly torchIgnored: string[] = [];

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  torchParams(): TorchParam[] {
    return this.torchParamList.slice();
  }

  /**
   * The layer's config for `getConfig`: tfjs's own fields plus the named fields of this layer
   * (its constructor arguments, each stored under its argument's name).
   */
  protected configOf(...fields: Array<keyof this & string>): serialization.ConfigDict {
    const config = super.getConfig();
    for (const field of fields) config[field] = this[field] as serialization.ConfigDictValue;
    return config;
  }

  torchIgnoredKeys(): string[] {
    return this.torchIgnored.slice();
  }

  /** Adds a weight registered under its PyTorch key (which is also its weight name). */
  protected addTorchWeight(
    key: string,
    shape: number[],
    layout: TorchLayout,
    initializer: Initializer,
    trainable = true,
  ): LayerVariable {
    const variable = this.addWeight(key, shape, 'float32', initializer, undefined, trainable);
    this.torchParamList.push({ key, variable, layout });
    return variable;
  }

  protected addConv(key: string, o: AddConvOptions): ConvParams {
    const groups = o.groups ?? 1;
    const transpose = o.transpose ?? false;
    const k = o.kernelSize;
    // PyTorch's fan-in for ConvTranspose2d is computed on its [in, out, kh, kw] weight: out·k².
    const fanIn = transpose ? o.outChannels * k * k : (o.inChannels / groups) * k * k;
    const bound = 1 / Math.sqrt(fanIn);
    const shape = transpose
      ? [k, k, o.outChannels, o.inChannels]
      : [k, k, o.inChannels / groups, o.outChannels];
    const kernel = this.addTorchWeight(
      joinKey(key, 'weight'),
      shape,
      'conv',
      initializers.randomUniform({ minval: -bound, maxval: bound }),
    );
    const bias = o.bias
      ? this.addTorchWeight(
          joinKey(key, 'bias'),
          [o.outChannels],
          'vector',
          initializers.randomUniform({ minval: -bound, maxval: bound }),
        )
      : undefined;
    return {
      kernel,
      bias,
      stride: o.stride ?? 1,
      padding: o.padding ?? 0,
      groups,
      transpose,
      outputPadding: o.outputPadding ?? 0,
    };
  }

  protected addBatchNorm(key: string, channels: number): BatchNormParams {
    // num_batches_tracked is only read by PyTorch when momentum is None.
    this.torchIgnored.push(joinKey(key, 'num_batches_tracked'));
    return {
      gamma: this.addTorchWeight(joinKey(key, 'weight'), [channels], 'vector', initializers.ones()),
      beta: this.addTorchWeight(joinKey(key, 'bias'), [channels], 'vector', initializers.zeros()),
      runningMean: this.addTorchWeight(
        joinKey(key, 'running_mean'),
        [channels],
        'vector',
        initializers.zeros(),
        false,
      ),
      runningVar: this.addTorchWeight(
        joinKey(key, 'running_var'),
        [channels],
        'vector',
        initializers.ones(),
        false,
      ),
      epsilon: 1e-5,
      momentum: 0.1,
    };
  }

  /** Weight creation under the module path `prefix` (e.g. `secat_layer.3`), for shared builders. */
  protected torchWeights(prefix: string): TorchWeightBuilder {
    return {
      weight: (key, shape, layout, initializer) => this.addTorchWeight(joinKey(prefix, key), shape, layout, initializer),
      conv: (key, options) => this.addConv(joinKey(prefix, key), options),
      batchNorm: (key, channels) => this.addBatchNorm(joinKey(prefix, key), channels),
      linear: (key, inFeatures, outFeatures, bias, layout) =>
        this.addLinear(joinKey(prefix, key), inFeatures, outFeatures, bias, layout),
    };
  }

  protected ignoreTorchKey(key: string): void {
    this.torchIgnored.push(key);
  }

  protected addLinear(
    key: string,
    inFeatures: number,
    outFeatures: number,
    bias: boolean,
    layout: 'linear' | 'conv1x1AsLinear' = 'linear',
  ): LinearParams {
    const bound = 1 / Math.sqrt(inFeatures);
    const init = () => initializers.randomUniform({ minval: -bound, maxval: bound });
    const kernel = this.addTorchWeight(joinKey(key, 'weight'), [inFeatures, outFeatures], layout, init());
    const b = bias
      ? this.addTorchWeight(joinKey(key, 'bias'), [outFeatures], 'vector', init())
      : undefined;
    return { kernel, bias: b };
  }
}

/** Joins PyTorch module path parts: `joinKey('conv1', 'weight')` → `conv1.weight`. */
export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join('.');
}

export function applyConv(p: ConvParams, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const kernel = p.kernel.read() as tf.Tensor4D;
    const bias = p.bias?.read() as tf.Tensor1D | undefined;
    if (!p.transpose) return conv2dTorch(x, kernel, { stride: p.stride, padding: p.padding, groups: p.groups, bias });
    const y = conv2dTransposeTorch(x, kernel, { stride: p.stride, padding: p.padding, outputPadding: p.outputPadding });
    return bias ? tf.add(y, bias) : y;
  });
}

/**
 * BatchNorm in PyTorch's semantics. `training` normalises with batch statistics and updates the
 * running ones; `mode: 'batch-stats'` always normalises with batch statistics (as the reference
 * CIT extractor runs) but updates running statistics only in training. `activation: 'relu'`
 * applies a ReLU after it (fused into the BatchNorm on webgpu).
 */
export function applyBatchNorm(
  p: BatchNormParams,
  x: tf.Tensor,
  training: boolean,
  mode: BatchNormMode = 'auto',
  activation: 'linear' | 'relu' = 'linear',
): tf.Tensor {
  const useBatchStats = training || mode === 'batch-stats';
  const r = batchNormTorch(x, {
    activation,
    updateRunningStats: training,
    gamma: p.gamma.read() as tf.Tensor1D,
    beta: p.beta.read() as tf.Tensor1D,
    runningMean: p.runningMean.read() as tf.Tensor1D,
    runningVar: p.runningVar.read() as tf.Tensor1D,
    useBatchStats,
    epsilon: p.epsilon,
    momentum: p.momentum,
  });
  if (r.newRunningMean && r.newRunningVar) {
    if (training) {
      p.runningMean.write(r.newRunningMean);
      p.runningVar.write(r.newRunningVar);
    }
    r.newRunningMean.dispose();
    r.newRunningVar.dispose();
  }
  return r.y;
}

export function applyLinear(p: LinearParams, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    const y = tf.matMul(x, p.kernel.read() as tf.Tensor2D);
    return (p.bias ? tf.add(y, p.bias.read()) : y) as tf.Tensor2D;
  });
}

/** Whether a layer call is in training mode. */
export function isTraining(kwargs: Kwargs | undefined): boolean {
  return kwargs?.['training'] === true;
}
