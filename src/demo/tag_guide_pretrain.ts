// Pretraining of the demo's colour-tag classifier (`buildSynthTagClassifier`) on synthetic
// colourings, whose tags are exact; the demo freezes it as G's warm-up tag guide.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { SynthSample } from '../data/synth/dataset.js';
import { synthBatch } from '../data/synth/dataset.js';
import { buildSynthTagClassifier } from '../models/synth_tag_classifier.js';
import { DEMO_PALETTE, heldOutPairs, isHeldOut } from './config.js';
import { freshSynthBatches } from './sources.js';

/** Options of {@link pretrainTagClassifier}. */
export interface TagClassifierPretrainOptions {
  /** Optimizer steps. */
  steps: number;
  /** The samples of step `step` (0-based); one size, the classifier's. */
  batchAt: (step: number) => readonly SynthSample[];
  /** Adam learning rate (default 2e-3). */
  learningRate?: number;
  /** Called after each step with its loss. */
  onStep?: (step: number, loss: number) => void;
}

/**
 * Trains a {@link buildSynthTagClassifier} model in place on the true colourings of synthetic
 * characters against their CVT tags (sigmoid cross-entropy). Returns the last step's loss.
 */
export async function pretrainTagClassifier(model: LayersModel, options: TagClassifierPretrainOptions): Promise<number> {
  const optimizer = tf.train.adam(options.learningRate ?? 2e-3, 0.9, 0.999, 1e-8);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let last = NaN;
  try {
    for (let step = 0; step < options.steps; step++) {
      const batch = synthBatch(options.batchAt(step));
      let loss: tf.Scalar | null = null;
      try {
        loss = optimizer.minimize(
          () => tf.losses.sigmoidCrossEntropy(batch.cvt, model.apply(batch.color, { training: true }) as tf.Tensor) as tf.Scalar,
          true,
          variables,
        );
        last = (await loss!.data())[0]!;
        if (!Number.isFinite(last)) {
          throw new Error(`pretrainTagClassifier: the loss is not finite at step ${step} (${last}); lower learningRate.`);
        }
        options.onStep?.(step, last);
      } finally {
        loss?.dispose();
        tf.dispose([batch.lineArt, batch.color, batch.cit, batch.cvt]);
      }
    }
  } finally {
    optimizer.dispose();
  }
  return last;
}

/**
 * How the tag classifier packaged with tag2pix was trained (`tools/pretrain_tag_guide.ts`): the
 * demo's 64 px characters and palette, training characters only (the held-out tag pairs
 * rejected, as for G), a quarter of them face close-ups as in G's batches. Its data seed is none
 * of the demo's own for seeds 1–999 (data: seed, extractor: seed + 3000, tests: seed + 1000 and
 * seed + 2000).
 */
export const PACKAGED_TAG_GUIDE_RECIPE = {
  size: 64,
  steps: 3000,
  batchSize: 16,
  dataSeed: 5001,
  modelSeed: 14,
  closeUpShare: 0.25,
  learningRate: 2e-3,
} as const;

/** Trains a tag classifier by {@link PACKAGED_TAG_GUIDE_RECIPE} (`steps` overrides its steps). */
export async function pretrainPackagedTagGuide(
  options: { steps?: number; onStep?: (step: number, loss: number) => void } = {},
): Promise<LayersModel> {
  const r = PACKAGED_TAG_GUIDE_RECIPE;
  const pairs = heldOutPairs();
  const model = buildSynthTagClassifier({ inputSize: r.size, seed: r.modelSeed });
  const batchAt = freshSynthBatches({
    batchSize: r.batchSize,
    seed: r.dataSeed,
    size: r.size,
    colorChoices: DEMO_PALETTE,
    reject: (s) => isHeldOut(s, pairs),
    closeUpShare: r.closeUpShare,
  });
  try {
    await pretrainTagClassifier(model, { steps: options.steps ?? r.steps, batchAt, learningRate: r.learningRate, onStep: options.onStep });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * The packaged tag classifier (64 px, the demo palette), from `base64` float32 weights in
 * `getWeights()` order (default: those in packaged_tag_guide.ts). Throws, naming the fix, when
 * their count is not the model's.
 */
export async function loadPackagedTagGuide(base64?: string): Promise<LayersModel> {
  const text = base64 ?? (await import('./packaged_tag_guide.js')).PACKAGED_TAG_GUIDE_WEIGHTS;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const model = buildSynthTagClassifier({ inputSize: PACKAGED_TAG_GUIDE_RECIPE.size, seed: PACKAGED_TAG_GUIDE_RECIPE.modelSeed });
  const expected = model.countParams();
  if (bytes.length !== expected * 4) {
    model.dispose();
    throw new Error(
      `loadPackagedTagGuide: the packaged weights hold ${bytes.length / 4} values, the classifier has ${expected}; ` +
        'regenerate src/demo/packaged_tag_guide.ts with npx tsx tools/pretrain_tag_guide.ts.',
    );
  }
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, expected);
  let offset = 0;
  const tensors = model.getWeights().map((w) => {
    const t = tf.tensor(values.subarray(offset, offset + w.size), w.shape);
    offset += w.size;
    return t;
  });
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
  return model;
}
