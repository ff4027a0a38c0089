import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  UnknownTagError,
  buildCITExtractor,
  buildTag2PixGenerator,
  colorizeTensor,
  defaultVocabulary,
  encodeColorTags,
  squareGeometry,
} from '../../src/index.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

/**
 * A stand-in generator with the Tag2Pix inputs whose colour output is the line art itself
 * (`2·x − 1`, so colorize's `(y + 1) / 2` gives x back), to test the padding and cropping exactly.
 */
function echoGenerator(size: number, withCit = true): { generator: tfl.LayersModel; citExtractor: tfl.LayersModel } {
  const lineArt = tfl.input({ shape: [size, size, 1] });
  const cit = tfl.input({ shape: [size / 8, size / 8, 512] });
  const cvt = tfl.input({ shape: [115] });
  const echo = tfl.layers.conv2d({
    filters: 3,
    kernelSize: 1,
    weights: [tf.fill([1, 1, 1, 3], 2), tf.fill([3], -1)],
  });
  const color = echo.apply(lineArt) as tfl.SymbolicTensor;
  const guide = tfl.layers.activation({ activation: 'linear' }).apply(color) as tfl.SymbolicTensor;
  const generator = tfl.model({ inputs: withCit ? [lineArt, cit, cvt] : [lineArt, cvt], outputs: [color, guide] });
  const citIn = tfl.input({ shape: [size, size, 1] });
  const pooled = tfl.layers.averagePooling2d({ poolSize: 8 }).apply(citIn) as tfl.SymbolicTensor;
  const features = tfl.layers.conv2d({ filters: 512, kernelSize: 1 }).apply(pooled) as tfl.SymbolicTensor;
  return { generator, citExtractor: tfl.model({ inputs: citIn, outputs: features }) };
}

describe('colorizeTensor', () => {
  it('pads to a white square and crops back exactly (no resize when the long side fits)', async () => {
    const { generator, citExtractor } = echoGenerator(32);
    const lineArt = randomTensor([32, 20, 1], 1, 0, 1);
    const rgb = colorizeTensor({ lineArt, tags: ['blue_hair'], generator, citExtractor });
    expect(rgb.shape).toEqual([32, 20, 3]);
    expect(await maxAbsDiff(rgb, tf.tile(lineArt, [1, 1, 3]))).toBeLessThan(1e-6);
    expect(squareGeometry(32, 20)).toEqual({ side: 32, top: 0, left: 6 });
    expect(squareGeometry(10, 17)).toEqual({ side: 17, top: 3, left: 0 });
  });

  it('feeds the model a white-padded, resized square and restores the original size', async () => {
    const size = 32;
    const { generator, citExtractor } = echoGenerator(size);
    // A grey 12×48 strip: the model sees it centred in a white 32×32 square.
    const lineArt = tf.fill([12, 48, 1], 0.25);
    const rgb = colorizeTensor({ lineArt, tags: [], generator, citExtractor });
    expect(rgb.shape).toEqual([12, 48, 3]);
    // Away from the border rows (where bilinear resizing meets the white padding) it is the strip.
    const inner = tf.slice(rgb, [3, 0, 0], [6, 48, 3]);
    expect(await maxAbsDiff(inner, tf.fill(inner.shape, 0.25))).toBeLessThan(1e-5);
    const small = colorizeTensor({ lineArt, tags: [], generator, citExtractor, restoreSize: false });
    expect(small.shape).toEqual([8, 32, 3]);
  });

  it('accepts RGB line art ([H, W, 3] or with a batch of 1) as grey', async () => {
    const { generator, citExtractor } = echoGenerator(16);
    const rgb = tf.stack([tf.fill([16, 16], 1), tf.fill([16, 16], 0), tf.fill([16, 16], 0)], 2);
    const out = colorizeTensor({ lineArt: tf.expandDims(rgb, 0), tags: [], generator, citExtractor });
    expect(await maxAbsDiff(out, tf.fill([16, 16, 3], 0.299))).toBeLessThan(1e-6);
  });

  it('runs a real (narrow, untrained) generator and CIT extractor end to end, without leaks', async () => {
    const generator = buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] });
    const citExtractor = buildCITExtractor({ inputSize: 32, batchNormMode: 'batch-stats' });
    const lineArt = randomTensor([40, 24, 1], 2, 0, 1);
    tf.dispose(colorizeTensor({ lineArt, tags: 'blue_hair, red_eyes', generator, citExtractor }));
    const before = tf.memory().numTensors;
    const rgb = colorizeTensor({ lineArt, tags: 'blue_hair, red_eyes', generator, citExtractor });
    expect(rgb.shape).toEqual([40, 24, 3]);
    const [lo, hi] = tf.tidy(() => [tf.min(rgb).dataSync()[0], tf.max(rgb).dataSync()[0]]);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    rgb.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Different tags, different colours.
    const other = colorizeTensor({ lineArt, tags: ['green_hair'], generator, citExtractor });
    const again = colorizeTensor({ lineArt, tags: 'blue_hair, red_eyes', generator, citExtractor });
    expect(await maxAbsDiff(other, again)).toBeGreaterThan(0);
  });

  it('works with a generator without the CIT path (no extractor needed)', () => {
    const generator = buildTag2PixGenerator({
      inputSize: 16,
      widthMultiplier: 0.125,
      decoderLayers: [1, 1, 1, 1],
      citFeatures: false,
    });
    const rgb = colorizeTensor({ lineArt: tf.ones([16, 16]), tags: ['blue_hair'], generator, output: 'guide' });
    expect(rgb.shape).toEqual([16, 16, 3]);
  });

  it('names the problem: unknown tags (with the nearest names), CIT tags, sizes, missing extractor', () => {
    const { generator, citExtractor } = echoGenerator(16);
    const lineArt = tf.ones([16, 16, 1]);
    const run = (extra: object) => () => colorizeTensor({ lineArt, tags: [], generator, citExtractor, ...extra });
    expect(run({ tags: ['blue_hiar'] })).toThrow(UnknownTagError);
    expect(run({ tags: ['blue_hiar'] })).toThrow(/blue_hair/);
    expect(run({ tags: ['long_hair'] })).toThrow(/'long_hair' is not a colour tag/);
    // The colour tags it suggests are of the same part (hair), not the vocabulary's first (legwear).
    expect(run({ tags: ['long_hair'] })).toThrow(/Give colour tags such as blonde_hair, brown_hair, black_hair;/);
    expect(run({ tags: ['skirt'] })).toThrow(/Give colour tags such as \w+_(legwear|skirt|shorts|pants|thighhighs|pantyhose|socks)\b/);
    expect(run({ size: 512 })).toThrow(/size 512 was asked for, but this generator works at 16 px/);
    expect(run({ citExtractor: undefined })).toThrow(/pass citExtractor/);
    expect(run({ lineArt: tf.ones([2, 16, 16, 1]) })).toThrow(/one line art at a time/);
    expect(run({ lineArt: tf.ones([16, 16, 2]) })).toThrow(/\[H, W\], \[H, W, 1\] or \[H, W, 3\]/);
  });
});

describe('encodeColorTags', () => {
  it('sets exactly the named colour tags, from names, a string, ids or tags', () => {
    const vocabulary = defaultVocabulary();
    const blue = vocabulary.get('blue_hair');
    const red = vocabulary.get('red_eyes');
    const v = encodeColorTags(['blue_hair', 'red eyes']).dataSync();
    expect(v.length).toBe(115);
    expect(Array.from(v).reduce((a, b) => a + b, 0)).toBe(2);
    expect(v[blue.index]).toBe(1);
    expect(v[red.index]).toBe(1);
    expect(Array.from(encodeColorTags('blue_hair, red_eyes').dataSync())).toEqual(Array.from(v));
    expect(Array.from(encodeColorTags([blue, red.id!]).dataSync())).toEqual(Array.from(v));
  });
});
