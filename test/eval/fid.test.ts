import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FeatureStatisticsAccumulator, featureStatistics, frechetDistance, frechetInceptionDistance, type FeatureStatistics } from '../../src/eval/index.js';
import { sqrtPsd, symmetricEigen } from '../../src/eval/fid.js';
import { rng } from '../helpers/gradcheck.js';

function randomMatrix(n: number, m: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n * m }, () => r() * 2 - 1);
}

function mul(a: Float64Array, b: Float64Array, n: number, transposeB = false): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * (transposeB ? b[j * n + k]! : b[k * n + j]!);
      out[i * n + j] = s;
    }
  return out;
}

/** A random orthogonal matrix (eigenvectors of a random symmetric matrix). */
function randomRotation(n: number, seed: number): Float64Array {
  const a = randomMatrix(n, n, seed);
  return symmetricEigen(mul(a, a, n, true), n).vectors!;
}

/** Q diag(d) Qᵀ. */
function withEigen(q: Float64Array, d: number[]): Float64Array {
  const n = d.length;
  const qd = Float64Array.from(q, (v, i) => v * d[i % n]!);
  return mul(qd, q, n, true);
}

const stats = (mean: number[], covariance: Float64Array): FeatureStatistics => ({
  dim: mean.length,
  count: 1000,
  mean: Float64Array.from(mean),
  covariance,
});

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('symmetricEigen', () => {
  it('decomposes random symmetric matrices: A V = V Λ, Vᵀ V = I', () => {
    for (const n of [1, 2, 3, 7, 24]) {
      const b = randomMatrix(n, n, n);
      const a = Float64Array.from(b, (_, idx) => b[idx]! + b[(idx % n) * n + Math.floor(idx / n)]!);
      const { values, vectors } = symmetricEigen(a, n);
      const v = vectors!;
      const av = mul(a, v, n);
      const vl = Float64Array.from(v, (x, idx) => x * values[idx % n]!);
      expect(maxAbs(av, vl)).toBeLessThan(1e-10);
      const vtv = mul(Float64Array.from({ length: n * n }, (_, idx) => v[(idx % n) * n + Math.floor(idx / n)]!), v, n);
      const eye = Float64Array.from({ length: n * n }, (_, idx) => (idx % (n + 1) === 0 ? 1 : 0));
      expect(maxAbs(vtv, eye)).toBeLessThan(1e-12);
      let trace = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i]!;
      expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(trace, 10);
    }
  });

  it('handles already diagonal and repeated eigenvalues', () => {
    const { values } = symmetricEigen([2, 0, 0, 0, 2, 0, 0, 0, 5], 3, false);
    expect(Array.from(values).sort()).toEqual([2, 2, 5]);
  });

  it('gives a square root whose square is the matrix', () => {
    const n = 12;
    const b = randomMatrix(n, n, 3);
    const a = mul(b, b, n, true); // PSD
    const r = sqrtPsd(a, n);
    expect(maxAbs(mul(r, r, n), a)).toBeLessThan(1e-10);
  });
});

describe('frechetDistance', () => {
  it('is 0 between identical Gaussians, also singular ones', () => {
    const q = randomRotation(10, 7);
    const cov = withEigen(q, [3, 2, 1, 0.5, 0.1, 0, 0, 0, 0, 0]);
    // Zero eigenvalues come back as ±1e-16 and their square roots as 1e-8: the error floor of any sqrtm.
    expect(Math.abs(frechetDistance(stats(new Array(10).fill(1), cov), stats(new Array(10).fill(1), cov)))).toBeLessThan(1e-6);
    const full = withEigen(q, [3, 2, 1, 0.5, 0.1, 0.4, 0.3, 0.2, 1.5, 2.5]);
    expect(Math.abs(frechetDistance(stats(new Array(10).fill(1), full), stats(new Array(10).fill(1), full)))).toBeLessThan(1e-10);
  });

  it('matches the closed form for covariances that share eigenvectors: |Δμ|² + Σ(√a − √b)²', () => {
    const n = 32;
    const q = randomRotation(n, 11);
    const r = rng(5);
    const da = Array.from({ length: n }, () => r() * 4);
    const db = Array.from({ length: n }, () => r() * 4);
    const ma = Array.from({ length: n }, () => r());
    const mb = Array.from({ length: n }, () => r());
    let expected = 0;
    for (let i = 0; i < n; i++) expected += (ma[i]! - mb[i]!) ** 2 + (Math.sqrt(da[i]!) - Math.sqrt(db[i]!)) ** 2;
    const got = frechetDistance(stats(ma, withEigen(q, da)), stats(mb, withEigen(q, db)));
    expect(got).toBeCloseTo(expected, 9);
  });

  it('matches the closed form for non-commuting 2×2 covariances: tr√(Σ₁Σ₂) = √(tr Σ₁Σ₂ + 2√det Σ₁Σ₂)', () => {
    const s1 = Float64Array.from([2, 0.7, 0.7, 1]);
    const s2 = Float64Array.from([0.5, -0.3, -0.3, 3]);
    const p = mul(s1, s2, 2);
    const cross = Math.sqrt(p[0]! + p[3]! + 2 * Math.sqrt(p[0]! * p[3]! - p[1]! * p[2]!));
    const expected = 1 ** 2 + 2 ** 2 + (2 + 1) + (0.5 + 3) - 2 * cross;
    expect(frechetDistance(stats([0, 0], s1), stats([1, 2], s2))).toBeCloseTo(expected, 12);
  });

  it('matches the closed form for Σ₂ = cΣ₁: |Δμ|² + (1 − √c)² tr Σ₁', () => {
    const n = 20;
    const b = randomMatrix(n, n, 9);
    const s1 = mul(b, b, n, true);
    const s2 = Float64Array.from(s1, (v) => 2.25 * v);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += s1[i * n + i]!;
    const got = frechetDistance(stats(new Array(n).fill(0), s1), stats(new Array(n).fill(0.5), s2));
    expect(got).toBeCloseTo(n * 0.25 + (1 - 1.5) ** 2 * trace, 8);
  });

  it('estimated from samples of two Gaussians, approaches the closed form', async () => {
    // x = A z + μ with z standard normal: covariance A Aᵀ.
    const n = 3;
    const r = rng(17);
    const normal = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const draw = (a: number[], mu: number[], count: number): number[][] =>
      Array.from({ length: count }, () => {
        const z = [normal(), normal(), normal()];
        return [0, 1, 2].map((i) => mu[i]! + a[i * 3]! * z[0]! + a[i * 3 + 1]! * z[1]! + a[i * 3 + 2]! * z[2]!);
      });
    const a1 = [1, 0, 0, 0.5, 1, 0, 0, 0.2, 0.5];
    const a2 = [2, 0, 0, 0, 1, 0, 0, 0, 1];
    const exact = frechetDistance(
      stats([0, 0, 0], mul(Float64Array.from(a1), Float64Array.from(a1), n, true)),
      stats([1, 0, 0], mul(Float64Array.from(a2), Float64Array.from(a2), n, true)),
    );
    const sampled = frechetDistance(await featureStatistics(draw(a1, [0, 0, 0], 40000)), await featureStatistics(draw(a2, [1, 0, 0], 40000)));
    expect(Math.abs(sampled - exact)).toBeLessThan(0.05 * exact);
  });

  it('refuses statistics of different sizes', () => {
    expect(() => frechetDistance(stats([0], new Float64Array([1])), stats([0, 0], new Float64Array(4)))).toThrow(/feature sizes differ/);
  });
});

describe('feature statistics', () => {
  it('stream to the same mean and unbiased covariance as a direct two-pass computation', async () => {
    const rows = 50;
    const d = 4;
    const data = Float64Array.from(randomMatrix(rows, d, 2), (v) => 1000 + v); // large offset: tests conditioning
    const acc = new FeatureStatisticsAccumulator(d);
    acc.addRows(data.subarray(0, 17 * d));
    acc.addRows(data.subarray(17 * d, rows * d));
    const s = acc.statistics();
    const mean = Array.from({ length: d }, (_, j) => Array.from({ length: rows }, (_, i) => data[i * d + j]!).reduce((a, b) => a + b) / rows);
    expect(maxAbs(s.mean, mean)).toBeLessThan(1e-9);
    for (let j = 0; j < d; j++)
      for (let k = 0; k < d; k++) {
        let c = 0;
        for (let i = 0; i < rows; i++) c += (data[i * d + j]! - mean[j]!) * (data[i * d + k]! - mean[k]!);
        expect(s.covariance[j * d + k]).toBeCloseTo(c / (rows - 1), 9);
      }
    expect(s.count).toBe(rows);
  });

  it('rejects too few rows, wrong widths and non-finite values', async () => {
    const acc = new FeatureStatisticsAccumulator(2);
    acc.addRows([1, 2]);
    expect(() => acc.statistics()).toThrow(/at least 2/);
    expect(() => acc.addRows([1, 2, 3])).toThrow(/multiple of dim 2/);
    expect(() => acc.addRows([1, NaN])).toThrow(/finite/);
    const t = tf.zeros([3, 5]);
    await expect(acc.add(t)).rejects.toThrow(/\[N, 2\]/);
    t.dispose();
  });

  it('computes FID end to end from an extractor, disposing the features', async () => {
    const r = rng(4);
    const batch = (offset: number): tf.Tensor4D => tf.tensor4d(Array.from({ length: 16 * 2 * 2 * 1 }, () => r() + offset), [16, 2, 2, 1]);
    const real = [batch(0), batch(0)];
    const fake = [batch(0.5), batch(0.5)];
    const before = tf.memory().numTensors;
    const flatten = (x: tf.Tensor4D): tf.Tensor2D => tf.reshape(x, [x.shape[0], 4]) as tf.Tensor2D;
    const fid = await frechetInceptionDistance(flatten, real, fake);
    expect(tf.memory().numTensors).toBe(before);
    // The two sets differ by a 0.5 shift in each of 4 features: the mean term alone is about 1.
    expect(fid).toBeGreaterThan(0.7);
    expect(fid).toBeLessThan(1.6);
    const same = await frechetInceptionDistance(flatten, real, real);
    expect(Math.abs(same)).toBeLessThan(1e-9);
    tf.dispose([...real, ...fake]);
  });
});
