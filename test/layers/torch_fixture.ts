import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { exportTorchStateDict, loadTorchStateDict } from '../../src/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

/** A reference fixture split into its parameters (PyTorch layout) and NHWC inputs/outputs. */
export interface TorchFixture {
  /** State-dict entries: everything except `input.*`, `output.*`, `after.*`. */
  params: Record<string, tf.Tensor>;
  /** `input.*` / `output.*` / `after.*` without the prefix; 4-D tensors moved NCHW → NHWC. */
  inputs: Record<string, tf.Tensor>;
  outputs: Record<string, tf.Tensor>;
  after: Record<string, tf.Tensor>;
}

function nhwc(t: tf.Tensor): tf.Tensor {
  if (t.rank !== 4) return t;
  const moved = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return moved;
}

/** Reads `test/fixtures/<name>.safetensors`. */
export function loadFixture(name: string): TorchFixture {
  const bytes = new Uint8Array(readFileSync(new URL(`../fixtures/${name}.safetensors`, import.meta.url)));
  const all = readSafetensors(bytes);
  const f: TorchFixture = { params: {}, inputs: {}, outputs: {}, after: {} };
  for (const [k, t] of Object.entries(all)) {
    const dot = k.indexOf('.');
    const head = k.slice(0, dot);
    const rest = k.slice(dot + 1);
    if (head === 'input') f.inputs[rest] = nhwc(t);
    else if (head === 'output') f.outputs[rest] = nhwc(t);
    else if (head === 'after') f.after[rest] = t;
    else f.params[k] = t;
  }
  return f;
}

/** Every tensor of a fixture. */
export function disposeFixture(f: TorchFixture): void {
  tf.dispose([f.params, f.inputs, f.outputs, f.after].flatMap((r) => Object.values(r)));
}

/**
 * Replaces every weight of a layer or model with seeded random values (PyTorch layout, through
 * loadTorchStateDict): uniform ±1/√fan-in for conv/linear weights and biases, BatchNorm
 * weight in [0.5, 1.5], bias and running mean in ±0.2, running var in [0.5, 1.5]. Makes
 * gradient checks reproducible (tfjs initialisers are not seeded).
 */
export function seedWeights(target: Parameters<typeof exportTorchStateDict>[0], seed: number): void {
  const sd = exportTorchStateDict(target);
  const fresh: Record<string, tf.Tensor> = {};
  Object.entries(sd).forEach(([k, t], i) => {
    const s = seed * 1000 + i;
    const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
    if (k.endsWith('num_batches_tracked')) fresh[k] = tf.scalar(0, 'int32');
    else if (/bn\d\.weight$|downsample\.1\.weight$/.test(k)) fresh[k] = randomTensor(t.shape, s, 0.5, 1.5);
    else if (k.endsWith('running_var')) fresh[k] = randomTensor(t.shape, s, 0.5, 1.5);
    else if (/bn\d\.bias$|downsample\.1\.bias$|running_mean$/.test(k)) fresh[k] = randomTensor(t.shape, s, -0.2, 0.2);
    else if (t.rank >= 2) fresh[k] = randomTensor(t.shape, s, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    else fresh[k] = randomTensor(t.shape, s, -0.3, 0.3);
  });
  loadTorchStateDict(target, fresh);
  tf.dispose([...Object.values(sd), ...Object.values(fresh)]);
}
