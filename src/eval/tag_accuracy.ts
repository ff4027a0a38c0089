import * as tf from '@tensorflow/tfjs-core';
import type { Raster } from '../data/raster.js';
import { FAMILY_TAGS, TAG_FAMILIES, tagColor, type RGB } from '../data/synth/palette.js';
import { deltaE, srgbToLab, type Lab } from './color.js';

/**
 * What the metric needs of a sample: which tag colours each region, the region masks, and
 * optionally the line art (line pixels are left out of the region means) and the ground truth
 * (for the L1). {@link SynthSample} has all of them.
 */
export interface JudgeableSample {
  /** Family → requested colour tag, e.g. `{ hair: 'blue_hair', eyes: 'red_eyes' }`. */
  familyTags: Partial<Record<string, string>>;
  /** Family → region coverage in [0, 1], `width*height` values (families without a mask are skipped). */
  masks: Partial<Record<string, Float32Array>>;
  /** Line art in [0, 1], white = 1: pixels are weighted by their whiteness, so lines do not count. */
  lineArt?: Raster<Float32Array>;
  /** The true colouring, for the L1. */
  color?: Raster;
}

/** Options of {@link scoreColorings} and {@link tagAccuracy}. */
export interface TagAccuracyOptions {
  /**
   * Candidate colour tags per family (default: the synthetic generator's families,
   * {@link FAMILY_TAGS}). A region is right when the requested tag's colour is nearer to the
   * region's mean colour than the colour of every other candidate.
   */
  families?: Readonly<Record<string, readonly string[]>>;
  /** sRGB colour in [0, 1] of a tag (default: the generator's palette, {@link tagColor}). */
  colorOf?: (tag: string) => RGB;
  /** Regions whose total weight is below this many pixels are not judged (default 2). */
  minPixels?: number;
  /**
   * Only pixels that are at least this much the region and free of lines (mask × line-art
   * whiteness) count (default 0.75): anti-aliased edges mix in the neighbour's or the line's
   * colour and would bias small regions such as eyes.
   */
  minCoverage?: number;
  /** Value range of float images (default `[0, 1]`; 8-bit images are always 0..255). */
  range?: [number, number];
}

/** One judged region. */
export interface RegionJudgement {
  sample: number;
  family: string;
  requested: string;
  /** The candidate tag whose colour is nearest to the region's mean colour. */
  nearest: string;
  correct: boolean;
  /** Mean sRGB colour of the region in [0, 1]. */
  mean: RGB;
  /** ΔE*ab from the mean colour to the requested colour. */
  deltaE: number;
  /** Weight (≈ pixel count) of the region. */
  pixels: number;
}

/** Accuracy of one family. */
export interface FamilyAccuracy {
  accuracy: number;
  correct: number;
  total: number;
  /** Accuracy of guessing uniformly among the family's candidates. */
  chance: number;
}

/** The result of {@link scoreColorings} / {@link tagAccuracy}. */
export interface TagAccuracyReport {
  /** Fraction of all judged regions whose colour is right (micro average). */
  overall: number;
  /** Mean of the per-family accuracies (macro average). */
  meanOverFamilies: number;
  perFamily: Record<string, FamilyAccuracy>;
  /** Mean absolute error to the ground truth in the generator's range [-1, 1] (NaN without ground truth). */
  l1: number;
  judgements: RegionJudgement[];
}

interface Candidate {
  tag: string;
  lab: Lab;
}

function toUnitRgb(image: Raster, range: [number, number], what: string): Float32Array {
  if (image.channels !== 3) throw new Error(`${what} has ${image.channels} channels; an RGB image (3 channels) is needed.`);
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`${what} holds ${image.data.length} values; ${image.width}×${image.height}×3 needs ${image.width * image.height * 3}.`);
  }
  const out = new Float32Array(image.data.length);
  if (image.data instanceof Uint8Array) {
    for (let i = 0; i < out.length; i++) out[i] = image.data[i]! / 255;
  } else {
    const [lo, hi] = range;
    for (let i = 0; i < out.length; i++) out[i] = (image.data[i]! - lo) / (hi - lo);
  }
  return out;
}

/**
 * Judges colourings of samples: for every family colour tag of a sample, whether the mean colour
 * of the colouring over the family's region is nearest (CIELAB) to the requested colour among the
 * family's candidates. A perfect colouring scores 1; one that paints every region another
 * candidate's colour scores 0.
 */
export function scoreColorings(
  images: readonly Raster[],
  samples: readonly JudgeableSample[],
  options: TagAccuracyOptions = {},
): TagAccuracyReport {
  if (images.length !== samples.length) {
    throw new Error(`scoreColourings: ${images.length} images for ${samples.length} samples; pass one image per sample.`);
  }
  const families: Readonly<Record<string, readonly string[]>> = options.families ?? FAMILY_TAGS;
  const colorOf = options.colorOf ?? tagColor;
  const minPixels = options.minPixels ?? 2;
  const minCoverage = options.minCoverage ?? 0.75;
  const range = options.range ?? [0, 1];
  const candidates = new Map<string, Candidate[]>();
  for (const [family, tags] of Object.entries(families)) {
    candidates.set(family, tags.map((tag) => ({ tag, lab: srgbToLab(colorOf(tag)) })));
  }
  const judgements: RegionJudgement[] = [];
  let l1Sum = 0;
  let l1Count = 0;
  samples.forEach((sample, si) => {
    const image = images[si]!;
    const rgb = toUnitRgb(image, range, `Image ${si}`);
    const n = image.width * image.height;
    const line = sample.lineArt?.data;
    if (line && line.length !== n) {
      throw new Error(`Sample ${si}: the line art has ${line.length} pixels but the image has ${n}; use the same size.`);
    }
    for (const [family, requested] of Object.entries(sample.familyTags)) {
      if (requested === undefined) continue;
      const familyCandidates = candidates.get(family);
      const mask = sample.masks[family];
      if (!familyCandidates || !mask) continue;
      if (!familyCandidates.some((c) => c.tag === requested)) {
        throw new Error(
          `Sample ${si}: '${requested}' is not a candidate of family '${family}' (${familyCandidates.map((c) => c.tag).join(', ')}); ` +
            'add it to options.families.',
        );
      }
      if (mask.length !== n) throw new Error(`Sample ${si}: the ${family} mask has ${mask.length} pixels but the image has ${n}.`);
      let w = 0;
      const sum = [0, 0, 0];
      for (let p = 0; p < n; p++) {
        const weight = mask[p]! * (line ? line[p]! : 1);
        if (weight < minCoverage) continue;
        w += weight;
        for (let c = 0; c < 3; c++) sum[c]! += weight * rgb[p * 3 + c]!;
      }
      if (w < minPixels) continue;
      const mean: RGB = [sum[0]! / w, sum[1]! / w, sum[2]! / w];
      const lab = srgbToLab(mean);
      let best = familyCandidates[0]!;
      let bestD = Infinity;
      let requestedD = Infinity;
      for (const c of familyCandidates) {
        const d = deltaE(lab, c.lab);
        if (c.tag === requested) requestedD = d;
        if (d < bestD) (bestD = d), (best = c);
      }
      // Right only if strictly nearer than every other candidate (a tie is not right).
      const correct = familyCandidates.every((c) => c.tag === requested || deltaE(lab, c.lab) > requestedD);
      judgements.push({ sample: si, family, requested, nearest: correct ? requested : best.tag, correct, mean, deltaE: requestedD, pixels: w });
    }
    if (sample.color) {
      const truth = toUnitRgb(sample.color, range, `Sample ${si} ground truth`);
      if (truth.length !== rgb.length) throw new Error(`Sample ${si}: ground truth and colouring differ in size.`);
      for (let i = 0; i < rgb.length; i++) l1Sum += Math.abs(rgb[i]! - truth[i]!) * 2;
      l1Count += rgb.length;
    }
  });
  const perFamily: Record<string, FamilyAccuracy> = {};
  const order = [...TAG_FAMILIES.filter((f) => f in families), ...Object.keys(families).filter((f) => !TAG_FAMILIES.includes(f as never))];
  for (const family of order) {
    const js = judgements.filter((j) => j.family === family);
    if (js.length === 0) continue;
    const correct = js.filter((j) => j.correct).length;
    perFamily[family] = { accuracy: correct / js.length, correct, total: js.length, chance: 1 / families[family]!.length };
  }
  const fams = Object.values(perFamily);
  return {
    overall: judgements.length ? judgements.filter((j) => j.correct).length / judgements.length : NaN,
    meanOverFamilies: fams.length ? fams.reduce((a, f) => a + f.accuracy, 0) / fams.length : NaN,
    perFamily,
    l1: l1Count ? l1Sum / l1Count : NaN,
    judgements,
  };
}

/** Inputs given to a colourisation function: line art `[N,S,S,1]` in [0, 1] and multi-hot tags. */
export interface ColorizeInput {
  lineArt: tf.Tensor4D;
  cit: tf.Tensor2D;
  cvt: tf.Tensor2D;
}

/** Colours a batch; returns RGB `[N,S,S,3]` in [-1, 1] (the generator's tanh range). */
export type ColorizeFn = (input: ColorizeInput) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** A sample that can be fed to a model: judgeable, with its line art and multi-hot tags. */
export interface ColorizableSample extends JudgeableSample {
  lineArt: Raster<Float32Array>;
  multiHot: { cit: Float32Array; cvt: Float32Array };
}

/** Options of {@link tagAccuracy}. */
export interface ModelTagAccuracyOptions extends Omit<TagAccuracyOptions, 'range'> {
  /** Samples per call of the colouriser (default 8). */
  batchSize?: number;
  /** Range of the colouriser's output (default `[-1, 1]`). */
  outputRange?: [number, number];
}

/**
 * Colours `samples` with a model and scores the result with {@link scoreColorings}: per family
 * (hair, eyes, shirt, skirt, dress, hat, bow, background) and overall, plus the L1 to the ground
 * truth. `model` is a function or an object with a `colourise` method. Keeps no tensors.
 */
export async function tagAccuracy(
  model: ColorizeFn | { colorize: ColorizeFn },
  samples: readonly ColorizableSample[],
  options: ModelTagAccuracyOptions = {},
): Promise<TagAccuracyReport> {
  const colorize: ColorizeFn = typeof model === 'function' ? model : (input) => model.colorize(input);
  const batchSize = options.batchSize ?? 8;
  const outputRange = options.outputRange ?? [-1, 1];
  const images: Raster<Float32Array>[] = [];
  for (let start = 0; start < samples.length; start += batchSize) {
    const batch = samples.slice(start, start + batchSize);
    const { width, height } = batch[0]!.lineArt;
    const line = new Float32Array(batch.length * width * height);
    const numCit = batch[0]!.multiHot.cit.length;
    const numCvt = batch[0]!.multiHot.cvt.length;
    const cit = new Float32Array(batch.length * numCit);
    const cvt = new Float32Array(batch.length * numCvt);
    batch.forEach((s, i) => {
      if (s.lineArt.width !== width || s.lineArt.height !== height) {
        throw new Error(`tagAccuracy: sample ${start + i} is ${s.lineArt.width}×${s.lineArt.height}, its batch is ${width}×${height}; use one size.`);
      }
      line.set(s.lineArt.data, i * width * height);
      cit.set(s.multiHot.cit, i * numCit);
      cvt.set(s.multiHot.cvt, i * numCvt);
    });
    const input: ColorizeInput = {
      lineArt: tf.tensor4d(line, [batch.length, height, width, 1]),
      cit: tf.tensor2d(cit, [batch.length, numCit]),
      cvt: tf.tensor2d(cvt, [batch.length, numCvt]),
    };
    let output: tf.Tensor | undefined;
    try {
      output = await colorize(input);
      if (output.rank !== 4 || output.shape[0] !== batch.length || output.shape[3] !== 3) {
        throw new Error(`tagAccuracy: the colouriser returned shape [${output.shape.join(', ')}]; expected [${batch.length}, ${height}, ${width}, 3].`);
      }
      const data = (await output.data()) as Float32Array;
      const per = output.shape[1]! * output.shape[2]! * 3;
      for (let i = 0; i < batch.length; i++) {
        images.push({ data: data.slice(i * per, (i + 1) * per), width: output.shape[2]!, height: output.shape[1]!, channels: 3 });
      }
    } finally {
      tf.dispose([input.lineArt, input.cit, input.cvt]);
      if (output && !Object.values(input).includes(output)) output.dispose();
    }
  }
  return scoreColorings(images, samples, { ...options, range: outputRange });
}

/** A short plain-text table of a report (one line per family, then overall and L1). */
export function formatTagAccuracy(report: TagAccuracyReport): string {
  const lines = ['family       accuracy   right/total   chance'];
  for (const [family, f] of Object.entries(report.perFamily)) {
    lines.push(
      `${family.padEnd(12)} ${(f.accuracy * 100).toFixed(1).padStart(6)}%   ${`${f.correct}/${f.total}`.padStart(11)}   ${(f.chance * 100).toFixed(1).padStart(5)}%`,
    );
  }
  lines.push(`overall      ${(report.overall * 100).toFixed(1).padStart(6)}%   (mean over families ${(report.meanOverFamilies * 100).toFixed(1)}%)`);
  if (!Number.isNaN(report.l1)) lines.push(`L1 to ground truth (range [-1, 1]): ${report.l1.toFixed(4)}`);
  return lines.join('\n');
}
