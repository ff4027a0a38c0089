import { type Raster, type RasterF, checkRaster, rgbToGrey, toFloatRaster } from './raster.js';
import { Rng } from './random.js';

// ---------------------------------------------------------------------------------------------
// Resizing (browser-safe; the Node loader resizes while decoding with libvips instead)
// ---------------------------------------------------------------------------------------------

/** Resampling filter of {@link resizeRaster}. */
export type ResampleFilter = 'bilinear' | 'lanczos3';

function filterFn(filter: ResampleFilter): { support: number; f: (x: number) => number } {
  if (filter === 'bilinear') return { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) };
  const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
  return { support: 3, f: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) };
}

/** Per output index: first source index and normalised weights (the filter widened when shrinking). */
function resampleWeights(inSize: number, outSize: number, filter: ResampleFilter) {
  const { support, f } = filterFn(filter);
  const scale = inSize / outSize;
  const stretch = Math.max(1, scale);
  const radius = support * stretch;
  const starts = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - radius));
    const hi = Math.min(inSize, Math.ceil(centre + radius));
    const w = new Float32Array(hi - lo);
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const v = f((i + 0.5 - centre) / stretch);
      w[i - lo] = v;
      sum += v;
    }
    for (let i = 0; i < w.length; i++) w[i]! /= sum;
    starts[o] = lo;
    weights.push(w);
  }
  return { starts, weights };
}

/**
 * Resizes a float raster with a separable filter (default Lanczos 3, as the reference), widened
 * when shrinking so it averages instead of aliasing. Lanczos can overshoot slightly past the
 * input's range; callers clamp where it matters.
 */
export function resizeRaster(image: RasterF, width: number, height: number, filter: ResampleFilter = 'lanczos3'): RasterF {
  checkRaster(image);
  const { width: w, height: h, channels: c, data } = image;
  if (w === width && h === height) return image;
  const hx = resampleWeights(w, width, filter);
  const tmp = new Float32Array(h * width * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      const start = hx.starts[x]!;
      const wt = hx.weights[x]!;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < wt.length; k++) acc += wt[k]! * data[((y * w) + start + k) * c + ch]!;
        tmp[(y * width + x) * c + ch] = acc;
      }
    }
  }
  const vy = resampleWeights(h, height, filter);
  const out = new Float32Array(height * width * c);
  for (let y = 0; y < height; y++) {
    const start = vy.starts[y]!;
    const wt = vy.weights[y]!;
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < wt.length; k++) acc += wt[k]! * tmp[((start + k) * width + x) * c + ch]!;
        out[(y * width + x) * c + ch] = acc;
      }
    }
  }
  return { data: out, width, height, channels: c };
}

// ---------------------------------------------------------------------------------------------
// Paired geometric augmentation
// ---------------------------------------------------------------------------------------------

/** Settings of the paired (colour + line art) geometric augmentation; defaults are the reference's. */
export interface GeometricAugmentOptions {
  /** Probability of a horizontal flip (default 0.5). */
  flipProbability?: number;
  /** Probability of a rotation (default 0.5). */
  rotateProbability?: number;
  /** Rotation angle range in degrees (default [-10, 10]). */
  rotateDegrees?: [number, number];
  /** Area fraction range of the random resized crop (default [0.9, 1]). */
  cropScale?: [number, number];
  /** Aspect-ratio range of the random resized crop (default [0.95, 1.05]). */
  cropRatio?: [number, number];
}

/**
 * One draw of the geometric augmentation, applied identically to colour and line art:
 * flip, then rotate by `angle` about the centre and keep the centred `rotatedCrop`-pixel square
 * free of empty corners, then crop `crop` out of that square and resize it to `size`.
 */
export interface GeometricTransform {
  /** Side of the (square) input and output, pixels. */
  size: number;
  flip: boolean;
  /** Counter-clockwise rotation in degrees (0: no rotation). */
  angle: number;
  /** Side of the centred square kept after rotating (`size` when not rotated). */
  rotatedCrop: number;
  /** The random resized crop inside that square: top-left corner and extent, pixels. */
  crop: { top: number; left: number; height: number; width: number };
}

/**
 * Side fraction of the largest centred axis-aligned square inside a square rotated by `degrees`:
 * `1 / (|cos θ| + |sin θ|)`. Cropping to it removes the empty corners a rotation leaves.
 */
export function rotationCropFraction(degrees: number): number {
  const t = (Math.abs(degrees) * Math.PI) / 180;
  return 1 / (Math.cos(t) + Math.sin(t));
}

/** Draws a {@link GeometricTransform} for a `size`×`size` image (the reference recipe). */
export function sampleGeometricTransform(rng: Rng, size: number, options: GeometricAugmentOptions = {}): GeometricTransform {
  const flip = rng.chance(options.flipProbability ?? 0.5);
  let angle = 0;
  let rotatedCrop = size;
  if (rng.chance(options.rotateProbability ?? 0.5)) {
    const [lo, hi] = options.rotateDegrees ?? [-10, 10];
    angle = rng.uniform(lo, hi);
    rotatedCrop = Math.floor(size * rotationCropFraction(angle));
  }
  // torchvision's RandomResizedCrop: up to 10 tries of area and log-uniform aspect, else the whole square.
  const [sLo, sHi] = options.cropScale ?? [0.9, 1];
  const [rLo, rHi] = options.cropRatio ?? [0.95, 1.05];
  const area = rotatedCrop * rotatedCrop;
  let crop = { top: 0, left: 0, height: rotatedCrop, width: rotatedCrop };
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(sLo, sHi);
    const ratio = Math.exp(rng.uniform(Math.log(rLo), Math.log(rHi)));
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= rotatedCrop && h <= rotatedCrop) {
      crop = { top: rng.int(0, rotatedCrop - h), left: rng.int(0, rotatedCrop - w), height: h, width: w };
      break;
    }
  }
  return { size, flip, angle, rotatedCrop, crop };
}

/** The identity transform for a `size`×`size` image. */
export function identityTransform(size: number): GeometricTransform {
  return { size, flip: false, angle: 0, rotatedCrop: size, crop: { top: 0, left: 0, height: size, width: size } };
}

/**
 * Maps an output pixel centre `(x, y)` to the input position it samples (continuous pixel
 * coordinates, pixel centres at integer + 0.5). Exposed so tests and visualisations can check
 * that both images move together.
 */
export function transformSourcePoint(t: GeometricTransform, x: number, y: number): [number, number] {
  const { size, crop } = t;
  // Output → position inside the rotated, centre-cropped square.
  const cx = crop.left + (x * crop.width) / size;
  const cy = crop.top + (y * crop.height) / size;
  // → position in the rotated full image.
  const offset = (size - t.rotatedCrop) / 2;
  let rx = cx + offset;
  let ry = cy + offset;
  if (t.angle !== 0) {
    // Undo a counter-clockwise rotation (y points down) about the image centre.
    const th = (t.angle * Math.PI) / 180;
    const c = Math.cos(th);
    const s = Math.sin(th);
    const dx = rx - size / 2;
    const dy = ry - size / 2;
    rx = size / 2 + c * dx - s * dy;
    ry = size / 2 + s * dx + c * dy;
  }
  // → position before the flip.
  if (t.flip) rx = size - rx;
  return [rx, ry];
}

/**
 * Applies a {@link GeometricTransform} to a `size`×`size` float raster with bilinear sampling,
 * as one warp (no intermediate resamplings). Positions that fall outside the image take the
 * nearest edge pixel; the rotation crop keeps them to the outermost pixel ring.
 */
export function applyGeometricTransform(image: RasterF, t: GeometricTransform): RasterF {
  checkRaster(image);
  const { size } = t;
  if (image.width !== size || image.height !== size) {
    throw new Error(`applyGeometricTransform: expected a ${size}×${size} image, got ${image.width}×${image.height}.`);
  }
  const c = image.channels;
  const src = image.data;
  const out = new Float32Array(size * size * c);
  // The map is affine: evaluate it at three points and step linearly.
  const [ox, oy] = transformSourcePoint(t, 0.5, 0.5);
  const [xx, xy] = transformSourcePoint(t, 1.5, 0.5);
  const [yx, yy] = transformSourcePoint(t, 0.5, 1.5);
  const dxx = xx - ox;
  const dxy = xy - oy;
  const dyx = yx - ox;
  const dyy = yy - oy;
  const max = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Continuous position → index space (pixel centres at integers).
      let sx = ox + x * dxx + y * dyx - 0.5;
      let sy = oy + x * dxy + y * dyy - 0.5;
      sx = sx < 0 ? 0 : sx > max ? max : sx;
      sy = sy < 0 ? 0 : sy > max ? max : sy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = x0 < max ? x0 + 1 : max;
      const y1 = y0 < max ? y0 + 1 : max;
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * size + x) * c;
      const i00 = (y0 * size + x0) * c;
      const i01 = (y0 * size + x1) * c;
      const i10 = (y1 * size + x0) * c;
      const i11 = (y1 * size + x1) * c;
      for (let ch = 0; ch < c; ch++) {
        const top = src[i00 + ch]! + fx * (src[i01 + ch]! - src[i00 + ch]!);
        const bottom = src[i10 + ch]! + fx * (src[i11 + ch]! - src[i10 + ch]!);
        out[o + ch] = top + fy * (bottom - top);
      }
    }
  }
  return { data: out, width: size, height: size, channels: c };
}

// ---------------------------------------------------------------------------------------------
// Line-art colour jitter
// ---------------------------------------------------------------------------------------------

/** Jitter of the line art, as torchvision's ColorJitter on a greyscale image; defaults are the reference's. */
export interface LineArtJitterOptions {
  /** Brightness factor range when the brightness stage is off (default [0.8, 1.2], i.e. 0.2). */
  brightness?: [number, number];
  /** Brightness factor range in the brightness stage (default [1, 7]). */
  stageBrightness?: [number, number];
  /** Contrast factor range (default [0.8, 1.2]). */
  contrast?: [number, number];
  /**
   * Saturation factor range (default [0.8, 1.2]). Saturation does nothing to a grey image; it is
   * drawn anyway so the random stream matches a colour line art's.
   */
  saturation?: [number, number];
}

/** One draw of the line-art jitter: factors and the order they are applied in. */
export interface LineArtJitter {
  brightness: number;
  contrast: number;
  saturation: number;
  order: Array<'brightness' | 'contrast' | 'saturation'>;
}

/** Draws a {@link LineArtJitter}; `brightnessStage` switches the brightness range to `stageBrightness`. */
export function sampleLineArtJitter(rng: Rng, brightnessStage: boolean, options: LineArtJitterOptions = {}): LineArtJitter {
  const [bLo, bHi] = brightnessStage ? (options.stageBrightness ?? [1, 7]) : (options.brightness ?? [0.8, 1.2]);
  const [cLo, cHi] = options.contrast ?? [0.8, 1.2];
  const [sLo, sHi] = options.saturation ?? [0.8, 1.2];
  const order = rng.shuffle(['brightness', 'contrast', 'saturation'] as LineArtJitter['order']);
  return { brightness: rng.uniform(bLo, bHi), contrast: rng.uniform(cLo, cHi), saturation: rng.uniform(sLo, sHi), order };
}

/**
 * Applies a jitter to a grey float line art in 0..1, in place: brightness scales (`v·f`),
 * contrast blends with the mean (`m + f·(v − m)`), each result clamped to [0, 1].
 */
export function applyLineArtJitter(lineArt: Float32Array, jitter: LineArtJitter): Float32Array {
  for (const op of jitter.order) {
    if (op === 'brightness') {
      const f = jitter.brightness;
      for (let i = 0; i < lineArt.length; i++) lineArt[i] = Math.min(1, Math.max(0, lineArt[i]! * f));
    } else if (op === 'contrast') {
      const f = jitter.contrast;
      let mean = 0;
      for (let i = 0; i < lineArt.length; i++) mean += lineArt[i]!;
      mean /= lineArt.length;
      for (let i = 0; i < lineArt.length; i++) lineArt[i] = Math.min(1, Math.max(0, mean + f * (lineArt[i]! - mean)));
    }
    // saturation: a grey image has none.
  }
  return lineArt;
}

// ---------------------------------------------------------------------------------------------
// The whole per-sample recipe
// ---------------------------------------------------------------------------------------------

/** Settings of {@link augmentPair}. */
export interface PairAugmentOptions {
  /** Output side S, pixels (a multiple of 16 for the model). */
  size: number;
  /** Geometric augmentation: options, or `false` to only resize (evaluation). Default: on, reference settings. */
  geometric?: GeometricAugmentOptions | false;
  /** Line-art jitter: options, or `false` for none. Default: on, reference settings. */
  jitter?: LineArtJitterOptions | false;
  /** Brightness stage: the line-art brightness factor comes from U(1, 7) instead of U(0.8, 1.2). */
  brightnessStage?: boolean;
}

/** One augmented training pair. */
export interface AugmentedPair {
  /** S·S·3 values, RGB in [-1, 1], row-major HWC. */
  color: Float32Array;
  /** S·S values, grey in [0, 1], white = 1. */
  lineArt: Float32Array;
  /** What was drawn (for debugging and tests). */
  transform: GeometricTransform;
  jitter: LineArtJitter | null;
}

function asFloat(image: Raster, what: string): RasterF {
  checkRaster(image, what);
  return image.data instanceof Uint8Array ? toFloatRaster(image as Raster<Uint8Array>) : (image as RasterF);
}

function clamp01(a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! < 0 ? 0 : a[i]! > 1 ? 1 : a[i]!;
  return a;
}

/**
 * The reference's paired augmentation for one sample, in pure TypeScript: both images resized to
 * S×S (Lanczos; skipped when they already are), then one geometric transform applied to both
 * (horizontal flip p 0.5, rotation U(−10°, 10°) p 0.5 with the corner-free centre crop, random
 * resized crop scale (0.9, 1) ratio (0.95, 1.05)), then brightness/contrast/saturation jitter on
 * the line art only. `colour` is RGB, `lineArt` grey or RGB (made grey), 8-bit or float 0..1; they
 * may differ in size but should show the same picture. All randomness comes from `rng`.
 */
export function augmentPair(color: Raster, lineArt: Raster, rng: Rng, options: PairAugmentOptions): AugmentedPair {
  const S = options.size;
  if (!(Number.isInteger(S) && S > 0)) throw new Error(`augmentPair: size must be a positive integer, got ${S}.`);
  let c = asFloat(color, 'colour image');
  if (c.channels !== 3) throw new Error('augmentPair: the colour image must have 3 channels (RGB).');
  let l = rgbToGrey(asFloat(lineArt, 'line art'));
  c = resizeRaster(c, S, S);
  l = resizeRaster(l, S, S);
  const transform =
    options.geometric === false ? identityTransform(S) : sampleGeometricTransform(rng, S, options.geometric ?? {});
  const warpedColor = applyGeometricTransform(c, transform).data;
  const warpedLine = applyGeometricTransform(l, transform).data;
  // Lanczos may overshoot; jitter and the model expect the nominal ranges.
  clamp01(warpedColor);
  clamp01(warpedLine);
  let jitter: LineArtJitter | null = null;
  if (options.jitter !== false) {
    jitter = sampleLineArtJitter(rng, options.brightnessStage ?? false, options.jitter ?? {});
    applyLineArtJitter(warpedLine, jitter);
  }
  for (let i = 0; i < warpedColor.length; i++) warpedColor[i] = warpedColor[i]! * 2 - 1;
  return { color: warpedColor, lineArt: warpedLine, transform, jitter };
}
