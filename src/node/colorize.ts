import * as tf from '@tensorflow/tfjs-core';
import { colorizeTensor, type ColorizeTensorOptions } from '../models/colorize.js';
import { resolveColorTags } from '../data/tags.js';
import { checkImage, encodePng, readImageTensor, resizeImage, type ImageSource } from './image.js';
import { rasterToTensor, tensorToRaster } from '../data/raster.js';

/** Options of {@link colorize}: {@link ColorizeTensorOptions} with a file, Buffer or tensor. */
export interface ColorizeOptions extends Omit<ColorizeTensorOptions, 'lineArt' | 'restoreSize'> {
  /**
   * The line art: an image file path (PNG, JPEG or WebP; alpha is flattened onto white), the
   * encoded bytes of one, or a tensor as {@link ColorizeTensorOptions.lineArt}.
   */
  lineArt: ImageSource | tf.Tensor;
  /**
   * Largest line art accepted, in pixels (default `DEFAULT_MAX_PIXELS`, 4096 × 4096): a larger
   * file is refused from its header, before its pixels are decoded.
   */
  maxPixels?: number;
}

/**
 * Colourises a line art (file path, Buffer or tensor) and returns RGB `[H, W, 3]` in [0, 1] at
 * the line art's own size (the caller owns it). Images are scaled to the model with Lanczos so
 * that the longer side fits the generator, padded with white to a square, colourised, cropped
 * back and scaled back with Lanczos. See {@link colorizeToPng} for PNG bytes.
 */
export async function colorize(options: ColorizeOptions): Promise<tf.Tensor3D> {
  if (options.lineArt instanceof tf.Tensor) {
    const { maxPixels: _m, ...rest } = options;
    return colorizeTensor({ ...rest, lineArt: options.lineArt });
  }
  const size = options.generator.inputs[0].shape[1];
  if (size == null) throw new Error('colorize: the generator has no fixed input size.');
  // The cheap checks first: the tags, then the image's header (size within maxPixels).
  resolveColorTags(options.tags, options.vocabulary);
  const name = typeof options.lineArt === 'string' ? options.lineArt : '<buffer>';
  const original = await checkImage(options.lineArt, { name, maxPixels: options.maxPixels });
  // Fit the longer side to the model size here, with a good filter; the square then needs no resize.
  const scale = size / Math.max(original.width, original.height);
  const fitted = {
    width: Math.max(1, Math.round(original.width * scale)),
    height: Math.max(1, Math.round(original.height * scale)),
  };
  const grey = await readImageTensor(options.lineArt, { channels: 1, size: fitted, name, maxPixels: options.maxPixels });
  let crop: tf.Tensor3D;
  try {
    const { maxPixels: _m, ...rest } = options;
    crop = colorizeTensor({ ...rest, lineArt: grey, restoreSize: false });
  } finally {
    grey.dispose();
  }
  if (crop.shape[0] === original.height && crop.shape[1] === original.width) return crop;
  let raster;
  try {
    raster = await tensorToRaster(crop, 0, 1);
  } finally {
    crop.dispose();
  }
  const restored = await resizeImage(raster, original.width, original.height);
  return rasterToTensor(restored, 0, 1);
}

/** {@link colorize}, encoded as PNG bytes. */
export async function colorizeToPng(options: ColorizeOptions): Promise<Buffer> {
  const rgb = await colorize(options);
  try {
    return await encodePng(rgb);
  } finally {
    rgb.dispose();
  }
}


