import { type Raster8, checkRaster, rgbToGrey } from './raster.js';

/**
 * Parameters of the eXtended Difference of Gaussians (Winnemöller et al. 2012) as the Tag2Pix
 * preprocessing uses it. The defaults are the published ones.
 */
export interface XDoGParams {
  /** Standard deviation of the narrow Gaussian, pixels (default 0.4). */
  sigma?: number;
  /** The wide Gaussian has standard deviation `k·sigma` (default 2.5). */
  k?: number;
  /** Weight of the wide Gaussian (default 0.95). */
  gamma?: number;
  /** Threshold on the difference (default -0.5). */
  epsilon?: number;
  /** Steepness of the tanh soft threshold (default 1e9, i.e. a hard step). */
  phi?: number;
}

/** The published XDoG parameters. */
export const XDOG_DEFAULTS: Readonly<Required<XDoGParams>> = Object.freeze({
  sigma: 0.4,
  k: 2.5,
  gamma: 0.95,
  epsilon: -0.5,
  phi: 1e9,
});

/** OpenCV's rounding (`cvRound`): to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Kernel width OpenCV picks for an 8-bit image when given only sigma: `round(6σ + 1)`, made odd. */
export function gaussianKernelSize(sigma: number): number {
  return roundHalfEven(sigma * 3 * 2 + 1) | 1;
}

/** Normalised 1-D Gaussian weights `exp(-x²/2σ²)` at `x = i - (size-1)/2` (OpenCV's formula for σ > 0). */
export function gaussianKernel(size: number, sigma: number): Float64Array {
  if (!(Number.isInteger(size) && size > 0 && size % 2 === 1)) {
    throw new Error(`Gaussian kernel size must be a positive odd integer, got ${size}.`);
  }
  if (!(sigma > 0)) throw new Error(`Gaussian sigma must be positive, got ${sigma}.`);
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - (size - 1) / 2;
    k[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i]! /= sum;
  return k;
}

/** Index into `0..n-1` with OpenCV's default border, BORDER_REFLECT_101 (`dcb|abcd|cba`). */
export function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/**
 * Gaussian blur of a grey 8-bit image as `cv2.GaussianBlur` computes it: separable kernel of the
 * given size (default from sigma), reflect-101 border, result rounded to 8 bits. OpenCV's 8-bit
 * path uses fixed-point arithmetic, so an output can differ from it by one level where the exact
 * value is within rounding error of a half.
 */
export function gaussianBlurGrey(image: Raster8, sigma: number, size = gaussianKernelSize(sigma)): Raster8 {
  checkRaster(image);
  if (image.channels !== 1) throw new Error('gaussianBlurGrey expects a grey (1-channel) image.');
  return { data: blurGreyData(image.data, image.width, image.height, sigma, size), width: image.width, height: image.height, channels: 1 };
}

// The functions below reference nothing but each other and globals: the line-art CLI ships their
// source text to worker threads (see XDOG_KERNEL_FUNCTIONS).

/** {@link gaussianBlurGrey} on bare pixels. */
export function blurGreyData(data: Uint8Array, w: number, h: number, sigma: number, size: number): Uint8Array {
  const kernel = gaussianKernel(size, sigma);
  const r = (size - 1) / 2;
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let t = -r; t <= r; t++) acc += kernel[t + r]! * data[row + reflect101(x + t, w)]!;
      tmp[row + x] = acc;
    }
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let t = -r; t <= r; t++) acc += kernel[t + r]! * tmp[reflect101(y + t, h) * w + x]!;
      const v = roundHalfEven(acc);
      out[y * w + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** NumPy's `float64 → uint8` cast on x86: truncate toward zero, keep the low 8 bits (510 → 254). */
export function numpyUint8(x: number): number {
  return ((Math.trunc(x) % 256) + 256) % 256;
}

/**
 * XDoG line extraction as the Tag2Pix preprocessing does it, on an 8-bit image (RGB is turned
 * grey first with {@link rgbToGrey}): `D = (G_σ(I) − γ·G_kσ(I)) / 255` with both blurs rounded to
 * 8 bits (OpenCV on 8-bit input), output 255 where `D < ε`, else `255·(1 + tanh(φ·D))`, cast to
 * 8 bits the way NumPy does (values above 255 wrap: with the default φ a flat area gives 254, an
 * edge 0). Returns a grey image: dark lines on white.
 */
export function xdog(image: Raster8, params: XDoGParams = {}): Raster8 {
  const p = { ...XDOG_DEFAULTS, ...params };
  for (const [key, value] of Object.entries(p)) {
    if (!Number.isFinite(value)) throw new Error(`xdog: parameter ${key} must be a finite number, got ${value}.`);
  }
  if (!(p.sigma > 0 && p.k > 0)) throw new Error(`xdog: sigma and k must be positive (got sigma ${p.sigma}, k ${p.k}).`);
  const grey = rgbToGrey(image);
  const data = xdogData(grey.data, grey.width, grey.height, p.sigma, p.k, p.gamma, p.epsilon, p.phi);
  return { data, width: grey.width, height: grey.height, channels: 1 };
}

/** The XDoG soft threshold on the two 8-bit blurs (the step after the Gaussians in {@link xdog}). */
export function xdogThreshold(narrow: Uint8Array, wide: Uint8Array, params: XDoGParams = {}): Uint8Array {
  const p = { ...XDOG_DEFAULTS, ...params };
  return xdogThresholdData(narrow, wide, p.gamma, p.epsilon, p.phi);
}

/** {@link xdogThreshold} with explicit parameters. */
export function xdogThresholdData(narrow: Uint8Array, wide: Uint8Array, gamma: number, epsilon: number, phi: number): Uint8Array {
  const out = new Uint8Array(narrow.length);
  for (let i = 0; i < out.length; i++) {
    const d = (narrow[i]! - gamma * wide[i]!) / 255;
    out[i] = d < epsilon ? 255 : numpyUint8(255 * (1 + Math.tanh(phi * d)));
  }
  return out;
}

/** {@link xdog} on the bare pixels of a grey image, with explicit parameters. */
export function xdogData(
  grey: Uint8Array,
  w: number,
  h: number,
  sigma: number,
  k: number,
  gamma: number,
  epsilon: number,
  phi: number,
): Uint8Array {
  const narrow = blurGreyData(grey, w, h, sigma, gaussianKernelSize(sigma));
  const wide = blurGreyData(grey, w, h, sigma * k, gaussianKernelSize(sigma * k));
  return xdogThresholdData(narrow, wide, gamma, epsilon, phi);
}

/**
 * Self-contained functions that make up {@link xdogData}: their source text (`String(f)`) is a
 * complete program for a worker thread, whatever bundler or test runner compiled this module.
 */
export const XDOG_KERNEL_FUNCTIONS: ReadonlyArray<(...args: never[]) => unknown> = [
  roundHalfEven,
  gaussianKernelSize,
  gaussianKernel,
  reflect101,
  blurGreyData,
  numpyUint8,
  xdogThresholdData,
  xdogData,
];

/**
 * The reference's intensity (gamma) adjustment of an 8-bit grey image:
 * `255^(1−p) · v^p`, truncated to 8 bits; p = 1 returns the image unchanged. p > 1 darkens grey
 * lines, p < 1 lightens them.
 */
export function adjustIntensity(image: Raster8, p: number): Raster8 {
  checkRaster(image);
  if (!(p > 0 && Number.isFinite(p))) throw new Error(`adjustIntensity: the exponent must be positive, got ${p}.`);
  if (p === 1) return image;
  const c = Math.pow(255, 1 - p);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = numpyUint8(c * Math.pow(v, p));
  const out = new Uint8Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = lut[image.data[i]!]!;
  return { data: out, width: image.width, height: image.height, channels: image.channels };
}

/** Options of {@link blendSketchXdog}; the defaults are the published ones. */
export interface SketchBlendOptions {
  /** Weight of the blurred XDoG lines against the sketch, 0..1 (default 0: the sketch alone). */
  blend?: number;
  /** Exponent applied to the sketch first (default 1.7: darker lines). */
  intensity?: number;
  /** Exponent applied to the result (default 1/1.5). */
  degamma?: number;
  /** XDoG parameters for the blend (defaults: {@link XDOG_DEFAULTS}). */
  xdog?: XDoGParams;
}

/** `saturate_cast<uchar>(a·wa + b·wb)` for 8-bit images, as `cv2.addWeighted`. */
function addWeighted(a: Uint8Array, wa: number, b: Uint8Array, wb: number): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < out.length; i++) {
    const v = roundHalfEven(a[i]! * wa + b[i]! * wb);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/**
 * The reference's sketch/XDoG blend: `s = adjust(sketch, intensity)`; when `blend > 0`,
 * `x = xdog(grey(illustration))`, `r = 0.75·GaussianBlur(5×5, σ=1)(x) + 0.25·x`,
 * `b = blend·r + (1−blend)·s`, else `b = s`; result `adjust(b, degamma)`. `sketch` is a grey
 * line art of the same size as `illustration` (RGB or grey); `illustration` is only needed when
 * `blend > 0`.
 */
export function blendSketchXdog(sketch: Raster8, illustration: Raster8 | null, options: SketchBlendOptions = {}): Raster8 {
  const blend = options.blend ?? 0;
  if (!(blend >= 0 && blend <= 1)) throw new Error(`blendSketchXdog: blend must be in [0, 1], got ${blend}.`);
  const s = adjustIntensity(rgbToGrey(sketch), options.intensity ?? 1.7);
  let b = s;
  if (blend > 0) {
    if (illustration == null) throw new Error('blendSketchXdog: blend > 0 needs the colour illustration to run XDoG on.');
    if (illustration.width !== s.width || illustration.height !== s.height) {
      throw new Error(
        `blendSketchXdog: the sketch is ${s.width}×${s.height} but the illustration is ` +
          `${illustration.width}×${illustration.height}; resize one to the other first.`,
      );
    }
    const x = xdog(illustration, options.xdog);
    const r = addWeighted(gaussianBlurGrey(x, 1, 5).data, 0.75, x.data, 0.25);
    b = { ...s, data: addWeighted(r, blend, s.data, 1 - blend) };
  }
  return adjustIntensity(b, options.degamma ?? 1 / 1.5);
}
