import * as tf from '@tensorflow/tfjs-core';
import type { Tag2PixBatch } from '../../training/batch.js';
import type { Raster8, RasterF } from '../raster.js';
import { defaultVocabulary, type MultiHot, type TagVocabulary } from '../tags.js';
import {
  renderCharacter,
  sampleCharacterSpec,
  specCitTags,
  specCvtTags,
  type CharacterSpec,
  type SampleSpecOptions,
} from './character.js';
import type { SynthRegion } from './painter.js';
import type { TagFamily } from './palette.js';
import { Rng } from '../random.js';

/** One synthetic character: images, region masks and tags. */
export interface SynthSample {
  /** What was drawn; render it again with other `colours` for the same line art. */
  spec: CharacterSpec;
  size: number;
  /** Colour illustration, 8-bit RGB. */
  color: Raster8;
  /** Line art, 1 channel in [0, 1], white = 1. */
  lineArt: RasterF;
  /** Visible coverage of each region in [0, 1] (`size*size` each; they sum to 1 at every pixel). */
  masks: Record<SynthRegion, Float32Array>;
  /** Tag names: colour-invariant (`long_hair`, …) and colour-variant (`blue_hair`, …). */
  tags: { cit: string[]; cvt: string[] };
  /** The CVT that colours each drawn family (`{ hair: 'blue_hair', … }`). */
  familyTags: Partial<Record<TagFamily, string>>;
  /** Multi-hot CIT and CVT vectors in the vocabulary's order. */
  multiHot: MultiHot;
}

/** Options of {@link generateCharacter} and {@link synthCharacters}. */
export interface SynthOptions extends SampleSpecOptions {
  /** Image size in pixels (default 128). */
  size?: number;
  /** Dataset seed (default 0): sample i of seed s is always the same character. */
  seed?: number;
  /** Vocabulary for the multi-hot vectors (default: the published Tag2Pix vocabulary). */
  vocabulary?: TagVocabulary;
}

/** Draws a described character and attaches its tags. */
export function renderSample(spec: CharacterSpec, size = 128, vocabulary: TagVocabulary = defaultVocabulary()): SynthSample {
  const drawn = renderCharacter(spec, size);
  const tags = { cit: specCitTags(spec), cvt: specCvtTags(spec) };
  return {
    spec,
    size,
    color: { data: drawn.color, width: size, height: size, channels: 3 },
    lineArt: { data: drawn.lineArt, width: size, height: size, channels: 1 },
    masks: drawn.masks,
    tags,
    familyTags: { ...spec.colors },
    multiHot: vocabulary.encode([...tags.cit, ...tags.cvt]),
  };
}

/** The `index`-th character of the dataset with `options.seed`. */
export function generateCharacter(index: number, options: SynthOptions = {}): SynthSample {
  const rng = new Rng(options.seed ?? 0, index);
  return renderSample(sampleCharacterSpec(rng, options), options.size ?? 128, options.vocabulary);
}

/** `count` characters, lazily, in index order. */
export function* synthCharacters(count: number, options: SynthOptions = {}): Generator<SynthSample> {
  if (!Number.isInteger(count) || count < 0) throw new Error(`synthCharacters: count must be a non-negative integer, got ${count}`);
  for (let i = 0; i < count; i++) yield generateCharacter(i, options);
}

/**
 * Stacks samples of one size into a training batch (the caller disposes its tensors): line art
 * in [0, 1], colour in [-1, 1] as the generator outputs, multi-hot CIT and CVT.
 */
export function synthBatch(samples: readonly SynthSample[]): Tag2PixBatch {
  if (samples.length === 0) throw new Error('synthBatch: no samples given');
  const size = samples[0]!.size;
  const n = samples.length;
  const numCit = samples[0]!.multiHot.cit.length;
  const numCvt = samples[0]!.multiHot.cvt.length;
  const line = new Float32Array(n * size * size);
  const color = new Float32Array(n * size * size * 3);
  const cit = new Float32Array(n * numCit);
  const cvt = new Float32Array(n * numCvt);
  samples.forEach((s, i) => {
    if (s.size !== size) throw new Error(`synthBatch: sample ${i} is ${s.size} px but sample 0 is ${size} px; use one size per batch`);
    line.set(s.lineArt.data, i * size * size);
    const c = s.color.data;
    const off = i * size * size * 3;
    for (let k = 0; k < c.length; k++) color[off + k] = (c[k]! / 255) * 2 - 1;
    cit.set(s.multiHot.cit, i * numCit);
    cvt.set(s.multiHot.cvt, i * numCvt);
  });
  return {
    lineArt: tf.tensor4d(line, [n, size, size, 1]),
    color: tf.tensor4d(color, [n, size, size, 3]),
    cit: tf.tensor2d(cit, [n, numCit]),
    cvt: tf.tensor2d(cvt, [n, numCvt]),
  };
}
