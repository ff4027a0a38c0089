import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

/** Deterministic pseudo-random numbers for tests (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A tensor of uniform values in [lo, hi) from a seed. */
export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = lo + (hi - lo) * r();
  return tf.tensor(values, shape);
}

export interface GradCheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Allowed error relative to the largest analytic gradient of the tensor. */
  rtol?: number;
  /** Elements sampled per tensor (the largest-gradient one is always included). */
  samples?: number;
  seed?: number;
}

function sampleIndices(grad: Float32Array, count: number, r: () => number): number[] {
  let maxIdx = 0;
  for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[maxIdx])) maxIdx = i;
  const picked = new Set<number>([maxIdx]);
  while (picked.size < Math.min(count, grad.length)) picked.add(Math.floor(r() * grad.length));
  return [...picked];
}

/** Loss values at x + eps, x and x - eps along one element. */
interface Probe {
  plus: number;
  base: number;
  minus: number;
}

async function compare(
  label: string,
  analytic: Float32Array,
  probeAt: (index: number) => Promise<Probe>,
  o: Required<GradCheckOptions>,
  r: () => number,
): Promise<number> {
  let scale = 0;
  for (const g of analytic) scale = Math.max(scale, Math.abs(g));
  expect(Number.isFinite(scale), `${label}: analytic gradient is not finite`).toBe(true);
  const tolerance = o.rtol * Math.max(scale, 1e-3);
  const indices = sampleIndices(analytic, o.samples, r);
  let smooth = 0;
  for (const i of indices) {
    const { plus, base, minus } = await probeAt(i);
    const forward = (plus - base) / o.eps;
    const backward = (base - minus) / o.eps;
    // A ReLU kink within ±eps makes the one-sided slopes disagree; central differences are
    // meaningless there, so such an element is set aside instead of compared.
    if (Math.abs(forward - backward) > tolerance) continue;
    smooth++;
    const num = (plus - minus) / (2 * o.eps);
    const err = Math.abs(num - analytic[i]);
    expect(
      err,
      `${label}[${i}]: analytic ${analytic[i]} vs numeric ${num} (scale ${scale})`,
    ).toBeLessThanOrEqual(tolerance);
  }
  expect(
    smooth,
    `${label}: only ${smooth} of ${indices.length} sampled elements are away from a kink; ` +
      `use a smaller eps or other inputs`,
  ).toBeGreaterThanOrEqual(Math.ceil(indices.length / 2));
  return smooth;
}

/**
 * Central-difference gradient check of `f` (any tensor-valued function) with respect to its
 * inputs and the given variables. The output is reduced to a scalar by a fixed random
 * projection, so every output element takes part. An element whose one-sided slopes disagree
 * (a ReLU kink within ±eps) is set aside; at least half the sampled elements of every tensor must
 * be smooth. Returns how many elements were compared. Reads values asynchronously only, so it
 * runs on every backend (webgpu in Node has no synchronous read).
 */
export async function checkGradients(
  f: (inputs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  inputs: tf.Tensor[],
  variables: LayerVariable[] = [],
  options: GradCheckOptions = {},
): Promise<number> {
  const o: Required<GradCheckOptions> = {
    eps: options.eps ?? 1e-2,
    rtol: options.rtol ?? 2e-2,
    samples: options.samples ?? 6,
    seed: options.seed ?? 7,
  };
  const r = rng(o.seed);
  const probe = tf.tidy(() => {
    const out = f(inputs);
    return (Array.isArray(out) ? out : [out]).map((t, k) => randomTensor(t.shape, 100 + k));
  });
  const loss = (xs: tf.Tensor[]): tf.Scalar =>
    tf.tidy(() => {
      const out = f(xs);
      const outs = Array.isArray(out) ? out : [out];
      return tf.addN(outs.map((t, k) => tf.sum(tf.mul(t, probe[k])))) as tf.Scalar;
    });
  const lossValue = async (xs: tf.Tensor[]): Promise<number> => {
    const l = loss(xs);
    const v = (await l.data())[0]!;
    l.dispose();
    return v;
  };
  let compared = 0;

  const inputGrads = tf.grads((...xs: tf.Tensor[]) => loss(xs))(inputs);
  for (const [k, x] of inputs.entries()) {
    const analytic = (await inputGrads[k].data()) as Float32Array;
    const base = ((await x.data()) as Float32Array).slice();
    const baseLoss = await lossValue(inputs);
    compared += await compare(`input ${k}`, analytic, async (i) => {
      const shifted = async (delta: number) => {
        const v = base.slice();
        v[i] += delta;
        const xi = tf.tensor(v, x.shape);
        const xs = inputs.map((t, j) => (j === k ? xi : t));
        const value = await lossValue(xs);
        xi.dispose();
        return value;
      };
      return { plus: await shifted(o.eps), base: baseLoss, minus: await shifted(-o.eps) };
    }, o, r);
  }
  tf.dispose(inputGrads);

  if (variables.length > 0) {
    const tfVars = variables.map((v) => v.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => loss(inputs), tfVars);
    for (const v of variables) {
      const name = (v.read() as tf.Variable).name;
      const analytic = (await grads[name].data()) as Float32Array;
      const base = ((await v.read().data()) as Float32Array).slice();
      const baseLoss = await lossValue(inputs);
      compared += await compare(`weight ${v.originalName}`, analytic, async (i) => {
        const shifted = async (delta: number) => {
          const vals = base.slice();
          vals[i] += delta;
          const t = tf.tensor(vals, v.shape as number[]);
          v.write(t);
          t.dispose();
          return lossValue(inputs);
        };
        const probe = { plus: await shifted(o.eps), base: baseLoss, minus: await shifted(-o.eps) };
        const restore = tf.tensor(base, v.shape as number[]);
        v.write(restore);
        restore.dispose();
        return probe;
      }, o, r);
    }
    tf.dispose(grads);
  }
  tf.dispose(probe);
  return compared;
}
