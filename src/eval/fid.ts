import * as tf from '@tensorflow/tfjs-core';

/**
 * Fréchet distance between Gaussian fits of two feature sets (FID when the features come from an
 * Inception network; the feature network is yours). All arithmetic is float64 in plain
 * TypeScript, because TensorFlow.js has no float64 and FID is a small difference of large traces.
 */

/** Mean and covariance of a feature set. */
export interface FeatureStatistics {
  dim: number;
  count: number;
  mean: Float64Array;
  /** Row-major `dim×dim`, unbiased (divides by count − 1), as `numpy.cov`. */
  covariance: Float64Array;
}

/**
 * Accumulates feature statistics batch by batch (streaming; features are shifted by the first
 * row seen, which keeps the sums well conditioned).
 */
export class FeatureStatisticsAccumulator {
  private shift: Float64Array | undefined;
  private readonly sum: Float64Array;
  private readonly outer: Float64Array;
  private n = 0;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`FeatureStatisticsAccumulator: dim must be a positive integer, got ${dim}`);
    this.sum = new Float64Array(dim);
    this.outer = new Float64Array(dim * dim);
  }

  /** Adds rows of features: a `[N, dim]` tensor (read, not disposed) or row-major values. */
  async add(features: tf.Tensor | ArrayLike<number>): Promise<void> {
    if (features instanceof tf.Tensor) {
      if (features.rank !== 2 || features.shape[1] !== this.dim) {
        throw new Error(`Features must be [N, ${this.dim}]; got [${features.shape.join(', ')}]. Flatten or pool them first.`);
      }
      this.addRows(await features.data());
    } else {
      this.addRows(features);
    }
  }

  /** Adds row-major features synchronously. */
  addRows(values: ArrayLike<number>): void {
    const d = this.dim;
    if (values.length % d !== 0) throw new Error(`Got ${values.length} feature values, not a multiple of dim ${d}.`);
    const rows = values.length / d;
    if (rows === 0) return;
    this.shift ??= Float64Array.from({ length: d }, (_, i) => values[i]!);
    const x = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < d; i++) {
        const v = values[r * d + i]!;
        if (!Number.isFinite(v)) throw new Error(`Feature row ${this.n + r}, column ${i} is ${v}; features must be finite.`);
        x[i] = v - this.shift[i]!;
        this.sum[i]! += x[i]!;
      }
      for (let i = 0; i < d; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const row = i * d;
        for (let j = i; j < d; j++) this.outer[row + j]! += xi * x[j]!;
      }
    }
    this.n += rows;
  }

  /** Mean and unbiased covariance of everything added (needs at least two rows). */
  statistics(): FeatureStatistics {
    const d = this.dim;
    const n = this.n;
    if (n < 2) throw new Error(`Feature statistics need at least 2 feature rows; got ${n}.`);
    const mean = new Float64Array(d);
    for (let i = 0; i < d; i++) mean[i] = this.sum[i]! / n + this.shift![i]!;
    const covariance = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const c = (this.outer[i * d + j]! - (this.sum[i]! * this.sum[j]!) / n) / (n - 1);
        covariance[i * d + j] = c;
        covariance[j * d + i] = c;
      }
    }
    return { dim: d, count: n, mean, covariance };
  }
}

/** Mean and covariance of features given as a `[N, D]` tensor or as rows. */
export async function featureStatistics(features: tf.Tensor2D | ReadonlyArray<ArrayLike<number>>): Promise<FeatureStatistics> {
  if (features instanceof tf.Tensor) {
    const acc = new FeatureStatisticsAccumulator(features.shape[1]);
    await acc.add(features);
    return acc.statistics();
  }
  if (features.length === 0) throw new Error('featureStatistics: no feature rows given.');
  const acc = new FeatureStatisticsAccumulator(features[0]!.length);
  for (const row of features) {
    if (row.length !== acc.dim) throw new Error(`featureStatistics: rows have different lengths (${acc.dim} and ${row.length}).`);
    acc.addRows(row);
  }
  return acc.statistics();
}

/** Eigen-decomposition of a symmetric matrix: `A = V diag(values) Vᵀ` (eigenvectors are the columns of V). */
export interface SymmetricEigen {
  values: Float64Array;
  /** Row-major `n×n`; column k is the eigenvector of `values[k]` (absent when not requested). */
  vectors?: Float64Array;
}

/**
 * Eigenvalues (and optionally eigenvectors) of a symmetric `n×n` row-major matrix: Householder
 * reduction to tridiagonal form, then the implicit QL method with Wilkinson shifts. O(n³); the
 * input is not modified.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, withVectors = true): SymmetricEigen {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: expected ${n * n} values for ${n}×${n}, got ${matrix.length}.`);
  const a = Float64Array.from(matrix as ArrayLike<number>);
  // Symmetrise: rounding in the caller's products can leave tiny asymmetries.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  const q = withVectors ? identity(n) : undefined;
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  // Householder: zero column k below the sub-diagonal, for k = 0..n-3.
  for (let k = 0; k < n - 2; k++) {
    const m = n - k - 1;
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[(k + 1 + i) * n + k]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const x0 = a[(k + 1) * n + k]!;
    const alpha = x0 > 0 ? -norm : norm;
    for (let i = 0; i < m; i++) v[i] = a[(k + 1 + i) * n + k]!;
    v[0]! -= alpha;
    let vnorm = 0;
    for (let i = 0; i < m; i++) vnorm += v[i]! ** 2;
    vnorm = Math.sqrt(vnorm);
    if (vnorm === 0) continue;
    for (let i = 0; i < m; i++) v[i]! /= vnorm;
    // Trailing block B (rows/cols k+1..n-1): B ← H B H with H = I − 2vvᵀ, i.e. B − 2(vwᵀ + wvᵀ), w = Bv − (vᵀBv)v.
    let vbv = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const row = (k + 1 + i) * n + k + 1;
      for (let j = 0; j < m; j++) s += a[row + j]! * v[j]!;
      p[i] = s;
      vbv += v[i]! * s;
    }
    for (let i = 0; i < m; i++) p[i]! -= vbv * v[i]!;
    for (let i = 0; i < m; i++) {
      const row = (k + 1 + i) * n + k + 1;
      const vi = v[i]!;
      const pi = p[i]!;
      for (let j = 0; j < m; j++) a[row + j]! -= 2 * (vi * p[j]! + pi * v[j]!);
    }
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
    for (let i = 1; i < m; i++) {
      a[(k + 1 + i) * n + k] = 0;
      a[k * n + k + 1 + i] = 0;
    }
    if (q) {
      // Q ← Q H on columns k+1..n-1.
      for (let r = 0; r < n; r++) {
        const row = r * n + k + 1;
        let s = 0;
        for (let j = 0; j < m; j++) s += q[row + j]! * v[j]!;
        s *= 2;
        if (s === 0) continue;
        for (let j = 0; j < m; j++) q[row + j]! -= s * v[j]!;
      }
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i] couples i and i+1
  for (let i = 0; i < n; i++) d[i] = a[i * n + i]!;
  for (let i = 0; i < n - 1; i++) e[i] = a[(i + 1) * n + i]!;
  // QL rotates pairs of eigenvector columns: work on the transpose so each rotation touches
  // two contiguous rows (several times faster for large n).
  const qt = q ? transpose(q, n) : undefined;
  tridiagonalQL(d, e, qt, n);
  return qt ? { values: d, vectors: transpose(qt, n) } : { values: d };
}

function transpose(m: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j]!;
  return t;
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** Implicit QL with shifts on a symmetric tridiagonal matrix; rotations are applied to the rows of zt (eigenvectors as rows). */
function tridiagonalQL(d: Float64Array, e: Float64Array, zt: Float64Array | undefined, n: number): void {
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= eps * dd) break;
      }
      if (m === l) break;
      if (++iterations > 100) throw new Error('symmetricEigen: the QL iteration did not converge (is the matrix finite?).');
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let deflated = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1]! -= p;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt) {
          const ri = i * n;
          const rf = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const zf = zt[rf + k]!;
            const zi = zt[ri + k]!;
            zt[rf + k] = s * zi + c * zf;
            zt[ri + k] = c * zi - s * zf;
          }
        }
      }
      if (deflated) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** The symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues from rounding are clamped to 0). */
export function sqrtPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n, true);
  const vec = vectors!;
  const root = new Float64Array(n * n);
  const s = Array.from(values, (x) => Math.sqrt(Math.max(0, x)));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += vec[i * n + k]! * s[k]! * vec[j * n + k]!;
      root[i * n + j] = acc;
      root[j * n + i] = acc;
    }
  }
  return root;
}

/**
 * Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂):
 * `|μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½`.
 * The cross term is computed from the symmetric PSD matrix `Σ₁^½ Σ₂ Σ₁^½` (same eigenvalues as
 * `Σ₁Σ₂`), so it stays real and stable even for singular covariances (fewer samples than features).
 */
export function frechetDistance(a: FeatureStatistics, b: FeatureStatistics): number {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: feature sizes differ (${a.dim} and ${b.dim}); use one feature network for both sets.`);
  const n = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a.covariance[i * n + i]! + b.covariance[i * n + i]!;
  const root = sqrtPsd(a.covariance, n);
  // M = R Σ₂ R, with R symmetric.
  const t = matMul(root, b.covariance, n);
  const m = matMul(t, root, n);
  const { values } = symmetricEigen(m, n, false);
  let cross = 0;
  for (const x of values) cross += Math.sqrt(Math.max(0, x));
  return meanTerm + trace - 2 * cross;
}

function matMul(x: Float64Array, y: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const rowOut = i * n;
    for (let k = 0; k < n; k++) {
      const xik = x[i * n + k]!;
      if (xik === 0) continue;
      const rowY = k * n;
      for (let j = 0; j < n; j++) out[rowOut + j]! += xik * y[rowY + j]!;
    }
  }
  return out;
}

/**
 * FID between two image sets given a feature extractor (e.g. an Inception graph model you load:
 * `images => model.predict(images)` returning `[N, 2048]` pooled features). Batches are
 * tensors or arrays of tensors you own; features are disposed here.
 */
export async function frechetInceptionDistance(
  extract: (images: tf.Tensor4D) => tf.Tensor2D | Promise<tf.Tensor2D>,
  real: Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>,
  generated: Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>,
): Promise<number> {
  const stats = async (batches: Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>): Promise<FeatureStatistics> => {
    let acc: FeatureStatisticsAccumulator | undefined;
    for await (const images of batches) {
      const features = await extract(images);
      try {
        if (features.rank !== 2) throw new Error(`The feature extractor returned rank ${features.rank}; it must return [N, D] features.`);
        acc ??= new FeatureStatisticsAccumulator(features.shape[1]);
        await acc.add(features);
      } finally {
        features.dispose();
      }
    }
    if (!acc) throw new Error('frechetInceptionDistance: an image set is empty.');
    return acc.statistics();
  };
  return frechetDistance(await stats(real), await stats(generated));
}
