// The demo's training data: synthetic characters as deterministic, resumable training sources
// (a fixed set, or new characters every batch, some framed as close-ups), with the CIT features
// of each batch.
import * as tf from '@tensorflow/tfjs-core';
import { sampleCharacterSpec, type CharacterSpec } from '../data/synth/character.js';
import { faceCloseUp, regionCloseUp } from '../data/synth/close_up.js';
import { renderSample, synthBatch, type SynthSample } from '../data/synth/dataset.js';
import type { TagFamily } from '../data/synth/palette.js';
import { checkCloseUpBorder, checkRegionWeights, regionPixelWeights, type RegionWeights } from '../data/synth/pixel_weights.js';
import { Rng } from '../data/random.js';
import type { TrainingBatch, TrainingDataSource } from '../training/batch.js';

/** CIT features of a batch of line arts, `[N, S/8, S/8, C]` (the caller disposes them). */
export type CitFeatureFn = (lineArt: tf.Tensor4D) => tf.Tensor4D;

/**
 * The demo's former stand-in for the CIT features, before it had the synthetic CIT extractor:
 * two pooled statistics of the line art at S/8 (mean and minimum). Kept as a baseline for
 * experiments (`bench/demo_recipe.ts --extractor stats`).
 */
export function lineArtFeatures(lineArt: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.concat([tf.avgPool(lineArt, 8, 8, 'valid'), tf.neg(tf.maxPool(tf.neg(lineArt), 8, 8, 'valid'))], 3),
  ) as tf.Tensor4D;
}

/**
 * The batch of `samples` with its CIT features and, when `regionWeights` names any region or a
 * close-up's border is left out, the `pixelWeights` of G's reconstruction loss.
 */
function trainingBatch(
  samples: readonly SynthSample[],
  citFeatures: CitFeatureFn,
  regionWeights: RegionWeights,
  cursor: SynthCursor,
  closeUpBorder = 0,
): TrainingBatch<SynthCursor> {
  const batch = synthBatch(samples);
  const weighted = Object.keys(regionWeights).length > 0 || (closeUpBorder > 0 && samples.some((s) => (s.spec.shape.zoom ?? 1) > 1));
  return { ...batch, citFeatures: citFeatures(batch.lineArt), ...(weighted ? { pixelWeights: regionPixelWeights(samples, regionWeights, { closeUpBorder }) } : {}), cursor };
}

/** Where a {@link synthTrainingSource} continues: the epoch and the next batch in it. */
export interface SynthCursor {
  epoch: number;
  batch: number;
}

/**
 * In-memory synthetic samples as a deterministic, resumable training source; with
 * `regionWeights`, each batch carries the `pixelWeights` of G's reconstruction loss.
 */
export function synthTrainingSource(
  samples: readonly SynthSample[],
  batchSize: number,
  seed: number,
  citFeatures: CitFeatureFn,
  regionWeights: RegionWeights = {},
): TrainingDataSource<SynthCursor> {
  checkRegionWeights(regionWeights);
  const batchesPerEpoch = Math.floor(samples.length / batchSize);
  if (batchesPerEpoch < 1) throw new Error(`The demo needs at least one batch: ${samples.length} samples < batch size ${batchSize}.`);
  return {
    batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const order = new Rng(seed * 7919 + epoch).shuffle(Array.from({ length: samples.length }, (_, i) => i));
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < batchesPerEpoch; b++) {
        const chosen = order.slice(b * batchSize, (b + 1) * batchSize).map((i) => samples[i]!);
        yield trainingBatch(chosen, citFeatures, regionWeights, { epoch, batch: b + 1 });
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
  /**
   * Share of the line arts of a batch drawn as close-ups (default 0): the character's own tags
   * and colours, the figure `closeUpZoom` times larger, so the small regions get several times
   * more pixels. The test characters stay full figures.
   */
  closeUpShare?: number;
  /** Range of the close-ups' zoom, drawn uniformly per line art (default {@link CLOSE_UP_ZOOM}). */
  closeUpZoom?: readonly [number, number];
  /**
   * Where a close-up puts what it frames (default `'centre'`): `'centre'`, the eyes at the middle
   * of the image; `'anywhere'`, the eyes or (for half the characters that have one) the bow at
   * a point drawn uniformly in the middle half of the image. Centred eyes let the generator
   * learn eye colours for the image centre only (docs/results.md).
   */
  closeUpPlacement?: CloseUpPlacement;
  /**
   * Probability that a line art (with its colourings) is drawn mirrored left to right (default
   * 0), as the published training flips half its images. It did not stop the demo's generator
   * painting a speckle at its own left edge (docs/results.md, tenth round).
   */
  flipProbability?: number;
  /**
   * Width of the close-ups' border, as a fraction of the image side, that G's reconstruction
   * loss leaves out (default 0; see `regionPixelWeights`).
   */
  closeUpBorder?: number;
  /**
   * Weights of the regions in G's reconstruction loss (see `regionPixelWeights`); absent or
   * empty: every pixel counts the same, as published.
   */
  regionWeights?: RegionWeights;
  /** The CIT features of each batch. */
  citFeatures: CitFeatureFn;
}

/** Default zoom range of the demo's close-ups. */
export const CLOSE_UP_ZOOM: readonly [number, number] = [1.6, 2.2];

/** Where close-ups put what they frame: see {@link FreshSynthOptions.closeUpPlacement}. */
export const CLOSE_UP_PLACEMENTS = ['centre', 'anywhere'] as const;
export type CloseUpPlacement = (typeof CLOSE_UP_PLACEMENTS)[number];

/**
 * New characters for every batch of every epoch (deterministic in seed, epoch and batch, so
 * resumable): a fixed set of a thousand line arts lets the generator recall a training
 * character's colours from its line art instead of reading the tags.
 */
export function freshSynthSource(o: FreshSynthOptions): TrainingDataSource<SynthCursor> {
  const batchAt = freshSynthBatches(o);
  const regionWeights = o.regionWeights ?? {};
  checkRegionWeights(regionWeights);
  checkCloseUpBorder(o.closeUpBorder ?? 0);
  return {
    batchesPerEpoch: o.batchesPerEpoch,
    brightnessStage: false,
    async *epoch(epoch: number, options: { from?: SynthCursor } = {}): AsyncIterable<TrainingBatch<SynthCursor>> {
      const start = options.from && options.from.epoch === epoch ? options.from.batch : 0;
      for (let b = start; b < o.batchesPerEpoch; b++) {
        yield trainingBatch(batchAt((epoch - 1) * o.batchesPerEpoch + b), o.citFeatures, regionWeights, { epoch, batch: b + 1 }, o.closeUpBorder);
      }
    },
  };
}

/**
 * The samples of the `index`-th batch of a {@link freshSynthSource} (`citFeatures` and
 * `batchesPerEpoch` aside): deterministic in the seed and the index, so the demo also draws the
 * CIT extractor's pretraining batches from it (with another seed).
 */
export function freshSynthBatches(o: Omit<FreshSynthOptions, 'citFeatures' | 'batchesPerEpoch'>): (index: number) => SynthSample[] {
  const k = o.colorsPerLineArt ?? 1;
  if (!Number.isInteger(k) || k < 1 || o.batchSize % k !== 0) {
    throw new Error(`colorsPerLineArt must be a positive integer dividing the batch size ${o.batchSize}, got ${k}.`);
  }
  const share = o.closeUpShare ?? 0;
  if (!(share >= 0 && share <= 1)) throw new Error(`closeUpShare must be between 0 and 1, got ${String(share)}.`);
  const [zoomMin, zoomMax] = o.closeUpZoom ?? CLOSE_UP_ZOOM;
  if (!(zoomMin >= 1 && zoomMax >= zoomMin)) throw new Error(`closeUpZoom must be [min, max] with 1 <= min <= max, got [${zoomMin}, ${zoomMax}].`);
  const placement = o.closeUpPlacement ?? 'centre';
  if (!CLOSE_UP_PLACEMENTS.includes(placement)) {
    throw new Error(`closeUpPlacement must be one of ${CLOSE_UP_PLACEMENTS.join(', ')}, got ${String(placement)}.`);
  }
  const flip = o.flipProbability ?? 0;
  if (!(flip >= 0 && flip <= 1)) throw new Error(`flipProbability must be between 0 and 1, got ${String(flip)}.`);
  const arts = o.batchSize / k;
  const closeUps = Math.round(share * arts);
  const specOptions = { colorChoices: o.colorChoices, reject: o.reject };
  return (batchIndex: number): SynthSample[] => {
    const out: SynthSample[] = [];
    for (let a = 0; a < arts; a++) {
      const index = batchIndex * arts + a;
      // As generateCharacter(index, { seed, size, colorChoices, reject }); the first line arts of
      // the batch as close-ups.
      let spec = sampleCharacterSpec(new Rng(o.seed, index), specOptions);
      if (a < closeUps) {
        const framing = new Rng(o.seed + 4000, index);
        const zoom = framing.uniform(zoomMin, zoomMax);
        if (placement === 'centre') spec = faceCloseUp(spec, zoom, 0.5);
        else {
          // Half the close-ups of a character with a bow frame the bow, which the eyes' crop
          // out; anywhere in the middle half of the image, so no place is where eyes always are.
          const region = spec.bow && framing.chance(0.5) ? 'bow' : 'eyes';
          spec = regionCloseUp(spec, zoom, region, [framing.uniform(0.25, 0.75), framing.uniform(0.25, 0.75)]);
        }
      }
      if (flip > 0 && new Rng(o.seed + 5000, index).chance(flip)) spec = { ...spec, shape: { ...spec.shape, mirrored: true } };
      out.push(renderSample(spec, o.size));
      const rng = new Rng(o.seed + 7777, index);
      for (let j = 1; j < k; j++) out.push(renderSample(recolored(spec, rng, o.colorChoices, o.reject), o.size));
    }
    return out;
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

