// Pretraining of the demo's colour-tag classifier (`buildSynthTagClassifier`) on synthetic
// colourings, whose tags are exact; the demo freezes it as G's warm-up tag guide.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { SynthSample } from '../data/synth/dataset.js';
import { synthBatch } from '../data/synth/dataset.js';

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
