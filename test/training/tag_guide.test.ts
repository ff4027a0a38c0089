import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import { Tag2PixTrainer } from '../../src/training/trainer.js';
import { buildSynthTagClassifier } from '../../src/models/synth_tag_classifier.js';
import { TINY, tinyBatch, tinyDiscriminator, tinyGenerator } from './tiny_models.js';

const warmup = () => ChangingLossScheduler.tag2pix({ warmupEpochs: 1, twoStepEpoch: 0 });
const guideFor = () => buildSynthTagClassifier({ inputSize: TINY.size, cvtCount: TINY.cvt, seed: 3 });
const weightsOf = (m: { getWeights(): tf.Tensor[] }) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('the warm-up tag guide', () => {
  it("adds weight × the frozen classifier's CVT cross-entropy on G's output to G's warm-up loss, and never trains it", async () => {
    const guide = guideFor();
    const trainer = new Tag2PixTrainer({
      generator: tinyGenerator(),
      discriminator: tinyDiscriminator(),
      scheduler: warmup(),
      warmupTagGuide: { model: guide, weight: 30 },
    });
    const batch = tinyBatch(4);
    const before = weightsOf(guide);
    const { result: r, inspection } = await trainer.trainStepWithInspection(batch);
    // The term, recomputed from G's output of this step (before its update).
    const color = inspection.outputs.gStepColor!;
    const expected = tf.tidy(() => tf.losses.sigmoidCrossEntropy(batch.cvt, guide.apply(color) as tf.Tensor).dataSync()[0]!);
    expect((r.generator as Record<string, number>)['tagGuide']).toBeCloseTo(expected, 5);
    expect(r.generator.total).toBeCloseTo(1000 * (r.generator.l1Color + 0.9 * r.generator.l1Guide) + 30 * expected, 2);
    expect(weightsOf(guide)).toEqual(before);
    tf.dispose(Object.values(inspection.outputs).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    tf.dispose([...Object.values(inspection.generatorGradients), ...Object.values(inspection.discriminatorGradients)]);
    // Steady state: a warm-up step with the guide leaves no tensor behind.
    const n = tf.memory().numTensors;
    await trainer.trainStep(batch);
    expect(tf.memory().numTensors).toBe(n);
    trainer.dispose();
    guide.dispose();
    tf.dispose(Object.values(batch));
  });

  it('changes the gradient of G: the same step without the guide gives another update', async () => {
    const run = async (withGuide: boolean) => {
      const guide = guideFor();
      const G = tinyGenerator();
      const trainer = new Tag2PixTrainer({
        generator: G,
        discriminator: tinyDiscriminator(),
        scheduler: warmup(),
        warmupTagGuide: withGuide ? { model: guide, weight: 1000 } : undefined,
      });
      const batch = tinyBatch(6);
      await trainer.trainStep(batch);
      const w = weightsOf(G);
      trainer.dispose();
      guide.dispose();
      tf.dispose(Object.values(batch));
      return w.flat();
    };
    const [a, b] = [await run(true), await run(false)];
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });

  it('a guide that fails leaks nothing and leaves G\'s parameters untouched', async () => {
    // A classifier for another tag vocabulary: its cross-entropy against the batch's CVT throws.
    const wrong = buildSynthTagClassifier({ inputSize: TINY.size, cvtCount: TINY.cvt + 1 });
    const G = tinyGenerator();
    const trainer = new Tag2PixTrainer({ generator: G, discriminator: tinyDiscriminator(), scheduler: warmup(), warmupTagGuide: { model: wrong, weight: 1 } });
    const batch = tinyBatch(7);
    const trainable = () => G.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    const g0 = trainable();
    const n = tf.memory().numTensors;
    await expect(trainer.trainStep(batch)).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(n);
    expect(trainable()).toEqual(g0);
    trainer.dispose();
    wrong.dispose();
    tf.dispose(Object.values(batch));
  });

  it('refuses a weight that is not a finite number >= 0', () => {
    const guide = guideFor();
    for (const weight of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new Tag2PixTrainer({ generator: tinyGenerator(), discriminator: tinyDiscriminator(), warmupTagGuide: { model: guide, weight } })).toThrow(
        /warmupTagGuide\.weight must be a finite number >= 0/,
      );
    }
    guide.dispose();
  });
});
