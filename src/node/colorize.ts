import * as tf from '@tensorflow/tfjs-core';
import { colorizeTensor, type ColorizeTensorOptions } from '../models/colorize.js';
import { encodePng, imageSize, readImageTensor, resizeImage, type ImageSource } from './image.js';
import { rasterToTensor, tensorToRaster } from '../data/raster.js';

/** Options of {@link colorize}: {@link ColorizeTensorOptions} with a file, Buffer or tensor. */
export interface ColorizeOptions extends Omit<ColorizeTensorOptions, 'lineArt' | 'restoreSize'> {
  /**
   * The line art: an image file path (PNG, JPEG or WebP; alpha is flattened onto white), the
   * encoded bytes of one, or a tensor as {@link ColorizeTensorOptions.lineArt}.
   */
  lineArt: ImageSource | tf.Tensor;
}

/**
 * Colourises a line art (file path, Buffer or tensor) and returns RGB `[H, W, 3]` in [0, 1] at
 * the line art's own size (the caller owns it). Images are scaled to the model with Lanczos so
 * that the longer side fits the generator, padded with white to a square, colourised, cropped
 * back and scaled back with Lanczos. See {@link colorizeToPng} for PNG bytes.
 */
export async function colorize(options: ColorizeOptions): Promise<tf.Tensor3D> {
  if (options.lineArt instanceof tf.Tensor) {
    return colorizeTensor({ ...options, lineArt: options.lineArt });
  }
  const size = options.generator.inputs[0].shape[1];
  if (size == null) throw new Error('colorize: the generator has no fixed input size.');
  const name = typeof options.lineArt === 'string' ? options.lineArt : '<buffer>';
  const original = await imageSize(options.lineArt, name);
  // Fit the longer side to the model size here, with a good filter; the square then needs no resize.
  const scale = size / Math.max(original.width, original.height);
  const fitted = {
    width: Math.max(1, Math.round(original.width * scale)),
    height: Math.max(1, Math.round(original.height * scale)),
  };
  const grey = await readImageTensor(options.lineArt, { channels: 1, size: fitted, name });
  let crop: tf.Tensor3D;
  try {
    crop = colorizeTensor({ ...options, lineArt: grey, restoreSize: false });
  } finally {
    grey.dispose();
  }
  if (crop.shape[0] === original.height && crop.shape[1] === original.width) return crop;
  const raster = await tensorToRaster(crop, 0, 1);
  crop.dispose();
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


