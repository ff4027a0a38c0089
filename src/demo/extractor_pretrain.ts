// Pretraining of the demo's synthetic CIT extractor (`buildSynthCitExtractor`) on synthetic
// characters, whose region masks and tags are exact; the demo freezes it afterwards.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { SynthSample } from '../data/synth/dataset.js';
import { SYNTH_REGIONS } from '../data/synth/painter.js';

/** Options of {@link pretrainSynthCitExtractor}. */
export interface SynthCitPretrainOptions {
  /** Optimizer steps. */
  steps: number;
  /** The samples of step `step` (0-based); one size, the extractor's. */
  batchAt: (step: number) => readonly SynthSample[];
  /** Adam learning rate (default 2e-3). */
  learningRate?: number;
  /** Weight of the CIT tag loss beside the region loss (default 1). */
  citWeight?: number;
  /** Called after each step with its losses. */
  onStep?: (step: number, losses: SynthCitPretrainLosses) => void;
}

/** Losses of one pretraining step. */
export interface SynthCitPretrainLosses {
  /** Cross-entropy of the region head against each S/8 cell's region coverage. */
  region: number;
  /** Sigmoid cross-entropy of the CIT head against the multi-hot CIT vector. */
  cit: number;
  /** Share of S/8 cells whose most likely region is the one covering most of the cell. */
  regionAccuracy: number;
}

/**
 * Region coverage of each S/8 cell, `[N, S/8, S/8, regions]` (rows sum to 1), in the painter's
 * region order ({@link SYNTH_REGIONS}).
 */
export function regionTargets(samples: readonly SynthSample[], cell = 8): tf.Tensor4D {
  const size = samples[0]!.size;
  const r = SYNTH_REGIONS.length;
  const data = new Float32Array(samples.length * size * size * r);
  samples.forEach((s, i) => {
    SYNTH_REGIONS.forEach((region, k) => {
      const m = s.masks[region];
      const base = i * size * size * r;
      for (let p = 0; p < size * size; p++) data[base + p * r + k] = m[p]!;
    });
  });
  return tf.tidy(() => tf.avgPool(tf.tensor4d(data, [samples.length, size, size, r]), cell, cell, 'valid'));
}

/**
 * Pretrains a {@link buildSynthCitExtractor} model on synthetic characters: region coverage of
 * every S/8 cell (exact, from the painter's masks) and the character's CIT tags. Returns the
 * losses of the last step. The model is trained in place; freeze it afterwards by using it only
 * for inference (the trainer runs extractors with `training: false` and no gradient).
 */
export async function pretrainSynthCitExtractor(model: LayersModel, options: SynthCitPretrainOptions): Promise<SynthCitPretrainLosses> {
  const optimizer = tf.train.adam(options.learningRate ?? 2e-3, 0.9, 0.999, 1e-8);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const citWeight = options.citWeight ?? 1;
  let last: SynthCitPretrainLosses = { region: NaN, cit: NaN, regionAccuracy: NaN };
  try {
    for (let step = 0; step < options.steps; step++) {
      const samples = options.batchAt(step);
      const n = samples.length;
      const numCit = samples[0]!.multiHot.cit.length;
      const line = new Float32Array(n * samples[0]!.size ** 2);
      const cit = new Float32Array(n * numCit);
      samples.forEach((s, i) => {
        line.set(s.lineArt.data, i * s.size * s.size);
        cit.set(s.multiHot.cit, i * numCit);
      });
      const size = samples[0]!.size;
      const lineArt = tf.tensor4d(line, [n, size, size, 1]);
      const citTarget = tf.tensor2d(cit, [n, numCit]);
      const regions = regionTargets(samples);
      let regionLoss: tf.Scalar | undefined;
      let citLoss: tf.Scalar | undefined;
      let accuracy: tf.Scalar | undefined;
      try {
        const total = optimizer.minimize(
          () => {
            const [, regionLogits, citLogits] = model.apply(lineArt, { training: true }) as tf.Tensor[];
            regionLoss = tf.keep(tf.neg(tf.mean(tf.sum(tf.mul(regions, tf.logSoftmax(regionLogits!)), -1))) as tf.Scalar);
            citLoss = tf.keep(tf.losses.sigmoidCrossEntropy(citTarget, citLogits!) as tf.Scalar);
            accuracy = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(regionLogits!, -1), tf.argMax(regions, -1)), 'float32')) as tf.Scalar);
            return tf.add(regionLoss, tf.mul(citLoss, citWeight)) as tf.Scalar;
          },
          true,
          variables,
        );
        total?.dispose();
        last = { region: (await regionLoss!.data())[0]!, cit: (await citLoss!.data())[0]!, regionAccuracy: (await accuracy!.data())[0]! };
        if (!Number.isFinite(last.region) || !Number.isFinite(last.cit)) {
          throw new Error(`pretrainSynthCitExtractor: the loss is not finite at step ${step} (region ${last.region}, cit ${last.cit}); lower learningRate.`);
        }
        options.onStep?.(step, last);
      } finally {
        tf.dispose([lineArt, citTarget, regions]);
        for (const t of [regionLoss, citLoss, accuracy]) t?.dispose();
      }
    }
  } finally {
    optimizer.dispose();
  }
  return last;
}
