import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable, LayersModel } from '@tensorflow/tfjs-layers';
import type { layers } from '@tensorflow/tfjs-layers';
import { WeightsError, quoteValue, shownName } from '../errors.js';
import { isTorchMapped, type TorchLayout } from '../layers/torch_layer.js';

type Layer = layers.Layer;

/** Options of {@link loadTorchStateDict}. */
export interface LoadTorchStateDictOptions {
  /**
   * Require an exact match (default true): one error lists every missing key, every unused key
   * and every shape mismatch. With `false`, matching keys are loaded, the rest is reported in
   * the returned {@link TorchLoadReport}; shape mismatches are still an error.
   */
  strict?: boolean;
  /**
   * Only keys starting with this prefix are considered, with the prefix removed (e.g.
   * `'generator.'`); other keys are reported as `skipped`. A missing trailing dot is added.
   */
  prefix?: string;
  /** Keys for which this returns true are skipped (e.g. a fixture's `input.*` entries). */
  ignore?: (key: string) => boolean;
}

/** What {@link loadTorchStateDict} did, by PyTorch key. */
export interface TorchLoadReport {
  /** Keys whose tensors were written into weights (model-side names). */
  loaded: string[];
  /** Model weights with no key in the state dict (left unchanged; only when not strict). */
  missing: string[];
  /** State-dict keys nothing in the model claims (only when not strict). */
  unused: string[];
  /** Keys accepted without a weight, such as BatchNorm's `num_batches_tracked`. */
  ignored: string[];
  /** Keys outside `prefix` or matched by `ignore`, as given. */
  skipped: string[];
}

/** One weight the state dict can fill: its full key (relative to the target) and layout. */
interface TargetParam {
  key: string;
  variable: LayerVariable;
  layout: TorchLayout;
  owner: string;
}

interface Targets {
  params: TargetParam[];
  ignored: string[];
  /** Layers with weights that no mapping covers. */
  unmapped: string[];
}

function isModel(x: unknown): x is LayersModel {
  return (
    typeof x === 'object' &&
    x !== null &&
    Array.isArray((x as LayersModel).layers) &&
    typeof (x as LayersModel).predict === 'function'
  );
}

/** The PyTorch weights of tfjs built-in layers, by the layer's class and weight name. */
const BUILTIN_WEIGHTS: Record<string, Record<string, [string, TorchLayout]>> = {
  Dense: { kernel: ['weight', 'linear'], bias: ['bias', 'vector'] },
  Conv2D: { kernel: ['weight', 'conv'], bias: ['bias', 'vector'] },
  Conv2DTranspose: { kernel: ['weight', 'conv'], bias: ['bias', 'vector'] },
  BatchNormalization: {
    gamma: ['weight', 'vector'],
    beta: ['bias', 'vector'],
    moving_mean: ['running_mean', 'vector'],
    moving_variance: ['running_var', 'vector'],
  },
};

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** A layer's PyTorch module path in a model: its `torchKeyPrefix` when it sets one, else its name. */
function keyPrefixOf(layer: Layer): string {
  const own = (layer as { torchKeyPrefix?: unknown }).torchKeyPrefix;
  return typeof own === 'string' ? own : layer.name;
}

function collectLayer(layer: Layer, prefix: string, out: Targets): void {
  if (isModel(layer)) {
    for (const sub of layer.layers) collectLayer(sub, join(prefix, keyPrefixOf(sub)), out);
    return;
  }
  if (isTorchMapped(layer)) {
    for (const p of layer.torchParams()) {
      out.params.push({ key: join(prefix, p.key), variable: p.variable, layout: p.layout, owner: layer.name });
    }
    for (const k of layer.torchIgnoredKeys()) out.ignored.push(join(prefix, k));
    return;
  }
  if (layer.weights.length === 0) return;
  const table = BUILTIN_WEIGHTS[layer.getClassName()];
  if (!table) {
    out.unmapped.push(`${layer.name} (${layer.getClassName()})`);
    return;
  }
  for (const variable of layer.weights) {
    const short = variable.originalName.split('/').pop()!;
    const entry = table[short];
    if (!entry) {
      out.unmapped.push(`${layer.name}/${short} (${layer.getClassName()})`);
      continue;
    }
    out.params.push({ key: join(prefix, entry[0]), variable, layout: entry[1], owner: layer.name });
  }
  if (layer.getClassName() === 'BatchNormalization') out.ignored.push(join(prefix, 'num_batches_tracked'));
}

/**
 * Every PyTorch-keyed weight of a layer or model. A layer's own keys are relative to it; in a
 * model each layer owns the keys under `layer.name + '.'` (nested models add their name too).
 */
function collectTargets(target: Layer | LayersModel): Targets {
  const out: Targets = { params: [], ignored: [], unmapped: [] };
  if (isModel(target)) {
    for (const layer of target.layers) collectLayer(layer, keyPrefixOf(layer), out);
  } else {
    collectLayer(target, '', out);
  }
  const seen = new Map<string, string>();
  for (const p of out.params) {
    const other = seen.get(p.key);
    if (other !== undefined) {
      throw new WeightsError(
        `loadTorchStateDict: layers '${other}' and '${p.owner}' both claim the key '${p.key}'; ` +
          `give layers distinct names (their PyTorch module paths).`,
      );
    }
    seen.set(p.key, p.owner);
  }
  return out;
}

/** The PyTorch shape of a weight of the given TensorFlow.js shape. */
export function torchShapeOf(tfShape: readonly number[], layout: TorchLayout): number[] {
  switch (layout) {
    case 'conv':
      return [tfShape[3], tfShape[2], tfShape[0], tfShape[1]];
    case 'linear':
      return [tfShape[1], tfShape[0]];
    case 'conv1x1AsLinear':
      return [tfShape[1], tfShape[0], 1, 1];
    case 'vector':
      return tfShape.slice();
  }
}

/** Converts a PyTorch-layout tensor to the TensorFlow.js layout (a new float32 tensor). */
export function torchToTfLayout(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  return tf.tidy(() => {
    const x = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
    switch (layout) {
      case 'conv':
        return tf.transpose(x, [2, 3, 1, 0]);
      case 'linear':
        return tf.transpose(x);
      case 'conv1x1AsLinear':
        return tf.transpose(tf.reshape(x, [x.shape[0], x.shape[1] ?? 1]));
      case 'vector':
        return tf.clone(x);
    }
  });
}

/** Converts a TensorFlow.js weight to PyTorch's layout (a new tensor). */
export function tfToTorchLayout(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  return tf.tidy(() => {
    switch (layout) {
      case 'conv':
        return tf.transpose(t, [3, 2, 0, 1]);
      case 'linear':
        return tf.transpose(t);
      case 'conv1x1AsLinear':
        return tf.reshape(tf.transpose(t), torchShapeOf(t.shape, layout));
      case 'vector':
        return tf.clone(t);
    }
  });
}

const DATA_PARALLEL_PREFIX = 'module.';

/** The first `max` items, one per line (or joined by `separator`), then how many more there are. */
function listSome(items: readonly string[], max = 20, separator = '\n    '): string {
  const shown = items.slice(0, max).join(separator);
  return items.length > max ? `${shown}${separator}… and ${items.length - max} more` : shown;
}

/** The values of `t` when the active backend still holds them on the host (no device read). */
function hostValues(t: tf.Tensor): ArrayLike<number> | undefined {
  const backend = tf.backend() as unknown as { tensorMap?: { get(dataId: object): { values?: unknown } | undefined } };
  const values = backend.tensorMap?.get(t.dataId)?.values;
  return ArrayBuffer.isView(values) ? (values as unknown as ArrayLike<number>) : undefined;
}

/**
 * Sources of the tensors that hold a NaN or an infinity (one device read for all of them). On
 * webgpu the values still on the host are checked there instead: a file's tensors are, until
 * first used. A synchronous read from the GPU is impossible in Node (tfjs-backend-webgpu reads
 * through an OffscreenCanvas, which Node lacks) and wrong in Chromium on SwiftShader (every flag
 * of a valid file read as 0). Tensors already on the GPU were computed in this process rather
 * than read from a file, and are not checked there.
 */
function nonFiniteKeys(entries: ReadonlyArray<{ source: string; tensor: tf.Tensor }>): string[] {
  if (entries.length === 0) return [];
  if (tf.getBackend() === 'webgpu') {
    const notFinite = (values: ArrayLike<number> | undefined) => values !== undefined && !Array.prototype.every.call(values, Number.isFinite);
    return entries.filter(({ tensor }) => notFinite(hostValues(tensor))).map((e) => e.source);
  }
  const finite = tf.tidy(() => tf.stack(entries.map(({ tensor }) => tf.cast(tf.all(tf.isFinite(tensor)), 'int32'))));
  const flags = finite.dataSync();
  finite.dispose();
  return entries.filter((_, i) => flags[i] === 0).map((e) => e.source);
}

/** The problem line for weights of an integer or bool type (`'<name> is int32'` each). */
function integerWeightsProblem(wrongType: readonly string[]): string {
  return (
    `${wrongType.length} weight(s) of an integer or bool type (a weight must be floating point: F32, F16 or BF16 ` +
    `in a file):\n    ${listSome(wrongType)}`
  );
}

/**
 * Refuses weights of an integer or bool type (an `I32` entry would load as values near 10⁹) and
 * weights that hold a NaN or an infinity, naming them: a {@link WeightsError} whose message starts
 * with `who`. For loaders that write weights without {@link loadTorchStateDict} (a training
 * checkpoint's, in the model's own layouts).
 */
export function checkWeightValues(entries: ReadonlyArray<{ source: string; tensor: tf.Tensor }>, who: string): void {
  const wrongType = entries.filter((e) => e.tensor.dtype !== 'float32').map((e) => `${shownName(e.source)} is ${e.tensor.dtype}`);
  if (wrongType.length > 0) throw new WeightsError(`${who}: ${integerWeightsProblem(wrongType)}`);
  checkFiniteWeights(entries, who);
}

/**
 * Refuses weights that hold a NaN or an infinity, naming them (one device read for all): a
 * {@link WeightsError} whose message starts with `who`. Every loader checks with this before it
 * writes a weight into a model.
 */
export function checkFiniteWeights(entries: ReadonlyArray<{ source: string; tensor: tf.Tensor }>, who: string): void {
  const notFinite = nonFiniteKeys(entries);
  if (notFinite.length > 0) {
    throw new WeightsError(
      `${who}: ${notFinite.length} weight tensor(s) hold NaN or infinite values (${listSome(notFinite.map((k) => shownName(k)), 5, ', ')}); ` +
        `the weights are corrupt or come from a diverged training run. Nothing was loaded.`,
    );
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Loads a PyTorch state dict (tensors keyed as in PyTorch, e.g. from {@link readSafetensors})
 * into a {@link TorchLayer} or a `tf.LayersModel`, converting layouts (Conv2d / ConvTranspose2d
 * OIHW → HWIO, Linear `[out, in]` → `[in, out]`, 1×1 convs used as Linear, vectors as is).
 *
 * - For a layer, keys are relative to it (`conv1.weight`).
 * - For a model, each layer owns the keys under its name (a layer named `deconv1` takes
 *   `deconv1.secat_layer.0.conv1.weight`), or under its `torchKeyPrefix` when it defines one
 *   (`''` for weights at the top level of the PyTorch module). Our layers map through their `torchParams()`; tfjs
 *   `Dense`, `Conv2D`, `Conv2DTranspose` and `BatchNormalization` layers are mapped as
 *   `weight`/`bias` (and `running_mean`/`running_var`) for convenience.
 * - A leading `module.` (DataParallel) is stripped when the model has no such key.
 * - `num_batches_tracked` and other keys the layers declare as ignored are accepted.
 *
 * Nothing is written unless every check passes. The state dict's tensors are not disposed.
 */
export function loadTorchStateDict(
  target: Layer | LayersModel,
  tensors: Record<string, tf.Tensor>,
  options: LoadTorchStateDictOptions = {},
): TorchLoadReport {
  const strict = options.strict ?? true;
  let prefix = options.prefix ?? '';
  if (prefix !== '' && !prefix.endsWith('.')) prefix += '.';
  const targets = collectTargets(target);
  const byKey = new Map(targets.params.map((p) => [p.key, p]));
  const ignoredKeys = new Set(targets.ignored);
  const modelUsesModule = [...byKey.keys(), ...ignoredKeys].some((k) => k.startsWith(DATA_PARALLEL_PREFIX));

  const report: TorchLoadReport = { loaded: [], missing: [], unused: [], ignored: [], skipped: [] };
  const matched = new Map<string, { source: string; tensor: tf.Tensor }>();
  const mismatches: string[] = [];
  const wrongType: string[] = [];
  for (const [source, tensor] of Object.entries(tensors)) {
    let key = source;
    if (options.ignore?.(key)) {
      report.skipped.push(source);
      continue;
    }
    if (!modelUsesModule && key.startsWith(DATA_PARALLEL_PREFIX)) key = key.slice(DATA_PARALLEL_PREFIX.length);
    if (prefix !== '') {
      if (!key.startsWith(prefix)) {
        report.skipped.push(source);
        continue;
      }
      key = key.slice(prefix.length);
    }
    const param = byKey.get(key);
    if (param) {
      if (matched.has(key)) {
        throw new WeightsError(
          `loadTorchStateDict: keys ${quoteValue(matched.get(key)!.source)} and ${quoteValue(source)} both map to ` +
            `'${key}'; remove one of them.`,
        );
      }
      const expected = torchShapeOf(param.variable.shape as number[], param.layout);
      if (tensor.dtype !== 'float32') {
        wrongType.push(`${shownName(source)} is ${tensor.dtype}`);
      } else if (!sameShape(expected, tensor.shape)) {
        mismatches.push(
          `${shownName(source)}: the model expects [${expected.join(', ')}] (PyTorch layout), ` +
            `the state dict has [${tensor.shape.join(', ')}]`,
        );
      }
      matched.set(key, { source, tensor });
    } else if (ignoredKeys.has(key)) {
      report.ignored.push(source);
    } else {
      report.unused.push(source);
    }
  }
  for (const p of targets.params) if (!matched.has(p.key)) report.missing.push(p.key);

  const problems: string[] = [];
  if (wrongType.length > 0) {
    problems.push(integerWeightsProblem(wrongType));
  }
  if (mismatches.length > 0) {
    problems.push(`${mismatches.length} shape mismatch(es):\n    ${listSome(mismatches)}`);
  }
  if (strict) {
    if (report.missing.length > 0) {
      problems.push(
        `${report.missing.length} missing key(s) (the model has these weights, the state dict ` +
          `does not):\n    ${listSome(report.missing)}`,
      );
    }
    if (report.unused.length > 0) {
      problems.push(
        `${report.unused.length} unused key(s) (in the state dict, not in the model):\n    ` +
          listSome(report.unused.map((k) => shownName(k))),
      );
    }
    if (targets.unmapped.length > 0) {
      problems.push(
        `${targets.unmapped.length} layer weight(s) with no PyTorch mapping (name the layer by ` +
          `its PyTorch module path and use a tag2pix layer, Dense, Conv2D or BatchNormalization):` +
          `\n    ${listSome(targets.unmapped)}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new WeightsError(
      `loadTorchStateDict: the state dict does not fit the ${strict ? 'model (strict)' : 'model'}:\n  ` +
        problems.join('\n  ') +
        `\n  Keys after stripping ${prefix ? `the prefix '${prefix}' and ` : ''}any 'module.' ` +
        `are compared to the layers' names + PyTorch keys. Pass {strict: false} to load only the ` +
        `matching keys, {prefix} to select a sub-dict, or {ignore} to skip keys.`,
    );
  }
  checkFiniteWeights([...matched.values()], 'loadTorchStateDict');

  // Everything checks out: convert, then write.
  const converted: Array<[TargetParam, tf.Tensor]> = [];
  try {
    for (const [key, { tensor }] of matched) {
      const param = byKey.get(key)!;
      converted.push([param, torchToTfLayout(tensor, param.layout)]);
    }
    for (const [param, value] of converted) {
      param.variable.write(value);
      report.loaded.push(param.key);
    }
  } finally {
    tf.dispose(converted.map(([, t]) => t));
  }
  return report;
}

/**
 * The PyTorch keys a layer or model takes, each with the shape (PyTorch layout) that
 * {@link loadTorchStateDict} checks, and the keys it accepts without a weight (BatchNorm's
 * `num_batches_tracked`), read off the model without touching a weight's values. Internal: for
 * listing every mismatch of a file before any tensor is made.
 */
export function torchKeyShapes(target: Layer | LayersModel): { shapes: Map<string, number[]>; optional: Set<string> } {
  const targets = collectTargets(target);
  const shapes = new Map(targets.params.map((p) => [p.key, torchShapeOf(p.variable.shape as number[], p.layout)]));
  return { shapes, optional: new Set(targets.ignored) };
}

/** Options of {@link exportTorchStateDict}. */
export interface ExportTorchStateDictOptions {
  /** Prepended to every key, e.g. `'module.'` for a DataParallel-style checkpoint. */
  prefix?: string;
}

/**
 * The weights of a {@link TorchLayer} or model as a PyTorch state dict: same keys as
 * {@link loadTorchStateDict} reads, PyTorch layouts, and BatchNorm's `num_batches_tracked` as
 * an int32 0-d tensor of 0 (written as I64 by {@link writeSafetensors}), so
 * `writeSafetensors(exportTorchStateDict(m))` loads into the PyTorch module with
 * `load_state_dict`. The caller owns the returned tensors.
 */
export function exportTorchStateDict(
  target: Layer | LayersModel,
  options: ExportTorchStateDictOptions = {},
): Record<string, tf.Tensor> {
  const targets = collectTargets(target);
  const prefix = options.prefix ?? '';
  const keys: string[] = targets.params.map((p) => p.key);
  // Put each num_batches_tracked right after its module's other entries, as PyTorch orders them.
  for (const ignored of targets.ignored) {
    if (!ignored.endsWith('num_batches_tracked')) continue;
    const module = ignored.slice(0, ignored.lastIndexOf('.') + 1);
    let at = keys.length;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (keys[i].startsWith(module) && keys[i].slice(module.length).indexOf('.') === -1) {
        at = i + 1;
        break;
      }
    }
    keys.splice(at, 0, ignored);
  }
  const byKey = new Map(targets.params.map((p) => [p.key, p]));
  const out: Record<string, tf.Tensor> = {};
  for (const key of keys) {
    const p = byKey.get(key);
    out[prefix + key] = p ? tfToTorchLayout(p.variable.read(), p.layout) : tf.scalar(0, 'int32');
  }
  return out;
}
