import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SharpMissingError, loadSharp } from './sharp.js';
import { type Raster, type Raster8, checkRaster, rasterToTensor, rgbToGrey, tensorToRaster, toUint8Raster } from '../data/raster.js';
import { type ErrorText, OptionError, Tag2PixError, quoteValue } from '../errors.js';

/** A file path, or the encoded bytes of a PNG/JPEG/WebP file. */
export type ImageSource = string | Uint8Array;

/** Resampling filter for resizing (libvips kernels). The reference resizes with Lanczos. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

/**
 * Default pixel limit of every image read (width × height, before any resize): 4096 × 4096,
 * 16.8 Mpx. A 256–1024 px model needs far less; the limit stops a small compressed file from
 * decoding to gigabytes (a 249 KB PNG can claim 16000 × 16000). Raise it with the `maxPixels`
 * option (`--max-pixels` on the command line). sharp's own default is 268 Mpx.
 */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;

/** Options of {@link readImage}. */
export interface ReadImageOptions {
  /** 3: RGB (default); 1: grey (BT.601 weights, see `rgbToGrey`). Alpha is flattened onto white. */
  channels?: 1 | 3;
  /** Resize to this size: a number for a square, or `{width, height}`. Aspect ratio is not kept. */
  size?: number | { width: number; height: number };
  /** Resampling filter when resizing (default `lanczos3`). */
  kernel?: ResizeKernel;
  /** Name used in error messages when `source` is a buffer (default `<buffer>`). */
  name?: string;
  /**
   * Largest image accepted, in pixels (width × height of the file, before resizing); a larger one
   * is an {@link ImageReadError} with reason `too-large`, raised before any pixel is decoded.
   * Default {@link DEFAULT_MAX_PIXELS}.
   */
  maxPixels?: number;
}

/** Why an image could not be read. */
export type ImageReadFailure = 'missing' | 'not-a-file' | 'corrupt' | 'too-large';

/** Failure to read or decode an image; `file` names it. */
export class ImageReadError extends Tag2PixError {
  /** The file path (or the name given for a buffer). */
  declare readonly file: string;
  /**
   * `missing`: no such file; `not-a-file`: a folder or device; `corrupt`: unreadable or not a
   * supported image; `too-large`: more pixels than the `maxPixels` limit.
   */
  readonly reason: ImageReadFailure;

  constructor(file: string, reason: ImageReadFailure, detail: ErrorText) {
    const detailText = typeof detail === 'string' ? () => detail : detail;
    const shown = quoteValue(file, 200);
    super(
      (name) => {
        const d = detailText(name);
        switch (reason) {
          case 'missing':
            return `Image file ${shown} does not exist (${d}).`;
          case 'not-a-file':
            return `${shown} is ${d}, not an image file; give a PNG, JPEG or WebP file.`;
          case 'too-large':
            return `Image ${shown} ${d}`;
          case 'corrupt':
            return `Cannot decode image ${shown}: ${d}. The file is corrupt or not a PNG, JPEG or WebP image.`;
        }
      },
      { file, option: reason === 'too-large' ? 'maxPixels' : undefined },
    );
    this.reason = reason;
  }
}

/** Checks a `maxPixels` option: a positive integer. */
function maxPixelsOf(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new OptionError((name) => `${name('maxPixels')} must be a positive integer (pixels), got ${quoteValue(value)}.`, { option: 'maxPixels' });
  }
  return value;
}

function tooLarge(label: string, width: number, height: number, limit: number): ImageReadError {
  const mpx = (n: number) => `${(n / 1e6).toFixed(1)} Mpx`;
  return new ImageReadError(
    label,
    'too-large',
    (name) =>
      `is ${width}×${height} = ${mpx(width * height)}, above the limit of ${limit} pixels (${mpx(limit)}); ` +
      `scale it down, or raise the limit with ${name('maxPixels')} ${width * height} if the memory is there ` +
      `(decoding takes about ${Math.ceil((width * height * 16) / 2 ** 20)} MiB).`,
  );
}

/**
 * Checks an image before anything heavy is done with it: the file exists and is a file, its
 * header is readable, and its pixel count is within `maxPixels`. Returns its size (after EXIF
 * orientation). Raises an {@link ImageReadError} naming the file otherwise.
 */
export async function checkImage(
  source: ImageSource,
  options: { name?: string; maxPixels?: number } = {},
): Promise<{ width: number; height: number }> {
  const limit = maxPixelsOf(options.maxPixels);
  const label = typeof source === 'string' ? source : (options.name ?? '<buffer>');
  await checkIsFile(source, label);
  const size = await imageSize(source, label);
  if (size.width * size.height > limit) throw tooLarge(label, size.width, size.height, limit);
  return size;
}

/** A path that exists but is a folder (or another non-file) is named as such. */
async function checkIsFile(source: ImageSource, label: string): Promise<void> {
  if (typeof source !== 'string') return;
  let stat;
  try {
    stat = await fs.stat(source);
  } catch (e) {
    throw new ImageReadError(label, 'missing', (e as NodeJS.ErrnoException).code ?? 'not found');
  }
  if (!stat.isFile()) throw new ImageReadError(label, 'not-a-file', stat.isDirectory() ? 'a folder' : 'not a regular file');
}

function sizeOf(size: ReadImageOptions['size']): { width: number; height: number } | undefined {
  if (size === undefined) return undefined;
  const s = typeof size === 'number' ? { width: size, height: size } : size;
  if (!(Number.isInteger(s.width) && s.width > 0 && Number.isInteger(s.height) && s.height > 0)) {
    throw new OptionError(`Invalid resize target ${quoteValue(JSON.stringify(size))}: width and height must be positive integers.`, { option: 'size' });
  }
  return s;
}

/** Dimensions of an image file without decoding its pixels. */
export async function imageSize(source: ImageSource, name?: string): Promise<{ width: number; height: number }> {
  const label = typeof source === 'string' ? source : (name ?? '<buffer>');
  try {
    return await headerSize(source);
  } catch (err) {
    throw await classify(err, source, label);
  }
}

async function classify(err: unknown, source: ImageSource, label: string, limit?: number): Promise<Error> {
  if (err instanceof Tag2PixError || err instanceof SharpMissingError) return err;
  try {
    await checkIsFile(source, label);
  } catch (e) {
    return e as Error;
  }
  const detail = (err as Error).message.split('\n')[0] ?? String(err);
  if (limit !== undefined && /pixel limit/i.test(detail)) {
    const size = await headerSize(source).catch(() => undefined);
    if (size) return tooLarge(label, size.width, size.height, limit);
  }
  return new ImageReadError(label, 'corrupt', detail);
}

/**
 * Reads a PNG, JPEG or WebP file (or its bytes) as 8-bit RGB or grey, alpha flattened onto white,
 * EXIF orientation applied, optionally resized. Decoding runs on libvips' threads, so many reads
 * can be in flight at once. A missing or undecodable file raises an {@link ImageReadError} naming it.
 */
export async function readImage(source: ImageSource, options: ReadImageOptions = {}): Promise<Raster8> {
  return (await readImageWithInfo(source, options)).image;
}

/**
 * {@link readImage} that also reports the file's own size (after EXIF orientation), e.g. to check
 * that two images are a pair before resizing them.
 */
export async function readImageWithInfo(
  source: ImageSource,
  options: ReadImageOptions = {},
): Promise<{ image: Raster8; original: { width: number; height: number } }> {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) {
    throw new OptionError(`readImage: channels must be 1 or 3, got ${quoteValue(channels)}.`, { option: 'channels' });
  }
  const label = typeof source === 'string' ? source : (options.name ?? '<buffer>');
  const size = sizeOf(options.size);
  const sharp = await loadSharp('readImage');
  const limit = maxPixelsOf(options.maxPixels);
  try {
    // libvips checks the limit against the header, before decoding a pixel.
    let pipeline = sharp(source, { failOn: 'error', limitInputPixels: limit })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColorspace('srgb');
    if (size) {
      pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: options.kernel ?? 'lanczos3' });
    }
    // The header read runs beside the decode, not before it: a loader whose main thread is busy
    // with a training step then needs one turn per image instead of two.
    const [{ data, info }, original] = await Promise.all([
      pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
      size ? headerSize(source) : undefined,
    ]);
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
    const rgb: Raster8 = {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: 3,
    };
    return { image: channels === 1 ? rgbToGrey(rgb) : rgb, original: original ?? { width: info.width, height: info.height } };
  } catch (err) {
    throw await classify(err, source, label, limit);
  }
}

async function headerSize(source: ImageSource): Promise<{ width: number; height: number }> {
  const meta = await (await loadSharp('imageSize'))(source).metadata();
  if (!meta.width || !meta.height) throw new Error('no dimensions in the header');
  // EXIF orientations 5-8 swap the axes once applied.
  return (meta.orientation ?? 1) >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
}

/** Options of {@link readImageTensor}. */
export interface ReadImageTensorOptions extends ReadImageOptions {
  /** Value range of the tensor: `[0, 1]` (default; line art) or `[-1, 1]` (colour images for the model). */
  range?: [number, number];
}

/** Reads an image as a float32 `[H, W, C]` tensor scaled to `range` (default 0..1). */
export async function readImageTensor(source: ImageSource, options: ReadImageTensorOptions = {}): Promise<tf.Tensor3D> {
  const [lo, hi] = options.range ?? [0, 1];
  return rasterToTensor(await readImage(source, options), lo, hi);
}

/** Resizes an 8-bit raster with libvips (default Lanczos 3, as the reference). */
export async function resizeImage(
  image: Raster8,
  width: number,
  height: number,
  kernel: ResizeKernel = 'lanczos3',
): Promise<Raster8> {
  checkRaster(image);
  sizeOf({ width, height });
  const sharp = await loadSharp('resizeImage');
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .resize(width, height, { fit: 'fill', kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: image.channels,
  };
}

/** Options of {@link encodePng} and {@link writePng}. */
export interface WritePngOptions {
  /** Value range of float rasters and tensors (default `[0, 1]`; pass `[-1, 1]` for generator output). */
  range?: [number, number];
  /** zlib level 0-9 (default 6). */
  compressionLevel?: number;
}

async function toRaster8(image: Raster | tf.Tensor, range: [number, number]): Promise<Raster8> {
  if (image instanceof tf.Tensor) return tensorToRaster(image, range[0], range[1]);
  checkRaster(image);
  return image.data instanceof Uint8Array
    ? (image as Raster8)
    : toUint8Raster(image as Raster<Float32Array>, range[0], range[1]);
}

/** Encodes a raster (8-bit, or float in `range`) or an image tensor as PNG bytes. */
export async function encodePng(image: Raster | tf.Tensor, options: WritePngOptions = {}): Promise<Buffer> {
  const sharp = await loadSharp('encodePng');
  const r = await toRaster8(image, options.range ?? [0, 1]);
  let pipeline = sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
  if (r.channels === 1) pipeline = pipeline.toColorspace('b-w');
  return pipeline.png({ compressionLevel: options.compressionLevel ?? 6 }).toBuffer();
}

/** Writes a raster or an image tensor as a PNG file, creating the folder if needed. */
export async function writePng(file: string, image: Raster | tf.Tensor, options: WritePngOptions = {}): Promise<void> {
  const png = await encodePng(image, options);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, png);
}
