import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { defaultVocabulary, resolveColorTags, type Tag, type TagVocabulary } from '../data/tags.js';

/** Options of {@link colorizeTensor}. */
export interface ColorizeTensorOptions {
  /**
   * The line art: `[H, W]`, `[H, W, 1]`, `[H, W, 3]` or with a batch axis of 1, values in [0, 1]
   * (white = 1). RGB is converted to grey with ITU-R 601 weights, as PIL's `convert('L')`.
   */
  lineArt: tf.Tensor;
  /**
   * Colour-variant tags (CVT): names (`['blue_hair', 'red_eyes']`, or one string
   * `'blue_hair, red_eyes'`), Danbooru ids, or resolved tags. An unknown name is an error naming
   * the nearest known tags; a colour-invariant tag is an error too (the CIT extractor reads
   * those from the line art).
   */
  tags: string | ReadonlyArray<string | number | Tag>;
  /** A generator from `buildTag2PixGenerator` with weights loaded. */
  generator: LayersModel;
  /** The CIT extractor (`buildCITExtractor`), required when the generator takes CIT features. */
  citExtractor?: LayersModel;
  /**
   * Working size. Default and only supported value: the generator's input size (256 or 512 for
   * the published models); given explicitly it must match, to catch a 256/512 mix-up.
   */
  size?: number;
  /** Tag vocabulary. Default: the published Tag2Pix vocabulary. */
  vocabulary?: TagVocabulary;
  /** Which generator output: `'colour'` (default) or `'guide'` (the guide decoder's). */
  output?: 'colour' | 'guide';
  /**
   * Resize the result back to the line art's size (bilinear). Default true; false returns the
   * crop at model resolution (e.g. to resize it with a better filter).
   */
  restoreSize?: boolean;
}

/** Where the line art sits inside the padded square, in model pixels. */
export interface ColorizeGeometry {
  /** Side of the white-padded square, in line-art pixels. */
  side: number;
  /** Top-left of the line art in the square, in line-art pixels. */
  top: number;
  left: number;
}

/** Square that holds an `h × w` image centred, padded with white. */
export function squareGeometry(height: number, width: number): ColorizeGeometry {
  const side = Math.max(height, width);
  return { side, top: Math.floor((side - height) / 2), left: Math.floor((side - width) / 2) };
}

/** The CVT multi-hot vector `[1, numCvt]` of the tags, checked as `resolveColorTags` does. */
export function encodeColorTags(
  tags: string | ReadonlyArray<string | number | Tag>,
  vocabulary: TagVocabulary = defaultVocabulary(),
): tf.Tensor2D {
  const v = vocabulary.encode(resolveColorTags(tags, vocabulary)).cvt;
  return tf.tensor2d(v, [1, v.length]);
}

function greyLineArt(lineArt: tf.Tensor): tf.Tensor3D {
  let x = lineArt;
  if (x.rank === 4) {
    if (x.shape[0] !== 1) {
      throw new Error(`colorize: give one line art at a time; got a batch of ${x.shape[0]} ([${x.shape.join(', ')}]).`);
    }
    x = tf.squeeze(x, [0]);
  }
  if (x.rank === 2) x = tf.expandDims(x, 2);
  if (x.rank !== 3 || (x.shape[2] !== 1 && x.shape[2] !== 3)) {
    throw new Error(
      `colorize: the line art must be [H, W], [H, W, 1] or [H, W, 3] (optionally with a batch of 1), got [${lineArt.shape.join(', ')}].`,
    );
  }
  x = tf.cast(x, 'float32');
  if (x.shape[2] === 3) {
    x = tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), 2, true);
  }
  return x as tf.Tensor3D;
}

/**
 * Colourises one line art with a Tag2Pix generator, tensor in, tensor out (browser-safe; see
 * `tag2pix/node` for files and Buffers).
 *
 * The line art is centred on a white square (keeping its aspect ratio), resized to the
 * generator's size, passed through the CIT extractor (when the generator uses CIT features) and
 * the generator with the colour tags' multi-hot vector; the square's result is cropped back to
 * the line art's region. Returns RGB `[H, W, 3]` in [0, 1] (the caller owns it).
 */
export function colorizeTensor(options: ColorizeTensorOptions): tf.Tensor3D {
  const { generator, citExtractor } = options;
  const inputs = generator.inputs;
  if (inputs.length !== 2 && inputs.length !== 3) {
    throw new Error(`colorize: expected a Tag2Pix generator (inputs [lineArt, citFeatures?, cvt]); this model has ${inputs.length} inputs.`);
  }
  const size = inputs[0].shape[1];
  if (size == null) throw new Error('colorize: the generator has no fixed input size.');
  if (options.size !== undefined && options.size !== size) {
    throw new Error(
      `colorize: size ${options.size} was asked for, but this generator works at ${size} px; ` +
        `build (and load weights into) a ${options.size} px generator, or drop the size option.`,
    );
  }
  const usesCit = inputs.length === 3;
  if (usesCit && !citExtractor) {
    throw new Error(
      'colorize: this generator takes CIT features; pass citExtractor (buildCITExtractor with the CIT weights, ' +
        "batchNormMode 'batch-stats' as the published code).",
    );
  }
  const vocabulary = options.vocabulary ?? defaultVocabulary();
  const cvtLength = inputs[inputs.length - 1].shape[1];
  if (cvtLength !== vocabulary.numCvt) {
    throw new Error(`colorize: the generator takes ${cvtLength} colour tags but the vocabulary has ${vocabulary.numCvt}.`);
  }
  const outputIndex = (options.output ?? 'colour') === 'colour' ? 0 : 1;
  const restoreSize = options.restoreSize ?? true;

  return tf.tidy(() => {
    const cvt = encodeColorTags(options.tags, vocabulary);
    const grey = greyLineArt(options.lineArt);
    const [h, w] = grey.shape;
    const g = squareGeometry(h, w);
    const square = tf.pad(grey, [[g.top, g.side - h - g.top], [g.left, g.side - w - g.left], [0, 0]], 1);
    let model = tf.expandDims(square, 0) as tf.Tensor4D;
    if (g.side !== size) model = tf.image.resizeBilinear(model, [size, size]);
    model = tf.clipByValue(model, 0, 1);
    const modelInputs: tf.Tensor[] = [model];
    if (usesCit) {
      const features = citExtractor!.predict(model) as tf.Tensor;
      const expected = inputs[1].shape;
      if (features.shape.slice(1).join(',') !== expected.slice(1).join(',')) {
        throw new Error(
          `colorize: the CIT extractor gives [${features.shape.slice(1).join(', ')}] features but the generator expects ` +
            `[${expected.slice(1).join(', ')}]; build both at the same size.`,
        );
      }
      modelInputs.push(features);
    }
    modelInputs.push(cvt);
    const outputs = generator.predict(modelInputs) as tf.Tensor[];
    const rgb = tf.div(tf.add(outputs[outputIndex], 1), 2) as tf.Tensor4D;
    // Crop the line art's region out of the square, in model pixels.
    const scale = size / g.side;
    const top = Math.round(g.top * scale);
    const left = Math.round(g.left * scale);
    const ch = Math.max(1, Math.min(size - top, Math.round(h * scale)));
    const cw = Math.max(1, Math.min(size - left, Math.round(w * scale)));
    let crop = tf.slice(rgb, [0, top, left, 0], [1, ch, cw, 3]);
    if (restoreSize && (ch !== h || cw !== w)) crop = tf.image.resizeBilinear(crop, [h, w]);
    return tf.clipByValue(tf.squeeze(crop, [0]), 0, 1) as tf.Tensor3D;
  });
}
