import * as tf from '@tensorflow/tfjs-core';

/**
 * An image as interleaved pixels, row-major (HWC): 8-bit values 0..255 in a `Uint8Array`, or
 * floats in a `Float32Array` (0..1 unless said otherwise). Browser-safe; the Node helpers in
 * `tag2pix/node` read and write files as these.
 */
export interface Raster<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  data: T;
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
}

/** An 8-bit raster. */
export type Raster8 = Raster<Uint8Array>;
/** A float raster. */
export type RasterF = Raster<Float32Array>;

/** Throws when `data` does not hold exactly `width·height·channels` values. */
export function checkRaster(image: Raster, what = 'image'): void {
  const { width, height, channels } = image;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new Error(`The ${what} has invalid size ${width}×${height}; width and height must be positive integers.`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new Error(`The ${what} has ${String(channels)} channels; only 1 (grey) or 3 (RGB) are supported.`);
  }
  if (image.data.length !== width * height * channels) {
    throw new Error(
      `The ${what} holds ${image.data.length} values but ${width}×${height}×${channels} needs ` +
        `${width * height * channels}.`,
    );
  }
}

/**
 * Grey from RGB with the ITU-R BT.601 weights (0.299, 0.587, 0.114), in OpenCV's 14-bit fixed
 * point for 8-bit input (bit-exact with `cv2.cvtColor(..., COLOR_RGB2GRAY)`, which the reference
 * XDoG preprocessing uses), in floating point for float input.
 */
export function rgbToGrey<T extends Uint8Array | Float32Array>(image: Raster<T>): Raster<T> {
  checkRaster(image);
  if (image.channels === 1) return image;
  const n = image.width * image.height;
  const src = image.data;
  if (src instanceof Uint8Array) {
    const out = new Uint8Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      out[i] = (src[j]! * 4899 + src[j + 1]! * 9617 + src[j + 2]! * 1868 + 8192) >> 14;
    }
    return { data: out as T, width: image.width, height: image.height, channels: 1 };
  }
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = 0.299 * src[j]! + 0.587 * src[j + 1]! + 0.114 * src[j + 2]!;
  }
  return { data: out as T, width: image.width, height: image.height, channels: 1 };
}

/** 8-bit → float in `[lo, hi]` (default 0..1): `lo + v/255·(hi−lo)`. */
export function toFloatRaster(image: Raster8, lo = 0, hi = 1): RasterF {
  const out = new Float32Array(image.data.length);
  const scale = (hi - lo) / 255;
  for (let i = 0; i < out.length; i++) out[i] = lo + image.data[i]! * scale;
  return { data: out, width: image.width, height: image.height, channels: image.channels };
}

/** Float in `[lo, hi]` → 8-bit, rounded and clamped. */
export function toUint8Raster(image: RasterF, lo = 0, hi = 1): Raster8 {
  const out = new Uint8Array(image.data.length);
  const scale = 255 / (hi - lo);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round((image.data[i]! - lo) * scale);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data: out, width: image.width, height: image.height, channels: image.channels };
}

/**
 * A raster as a float32 `[H, W, C]` tensor. 8-bit data is scaled to `[lo, hi]` (default 0..1);
 * float data is taken as it is.
 */
export function rasterToTensor(image: Raster, lo = 0, hi = 1): tf.Tensor3D {
  checkRaster(image);
  const f = image.data instanceof Uint8Array ? toFloatRaster(image as Raster8, lo, hi).data : image.data;
  return tf.tensor3d(f, [image.height, image.width, image.channels], 'float32');
}

/**
 * A `[H, W, C]` or `[1, H, W, C]` tensor (C = 1 or 3) with values in `[lo, hi]` as an 8-bit
 * raster (rounded, clamped). Generator output is in [-1, 1]: pass `lo = -1`.
 */
export async function tensorToRaster(t: tf.Tensor, lo = 0, hi = 1): Promise<Raster8> {
  const shape = t.rank === 4 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape;
  if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== 3)) {
    throw new Error(
      `Expected an image tensor [H, W, 1|3] or [1, H, W, 1|3], got shape [${t.shape.join(', ')}]. ` +
        'Slice one image out of a batch first.',
    );
  }
  const data = (await t.data()) as Float32Array;
  return toUint8Raster(
    { data: Float32Array.from(data), width: shape[1]!, height: shape[0]!, channels: shape[2] as 1 | 3 },
    lo,
    hi,
  );
}
