// From chosen files to colours: read the .safetensors files, build the networks they describe,
// load the weights (listing every mismatch), and colourise with the library.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { GreyImage } from './image.js';
import { buildCITExtractor, buildTag2PixGenerator, colorizeTensor, exportTorchStateDict, loadTorchStateDict, type Tag } from 'tag2pix';
import { readSafetensors, readSafetensorsHeader } from 'tag2pix/io';
import { describePlan, planWeights, type WeightFile, type WeightPlan } from './weights.js';

type Model = ReturnType<typeof buildTag2PixGenerator>;

/** The networks, ready to colourise. */
export interface LoadedModels {
  plan: WeightPlan;
  generator: Model;
  citExtractor?: Model;
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

const MAX_LISTED = 40;
const CIT_CLASSIFIER_ONLY = /^(layer3|layer4|fc)\./;

/**
 * Compares the networks' weights with a state dict by key and shape, before anything is
 * written, so the page can list every problem at once in plain words.
 */
function mismatches(model: Model, file: WeightFile, prefix: string, ignore?: RegExp): string[] {
  const expected = exportTorchStateDict(model);
  const shapes = new Map<string, number[]>();
  for (const [key, entry] of Object.entries(readSafetensorsHeader(file.bytes).tensors)) {
    const k = key.startsWith('module.') ? key.slice('module.'.length) : key;
    if (!k.startsWith(prefix)) continue;
    const own = k.slice(prefix.length);
    if (!ignore?.test(own)) shapes.set(own, entry.shape);
  }
  const problems: string[] = [];
  try {
    for (const [key, tensor] of Object.entries(expected)) {
      const found = shapes.get(key);
      if (!found) problems.push(`missing: ${prefix}${key} [${tensor.shape.join(', ')}]`);
      else if (found.join() !== tensor.shape.join()) {
        problems.push(`wrong shape: ${prefix}${key} is [${found.join(', ')}], the network needs [${tensor.shape.join(', ')}]`);
      }
      shapes.delete(key);
    }
  } finally {
    tf.dispose(Object.values(expected));
  }
  for (const [key, shape] of shapes) problems.push(`not used by the network: ${prefix}${key} [${shape.join(', ')}]`);
  return problems;
}

function refuse(file: WeightFile, what: string, problems: string[]): never {
  const listed = problems.slice(0, MAX_LISTED);
  if (problems.length > MAX_LISTED) listed.push(`… and ${problems.length - MAX_LISTED} more`);
  throw new Error([`The weights in '${file.name}' do not fit the ${what} (${problems.length} problems):`, ...listed].join('\n'));
}

function load(model: Model, file: WeightFile, prefix: string, what: string, ignore?: RegExp): void {
  const problems = mismatches(model, file, prefix, ignore);
  if (problems.length > 0) refuse(file, what, problems);
  const stateDict = readSafetensors(file.bytes, {
    filter: (key) => (key.startsWith('module.') ? key.slice('module.'.length) : key).startsWith(prefix),
  });
  try {
    loadTorchStateDict(model, stateDict, { prefix, ignore: ignore && ((key) => ignore.test(key.slice(prefix.length))) });
  } finally {
    tf.dispose(Object.values(stateDict));
  }
}

/**
 * Loads a training checkpoint's generator weights, keyed `G:<weight name>` in the model's own
 * (TensorFlow.js) layouts; the discriminator and optimizer entries are not needed here.
 */
function loadCheckpoint(model: Model, file: WeightFile, what: string): void {
  const header = readSafetensorsHeader(file.bytes);
  const stored = new Map(
    Object.entries(header.tensors)
      .filter(([k]) => k.startsWith('G:'))
      .map(([k, e]) => [k.slice(2), e.shape]),
  );
  const problems: string[] = [];
  for (const w of model.weights) {
    const shape = stored.get(w.originalName);
    if (!shape) problems.push(`missing: G:${w.originalName} [${w.shape.join(', ')}]`);
    else if (shape.join() !== w.shape.join()) {
      problems.push(`wrong shape: G:${w.originalName} is [${shape.join(', ')}], the network needs [${w.shape.join(', ')}]`);
    }
    stored.delete(w.originalName);
  }
  for (const [name, shape] of stored) problems.push(`not used by the network: G:${name} [${shape.join(', ')}]`);
  if (problems.length > 0) refuse(file, what, problems);
  const tensors = readSafetensors(file.bytes, { filter: (key) => key.startsWith('G:') });
  try {
    for (const w of model.weights) w.write(tensors[`G:${w.originalName}`]!);
  } finally {
    tf.dispose(Object.values(tensors));
  }
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

/** Reads the chosen files, builds the networks they hold and loads their weights. */
export async function loadWeightFiles(files: readonly File[]): Promise<LoadedModels> {
  const read: WeightFile[] = await Promise.all(
    files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
  );
  const plan = planWeights(read);
  const config = plan.generator.config;
  const generator = buildTag2PixGenerator(config);
  let citExtractor: Model | undefined;
  try {
    const size = `${config.inputSize} px, width × ${config.widthMultiplier}, decoder [${config.decoderLayers.join(', ')}]`;
    const what = `generator its shapes describe (${size})`;
    if (plan.generator.format === 'checkpoint') loadCheckpoint(generator, plan.generator.file, what);
    else load(generator, plan.generator.file, plan.generator.prefix, what);
    if (plan.citSource === 'demo-statistics') citExtractor = buildDemoCitFeatures(config.inputSize);
    if (plan.citExtractor) {
      // Batch statistics in the CIT extractor's BatchNorm, as the published code runs it.
      citExtractor = buildCITExtractor({ inputSize: config.inputSize, batchNormMode: 'batch-stats' });
      // The CIT classifier's own checkpoint also has layer3, layer4 and fc, which the extractor drops.
      load(citExtractor, plan.citExtractor.file, plan.citExtractor.prefix, 'CIT extractor (SE-ResNeXt-50 cut after layer2)', CIT_CLASSIFIER_ONLY);
    }
  } catch (err) {
    generator.dispose();
    citExtractor?.dispose();
    throw err;
  }
  return {
    plan,
    generator,
    citExtractor,
    summary: describePlan(plan),
    dispose() {
      generator.dispose();
      citExtractor?.dispose();
    },
  };
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
  const size = models.plan.generator.config.inputSize;
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
      generator: models.generator,
      citExtractor: models.citExtractor,
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
