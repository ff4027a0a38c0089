// From chosen files to colours: the library's loadColorizer reads the files and builds the
// networks they hold (listing every mismatch); the library's colorizeTensor colourises.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { GreyImage } from './image.js';
import { colorizeTensor, type Tag } from 'tag2pix';
import { loadColorizer, type Colorizer, type LoadProgressEvent } from 'tag2pix/io';
import { describeColorizer, isDemoGenerator } from './weights.js';

type Model = tfl.LayersModel;

/** The networks, ready to colourise. */
export interface LoadedModels {
  colorizer: Colorizer;
  /** One line for the page: files, size, width, decoder depth. */
  summary: string;
  dispose(): void;
}

/** A colourisation: RGB bytes for the canvas and the raw network output for checks. */
export interface ColorizeResult {
  width: number;
  height: number;
  /** Row-major RGB bytes, 3 per pixel. */
  rgb: Uint8Array;
  /**
   * The library's output before the page scales it back: RGB in [0, 1], row-major HWC, at
   * `colorWidth` × `colorHeight` (the line art's region at the generator's size).
   */
  color: Float32Array;
  colorWidth: number;
  colorHeight: number;
}

/**
 * The demo's stand-in for the CIT extractor, as a model: per 8×8 cell the mean and the minimum
 * of the line art (`npm run demo` trains without a pretrained CIT classifier). The minimum is
 * -maxPool(-x), with the negations as fixed 1×1 convolutions, so the numbers are the demo's.
 */
function buildDemoCitFeatures(size: number): Model {
  const input = tfl.input({ shape: [size, size, 1], name: 'lineArt' });
  const negate = (name: string) =>
    tfl.layers.conv2d({
      name,
      filters: 1,
      kernelSize: 1,
      useBias: false,
      trainable: false,
      kernelInitializer: tfl.initializers.constant({ value: -1 }),
    });
  const mean = tfl.layers.averagePooling2d({ poolSize: 8, strides: 8, padding: 'valid' }).apply(input);
  const negated = negate('negate_in').apply(input);
  const minimum = negate('negate_out').apply(
    tfl.layers.maxPooling2d({ poolSize: 8, strides: 8, padding: 'valid' }).apply(negated),
  );
  const features = tfl.layers.concatenate({ axis: 3 }).apply([mean, minimum] as tfl.SymbolicTensor[]);
  return tfl.model({ name: 'demo_cit_features', inputs: input, outputs: features as tfl.SymbolicTensor });
}

/**
 * Reads the chosen files, builds the networks they hold and loads their weights; a demo
 * checkpoint gets the demo's line-art statistics as its CIT features.
 */
export async function loadWeightFiles(
  files: readonly File[],
  onProgress?: (fraction: number, event: LoadProgressEvent) => void,
): Promise<LoadedModels> {
  const colorizer = await loadColorizer(files, {
    citExtractor: (context) => (isDemoGenerator(context) ? buildDemoCitFeatures(context.config.inputSize) : undefined),
    onProgress,
  });
  return { colorizer, summary: describeColorizer(colorizer), dispose: () => colorizer.dispose() };
}

/** Grey values → canvas, for the browser's own resampling. */
function greyCanvas(image: GreyImage): OffscreenCanvas {
  const canvas = new OffscreenCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d')!;
  const pixels = ctx.createImageData(image.width, image.height);
  for (let i = 0; i < image.data.length; i++) {
    const v = Math.round(image.data[i]! * 255);
    pixels.data[4 * i] = pixels.data[4 * i + 1] = pixels.data[4 * i + 2] = v;
    pixels.data[4 * i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas;
}

/** Resamples with the browser's high-quality filter (the page's stand-in for Node's Lanczos). */
function resample(source: OffscreenCanvas, width: number, height: number): OffscreenCanvas {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, width, height);
  return canvas;
}

/**
 * Colourises a grey line art with the chosen colour tags, the way `colorize` in tag2pix/node
 * does for a file: the longer side is scaled to the generator's size, the library's
 * `colorizeTensor` pads it white to a square, runs the networks and crops the square back, and
 * the crop is scaled back to the line art's size.
 */
export async function colorize(
  models: LoadedModels,
  lineArt: GreyImage,
  tags: ReadonlyArray<Tag>,
): Promise<ColorizeResult> {
  const size = models.colorizer.config.inputSize;
  const scale = size / Math.max(lineArt.width, lineArt.height);
  let input: GreyImage = lineArt;
  if (scale !== 1) {
    const width = Math.max(1, Math.round(lineArt.width * scale));
    const height = Math.max(1, Math.round(lineArt.height * scale));
    const fitted = resample(greyCanvas(lineArt), width, height);
    const rgba = fitted.getContext('2d')!.getImageData(0, 0, width, height).data;
    const data = new Float32Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = rgba[4 * i]! / 255;
    input = { width, height, data };
  }
  const output = tf.tidy(() =>
    colorizeTensor({
      lineArt: tf.tensor2d(input.data, [input.height, input.width]),
      tags,
      generator: models.colorizer.generator,
      citExtractor: models.colorizer.citExtractor,
      restoreSize: false,
    }),
  );
  const [height, width] = output.shape;
  let color: Float32Array;
  try {
    color = (await output.data()) as Float32Array;
  } finally {
    output.dispose();
  }
  const modelRgb = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) modelRgb[4 * i + c] = Math.round(color[3 * i + c]! * 255);
    modelRgb[4 * i + 3] = 255;
  }
  let rgba = modelRgb;
  if (width !== lineArt.width || height !== lineArt.height) {
    const atModel = new OffscreenCanvas(width, height);
    atModel.getContext('2d')!.putImageData(new ImageData(modelRgb, width, height), 0, 0);
    const restored = resample(atModel, lineArt.width, lineArt.height);
    rgba = restored.getContext('2d')!.getImageData(0, 0, lineArt.width, lineArt.height).data;
  }
  const rgb = new Uint8Array(lineArt.width * lineArt.height * 3);
  for (let i = 0; i < lineArt.width * lineArt.height; i++) {
    rgb[3 * i] = rgba[4 * i]!;
    rgb[3 * i + 1] = rgba[4 * i + 1]!;
    rgb[3 * i + 2] = rgba[4 * i + 2]!;
  }
  return { width: lineArt.width, height: lineArt.height, rgb, color, colorWidth: width, colorHeight: height };
}
