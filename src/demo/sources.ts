// The demo's training data: synthetic characters as deterministic, resumable training sources
// (a fixed set, or new characters every batch), and the stand-in for the CIT features.
import * as tf from '@tensorflow/tfjs-core';
import type { CharacterSpec } from '../data/synth/character.js';
import { renderSample, synthBatch, generateCharacter, type SynthSample } from '../data/synth/dataset.js';
import type { TagFamily } from '../data/synth/palette.js';
import { Rng } from '../data/random.js';
import type { TrainingBatch, TrainingDataSource } from '../training/batch.js';

/**
 * The CIT extractor is a classifier pretrained on Danbooru line art; the demo has none, so its
 * features are replaced by two pooled statistics of the line art at S/8 (mean and minimum).
 */
export function lineArtFeatures(lineArt: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.concat([tf.avgPool(lineArt, 8, 8, 'valid'), tf.neg(tf.maxPool(tf.neg(lineArt), 8, 8, 'valid'))], 3),
  ) as tf.Tensor4D;
}

/** Where a {@link synthTrainingSource} continues: the epoch and the next batch in it. */
export interface SynthCursor {
  epoch: number;
  batch: number;
}

/** In-memory synthetic samples as a deterministic, resumable training source. */
export function synthTrainingSource(samples: readonly SynthSample[], batchSize: number, seed: number): TrainingDataSource<SynthCursor> {
  const batchesPerEpoch = Math.floor(samples.length / batchSize);
  if (batchesPerEpoch < 1) throw new Error(`The demo needs at least one batch: ${samples.length} samples < batch size ${batchSize}.`);
  return {
    batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const order = new Rng(seed * 7919 + epoch).shuffle(Array.from({ length: samples.length }, (_, i) => i));
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < batchesPerEpoch; b++) {
        const batch = synthBatch(order.slice(b * batchSize, (b + 1) * batchSize).map((i) => samples[i]!));
        yield { ...batch, citFeatures: lineArtFeatures(batch.lineArt), cursor: { epoch, batch: b + 1 } };
      }
    },
  };
}

/** Options of {@link freshSynthSource}. */
export interface FreshSynthOptions {
  batchSize: number;
  batchesPerEpoch: number;
  seed: number;
  size: number;
  colorChoices: Readonly<Record<TagFamily, readonly string[]>>;
  /** Tag combinations training must not contain. */
  reject?: (spec: CharacterSpec) => boolean;
  /**
   * Colourings of each line art in a batch (default 1). With 2, a batch holds batchSize / 2 line
   * arts, each twice with different colours, so only the tags tell the two targets apart.
   */
  colorsPerLineArt?: number;
}

/**
 * New characters for every batch of every epoch (deterministic in seed, epoch and batch, so
 * resumable): a fixed set of a thousand line arts lets the generator recall a training
 * character's colours from its line art instead of reading the tags.
 */
export function freshSynthSource(o: FreshSynthOptions): TrainingDataSource<SynthCursor> {
  const k = o.colorsPerLineArt ?? 1;
  if (!Number.isInteger(k) || k < 1 || o.batchSize % k !== 0) {
    throw new Error(`coloursPerLineArt must be a positive integer dividing the batch size ${o.batchSize}, got ${k}.`);
  }
  const arts = o.batchSize / k;
  const synth = { size: o.size, colorChoices: o.colorChoices, seed: o.seed, reject: o.reject };
  const batchAt = (epoch: number, b: number): SynthSample[] => {
    const out: SynthSample[] = [];
    for (let a = 0; a < arts; a++) {
      const index = ((epoch - 1) * o.batchesPerEpoch + b) * arts + a;
      const base = generateCharacter(index, synth);
      out.push(base);
      const rng = new Rng(o.seed + 7777, index);
      for (let j = 1; j < k; j++) out.push(renderSample(recolored(base.spec, rng, o.colorChoices, o.reject), o.size));
    }
    return out;
  };
  return {
    batchesPerEpoch: o.batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < o.batchesPerEpoch; b++) {
        const batch = synthBatch(batchAt(epoch, b));
        yield { ...batch, citFeatures: lineArtFeatures(batch.lineArt), cursor: { epoch, batch: b + 1 } };
      }
    },
  };
}

/** The same character with new colours for the families it has (avoiding `reject`ed specs). */
function recolored(
  spec: CharacterSpec,
  rng: Rng,
  choices: Readonly<Record<TagFamily, readonly string[]>>,
  reject?: (spec: CharacterSpec) => boolean,
): CharacterSpec {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const colors: Partial<Record<TagFamily, string>> = {};
    for (const family of Object.keys(spec.colors) as TagFamily[]) colors[family] = rng.pick(choices[family]);
    const next = { ...spec, colors };
    if (!reject || !reject(next)) return next;
  }
  throw new Error('recoloured: every colouring was rejected.');
}

