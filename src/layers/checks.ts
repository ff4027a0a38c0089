// The argument and input checks the layers and model builders share (internal): one message
// per kind of mistake, naming the layer (`owner`) and what it expected.
import type * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import type { BatchNormMode } from './torch_layer.js';

/** Throws unless `value` is an integer >= 1. */
export function checkPositiveInteger(owner: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${owner}: ${name} must be a positive integer, got ${String(value)}.`);
  }
}

/** {@link checkPositiveInteger} for each named value. */
export function checkPositiveIntegers(owner: string, values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) checkPositiveInteger(owner, name, value);
}

/** Throws unless `value` is one of `allowed`. */
export function checkOneOf<T extends string>(owner: string, name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new Error(`${owner}: ${name} must be one of ${allowed.join(', ')}, got '${String(value)}'.`);
  }
}

/** The BatchNorm statistics modes, see {@link BatchNormMode}. */
export const BATCH_NORM_MODES: readonly BatchNormMode[] = ['auto', 'batch-stats'];

/** Throws unless `mode` is a {@link BatchNormMode}. */
export function checkBatchNormMode(owner: string, mode: unknown): void {
  if (mode !== 'auto' && mode !== 'batch-stats') {
    throw new Error(`${owner}: batchNormMode must be 'auto' or 'batch-stats', got '${String(mode)}'.`);
  }
}

/** Throws unless `value` is true or false. */
export function checkBoolean(owner: string, name: string, value: unknown): void {
  if (typeof value !== 'boolean') {
    throw new Error(`${owner}: ${name} must be true or false, got ${JSON.stringify(value)}.`);
  }
}

/** The shape of a single-input layer's input: the shape itself, or the first of a list. */
export function singleShape(inputShape: Shape | Shape[]): Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
}

/** The tensor of a single-input layer's call: the tensor itself, or the first of a list. */
export function singleTensor<T extends tf.Tensor>(inputs: tf.Tensor | tf.Tensor[]): T {
  return (Array.isArray(inputs) ? inputs[0] : inputs) as T;
}

/**
 * The channel count of an NHWC shape; throws (naming `what`, e.g. `input`, `features`,
 * `images`) when the shape is not 4-D or its channel count is unknown.
 */
export function nhwcChannels(owner: string, shape: Shape, what = 'input'): number {
  const c = shape[shape.length - 1];
  if (shape.length !== 4 || c == null) {
    throw new Error(
      `${owner} expects NHWC ${what} [batch, height, width, channels] with a known channel ` +
        `count, got [${shape.join(', ')}].`,
    );
  }
  return c;
}

/** The width `d` of a tag-vector shape `[batch, d]`; throws when it is not one. */
export function tagWidth(owner: string, shape: Shape): number {
  const d = shape[1];
  if (shape.length !== 2 || d == null) {
    throw new Error(`${owner} expects the tag vector as [batch, d] with a known d, got [${shape.join(', ')}].`);
  }
  return d;
}

/** The shapes of a `[features, tag]` input pair, with a clear error otherwise. */
export function splitTwoInputs(owner: string, inputShape: Shape | Shape[]): [Shape, Shape] {
  if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
    throw new Error(
      `${owner} takes two inputs [features, tag]: the NHWC features and the tag vector ` +
        `[batch, d]; call it as layer.apply([x, tag]).`,
    );
  }
  return [inputShape[0] as Shape, inputShape[1] as Shape];
}

/** The `[features, tag]` tensors of a call, checked. */
export function twoTensors(owner: string, inputs: tf.Tensor | tf.Tensor[]): [tf.Tensor4D, tf.Tensor2D] {
  if (!Array.isArray(inputs) || inputs.length !== 2) {
    throw new Error(`${owner} takes two inputs [features, tag]; call it as layer.apply([x, tag]).`);
  }
  const [x, tag] = inputs;
  if (x!.rank !== 4 || tag!.rank !== 2 || x!.shape[0] !== tag!.shape[0]) {
    throw new Error(
      `${owner}: expected features [N, H, W, C] and tag [N, d] with the same N, got ` +
        `[${x!.shape.join(', ')}] and [${tag!.shape.join(', ')}].`,
    );
  }
  return [x as tf.Tensor4D, tag as tf.Tensor2D];
}

/** `[N, f(H), f(W), channels]` for an NHWC input shape; unknown sizes stay unknown. */
export function nhwcOutputShape(shape: Shape, size: (d: number) => number, channels: number | null): Shape {
  const f = (d: number | null) => (d == null ? null : size(d));
  return [shape[0]!, f(shape[1]!), f(shape[2]!), channels];
}

function onlyFeatures(owner: string, count: number): Error {
  return new Error(`${owner} takes only the features (it reads no tag), got ${count} inputs.`);
}

/** The input shapes of a layer that takes `[features, tag]` when `takesTag`, else the features alone. */
export function featureAndTagShapes(owner: string, takesTag: boolean, inputShape: Shape | Shape[]): [Shape, Shape | undefined] {
  if (takesTag) return splitTwoInputs(owner, inputShape);
  if (Array.isArray(inputShape[0]) && inputShape.length !== 1) throw onlyFeatures(owner, inputShape.length);
  return [singleShape(inputShape), undefined];
}

/** The call tensors of a layer that takes `[features, tag]` when `takesTag`, else the features alone. */
export function featureAndTagTensors(
  owner: string,
  takesTag: boolean,
  inputs: tf.Tensor | tf.Tensor[],
): [tf.Tensor4D, tf.Tensor2D | undefined] {
  if (takesTag) return twoTensors(owner, inputs);
  if (Array.isArray(inputs) && inputs.length !== 1) throw onlyFeatures(owner, inputs.length);
  return [singleTensor<tf.Tensor4D>(inputs), undefined];
}

/** Throws on a key of `config` that is not one of `known` (a typo would otherwise be ignored). */
export function checkKnownOptions(owner: string, config: object, known: readonly string[]): void {
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) {
      throw new Error(`${owner}: unknown option '${key}'; the options are ${known.join(', ')}.`);
    }
  }
}
