import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import {
  NonFiniteLossError,
  Tag2PixTrainer,
  TorchAdam,
  disposeInspection,
  namedWeights,
} from '../../src/training/index.js';
import { initializeLikeReference } from '../../src/models/init.js';
import { TINY, tinyBatch, tinyDiscriminator, tinyGenerator } from './tiny_models.js';

function snapshot(model: ReturnType<typeof tinyGenerator>, prefix: string): Record<string, Float32Array> {
  return Object.fromEntries(
    namedWeights(model, prefix).map((p) => [p.key, p.variable.dataSync().slice() as Float32Array]),
  );
}

function restore(model: ReturnType<typeof tinyGenerator>, prefix: string, values: Record<string, Float32Array>) {
  for (const p of namedWeights(model, prefix)) p.variable.assign(tf.tensor(values[p.key], p.variable.shape));
}

/** Two trainers from the same starting weights, on the colorization schedule from the first step. */
function twinTrainers() {
  const G1 = tinyGenerator();
  const D1 = tinyDiscriminator();
  const G2 = tinyGenerator();
  const D2 = tinyDiscriminator();
  restore(G2, 'G', snapshot(G1, 'G'));
  restore(D2, 'D', snapshot(D1, 'D'));
  const colorization = () => ChangingLossScheduler.tag2pix({ twoStepEpoch: 0 });
  const t1 = new Tag2PixTrainer({ generator: G1, discriminator: D1, scheduler: colorization() });
  const t2 = new Tag2PixTrainer({ generator: G2, discriminator: D2, scheduler: colorization() });
  return { G1, G2, t1, t2 };
}

describe('TorchAdam', () => {
  it('matches a hand-computed PyTorch Adam update over two steps', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const adam = new TorchAdam();
    const lr = 2e-4;
    adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([0.5]) });
    // m = 0.25, v = 0.00025; m̂ = 0.5, v̂ = 0.25 → p −= lr·0.5/(0.5 + 1e-8)
    const p1 = 1 - (lr * 0.5) / (0.5 + 1e-8);
    expect(p.dataSync()[0]).toBeCloseTo(p1, 7);
    adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([-1]) });
    const m = 0.5 * 0.25 - 0.5;
    const v = 0.999 * 0.00025 + 0.001;
    const p2 = p1 - (lr / (1 - 0.25)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
    expect(p.dataSync()[0]).toBeCloseTo(p2, 7);
    expect(adam.stepOf('p')).toBe(2);
    adam.dispose();
  });

  it('agrees with tf.train.adam (same formula, eps after bias correction)', () => {
    const a = tf.variable(tf.tensor1d([0.3, -2, 5]));
    const b = tf.variable(tf.tensor1d([0.3, -2, 5]));
    const ours = new TorchAdam({ learningRate: 0.01 });
    const theirs = tf.train.adam(0.01, 0.5, 0.999, 1e-8);
    for (let i = 0; i < 5; i++) {
      const g = tf.tensor1d([Math.sin(i), 1e-9 * i, -3 + i]);
      ours.applyGradients([{ key: 'a', variable: a }], { a: g });
      theirs.applyGradients([{ name: b.name, tensor: g }]);
    }
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
    ours.dispose();
    theirs.dispose();
  });

  it('skips parameters without gradient (no step, as PyTorch)', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const adam = new TorchAdam();
    adam.applyGradients([{ key: 'p', variable: p }], {});
    expect(p.dataSync()[0]).toBe(1);
    expect(adam.stepOf('p')).toBe(0);
  });

  it('saves and restores its state so that training continues identically', () => {
    const grads = [0.3, -0.1, 0.7, 0.2].map((g) => tf.tensor1d([g, -g]));
    const a = tf.variable(tf.tensor1d([1, 2]));
    const straight = new TorchAdam();
    for (const g of grads) straight.applyGradients([{ key: 'w', variable: a }], { w: g });

    const b = tf.variable(tf.tensor1d([1, 2]));
    const first = new TorchAdam();
    for (const g of grads.slice(0, 2)) first.applyGradients([{ key: 'w', variable: b }], { w: g });
    const state = first.getState();
    const resumed = new TorchAdam();
    resumed.setState(state, [{ key: 'w', variable: b }]);
    for (const g of grads.slice(2)) resumed.applyGradients([{ key: 'w', variable: b }], { w: g });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(resumed.stepOf('w')).toBe(4);
    expect(() => new TorchAdam({ beta1: 0.9 }).setState(state, [{ key: 'w', variable: b }])).toThrow(/beta1 0.5/);
    expect(() => resumed.setState(state, [])).toThrow(/parameter w the model does not have/);
  });

  it('setLearningRate scales the next updates and keeps the moments and step counts', () => {
    const run = (secondLr?: number): number[] => {
      const p = tf.variable(tf.tensor1d([1]));
      const adam = new TorchAdam({ learningRate: 0.1 });
      const values = [1];
      for (const [i, g] of [0.5, -0.2, 0.3].entries()) {
        if (i === 1 && secondLr !== undefined) adam.setLearningRate(secondLr);
        adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([g]) });
        values.push(p.dataSync()[0]!);
      }
      expect(adam.stepOf('p')).toBe(3);
      adam.dispose();
      return values.slice(1).map((v, i) => v - values[i]!);
    };
    const constant = run();
    const scheduled = run(0.01);
    expect(scheduled[0]).toBeCloseTo(constant[0]!, 7);
    // Same moments, a tenth of the step size.
    expect(scheduled[1]! / constant[1]!).toBeCloseTo(0.1, 5);
    expect(scheduled[2]! / constant[2]!).toBeCloseTo(0.1, 5);
    expect(() => new TorchAdam().setLearningRate(-1)).toThrow(/learningRate must be a finite number > 0/);
  });

  it('reset forgets the moments and step counts: the next update is a first step again', () => {
    const p = tf.variable(tf.tensor1d([1]));
    const q = tf.variable(tf.tensor1d([1]));
    const adam = new TorchAdam({ learningRate: 0.1 });
    const fresh = new TorchAdam({ learningRate: 0.1 });
    adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([5]) });
    adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([-3]) });
    const moved = p.dataSync()[0]!;
    const before = tf.memory().numTensors;
    adam.reset();
    expect(adam.stepOf('p')).toBe(0);
    expect(tf.memory().numTensors).toBe(before - 2);
    // From here both optimizers take the same step (a bias-corrected first step: lr·sign(g)).
    q.assign(tf.tensor1d([moved]));
    adam.applyGradients([{ key: 'p', variable: p }], { p: tf.tensor1d([0.2]) });
    fresh.applyGradients([{ key: 'q', variable: q }], { q: tf.tensor1d([0.2]) });
    expect(p.dataSync()[0]).toBeCloseTo(q.dataSync()[0]!, 7);
    expect(p.dataSync()[0]).toBeCloseTo(moved - 0.1, 5);
    adam.dispose();
    fresh.dispose();
  });

  it('rejects bad options', () => {
    expect(() => new TorchAdam({ learningRate: 0 })).toThrow(/learningRate must be/);
    expect(() => new TorchAdam({ beta2: 1 })).toThrow(/beta2 must be in \[0, 1\)/);
  });
});

describe('Tag2PixTrainer (tiny stand-in models)', () => {
  it('runs D step then G step with the scheduler’s weights and reports every term', async () => {
    const G = tinyGenerator();
    const D = tinyDiscriminator();
    const trainer = new Tag2PixTrainer({
      generator: G,
      discriminator: D,
      scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 2, citWeight: 40, cvtWeight: 30 }),
    });
    const g0 = snapshot(G, 'G');
    const d0 = snapshot(D, 'D');
    const batch = tinyBatch(1);
    const r = await trainer.trainStep(batch);
    expect(Object.keys(r.discriminator).sort()).toEqual(['advFake', 'advReal', 'citFake', 'citReal', 'cvtFake', 'cvtReal', 'total']);
    expect(Object.keys(r.generator).sort()).toEqual(['adv', 'cit', 'cvt', 'l1Color', 'l1Guide', 'total']);
    // Segmentation step: classification terms computed but weighted 0.
    expect(r.weights.citWeight).toBe(0);
    expect(r.discriminator.total).toBeCloseTo(r.discriminator.advReal + r.discriminator.advFake, 5);
    expect(r.generator.total).toBeCloseTo(r.generator.adv + 1000 * (r.generator.l1Color + 0.9 * r.generator.l1Guide), 2);
    // Every weight moved, BatchNorm running statistics included (training mode), except D's
    // tag heads: their terms are out of the loss, so they get no gradient and Adam skips them.
    const g1 = snapshot(G, 'G');
    const d1 = snapshot(D, 'D');
    for (const [k, v] of Object.entries(g0)) expect(Array.from(g1[k]), k).not.toEqual(Array.from(v));
    const heads = ['D:d/cit.weight', 'D:d/cit.bias', 'D:d/cvt.weight', 'D:d/cvt.bias'];
    for (const [k, v] of Object.entries(d0)) {
      if (heads.includes(k)) expect(Array.from(d1[k]), k).toEqual(Array.from(v));
      else expect(Array.from(d1[k]), k).not.toEqual(Array.from(v));
    }
    expect(trainer.discriminatorOptimizer.stepOf('D:d/cit.weight')).toBe(0);
    expect(trainer.discriminatorOptimizer.stepOf('D:d/adv.weight')).toBe(1);
    expect([trainer.scheduler.epoch, trainer.scheduler.step]).toEqual([0, 1]);

    trainer.endEpoch();
    const r2 = await trainer.trainStep(batch);
    expect([r2.epoch, r2.step, r2.weights.citWeight, r2.weights.cvtWeight]).toEqual([1, 0, 40, 30]);
    // The heads' first update: PyTorch's per-parameter step count starts at 1 here too.
    expect(trainer.discriminatorOptimizer.stepOf('D:d/cit.weight')).toBe(1);
    expect(Array.from(snapshot(D, 'D')['D:d/cit.weight'])).not.toEqual(Array.from(d1['D:d/cit.weight']));
    const d = r2.discriminator;
    expect(d.total).toBeCloseTo(d.advReal + d.advFake + 30 * (d.cvtReal + d.cvtFake) + 40 * (d.citReal + d.citFake), 4);
    trainer.dispose();
  });

  it('inspection (which also computes G’s discarded D-loss gradients) changes no result', async () => {
    // G's gradients from the D loss are discarded as in PyTorch: two trainers on the same start
    // agree whether or not they are computed.
    const { G1, G2, t1, t2 } = twinTrainers();
    const batch = tinyBatch(2);
    const a = await t1.trainStep(batch);
    const { result: b, inspection } = await t2.trainStepWithInspection(batch);
    expect(b).toEqual(a);
    expect(Object.keys(inspection.generatorGradientsFromDiscriminatorLoss).length).toBeGreaterThan(0);
    expect(Object.keys(inspection.discriminatorGradients)).toEqual(t2.parameters.discriminator.map((p) => p.key));
    expect(Object.keys(inspection.generatorGradients)).toEqual(t2.parameters.generator.map((p) => p.key));
    disposeInspection(inspection);
    const s1 = snapshot(G1, 'G');
    const s2 = snapshot(G2, 'G');
    for (const k of Object.keys(s1)) expect(Array.from(s2[k])).toEqual(Array.from(s1[k]));
  });

  it('an observer sees each half before its update, borrows the tensors and changes no result', async () => {
    const { t1, t2 } = twinTrainers();
    const batch = tinyBatch(2);
    const seen: string[] = [];
    const borrowed: tf.Tensor[] = [];
    // Trainable weights only (the forward passes move BatchNorm's running statistics).
    const trainable = (net: 'generator' | 'discriminator') =>
      Object.fromEntries(t2.parameters[net].map((p) => [p.key, p.variable.dataSync().slice()]));
    const dBefore = trainable('discriminator');
    const gBefore = trainable('generator');
    const before = tf.memory().numTensors;
    const plain = await t1.trainStep(batch);
    const observed = await t2.trainStep(batch, {
      discriminatorStep: (v) => {
        seen.push('D');
        // Called before D's update: D still holds its starting weights.
        expect(trainable('discriminator')).toEqual(dBefore);
        expect(Object.keys(v.gradients)).toEqual(t2.parameters.discriminator.map((p) => p.key));
        expect(v.generatorGradients).toBeUndefined();
        expect(v.fakeColor.shape).toEqual(batch.color.shape);
        expect(v.losses.total).toBeCloseTo(plain.discriminator.total, 6);
        borrowed.push(v.fakeColor, ...Object.values(v.gradients));
      },
      generatorStep: (v) => {
        seen.push('G');
        expect(trainable('generator')).toEqual(gBefore);
        expect(Object.keys(v.gradients)).toEqual(t2.parameters.generator.map((p) => p.key));
        expect([v.color.shape, v.guide.shape]).toEqual([batch.color.shape, batch.color.shape]);
        borrowed.push(v.color, v.guide, ...Object.values(v.gradients));
      },
    });
    expect(seen).toEqual(['D', 'G']);
    expect(observed).toEqual(plain);
    // The step freed what it showed; only the optimizers' new moments (two per parameter) remain.
    expect(borrowed.every((t) => t.isDisposed)).toBe(true);
    const moments = 2 * 2 * (t1.parameters.generator.length + t1.parameters.discriminator.length);
    expect(tf.memory().numTensors - before).toBe(moments);
    t1.dispose();
    t2.dispose();
  });

  it('trains from logits (stable BCE) as it does from probabilities', async () => {
    const G = tinyGenerator();
    const start = snapshot(G, 'G');
    const Dp = tinyDiscriminator('probabilities');
    const dStart = snapshot(Dp, 'D');
    const results = [];
    for (const [outputs, input] of [['probabilities', 'probabilities'], ['logits', 'logits'], ['both', 'logits']] as const) {
      const g = tinyGenerator();
      const d = tinyDiscriminator(outputs);
      restore(g, 'G', start);
      restore(d, 'D', dStart);
      const t = new Tag2PixTrainer({
        generator: g, discriminator: d, discriminatorOutput: input,
        scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 0 }),
      });
      results.push(await t.trainStep(tinyBatch(7)));
      t.dispose();
    }
    for (const r of results.slice(1)) {
      for (const [k, v] of Object.entries(results[0].discriminator)) expect(r.discriminator[k as 'total'], k).toBeCloseTo(v, 4);
      for (const [k, v] of Object.entries(results[0].generator)) expect(r.generator[k as 'total'] / v, k).toBeCloseTo(1, 5);
    }
  });

  it('stops on a NaN loss, names the term and applies no update', async () => {
    const G = tinyGenerator();
    const D = tinyDiscriminator();
    const trainer = new Tag2PixTrainer({ generator: G, discriminator: D });
    const batch = tinyBatch(3);
    const broken = { ...batch, color: tf.fill(batch.color.shape, NaN) as tf.Tensor4D };
    const d0 = snapshot(D, 'D');
    const before = tf.memory().numTensors;
    const err = await trainer.trainStep(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).term).toBe('advReal');
    expect((err as Error).message).toMatch(/discriminator loss term "advReal" is NaN/);
    // Trainable weights untouched (running statistics did see the NaN batch in training mode).
    const d1 = snapshot(D, 'D');
    for (const p of trainer.parameters.discriminator) expect(Array.from(d1[p.key])).toEqual(Array.from(d0[p.key]));
    expect(trainer.scheduler.step).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a warm-up step trains G alone on λ_rec·L_rec, leaving D and its optimizer untouched', async () => {
    const G = tinyGenerator();
    const D = tinyDiscriminator();
    const trainer = new Tag2PixTrainer({
      generator: G,
      discriminator: D,
      generatorOptimizer: { learningRate: 1e-3 },
      scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs: 1, twoStepEpoch: 0 }),
    });
    const batch = tinyBatch(5);
    const g0 = snapshot(G, 'G');
    const d0 = snapshot(D, 'D');
    const { result: r, inspection } = await trainer.trainStepWithInspection(batch);
    expect([r.weights.stage, r.weights.adversarial]).toEqual(['warm-up', false]);
    // The gradient is that of 1000·(L1(colour) + 0.9·L1(guide)), computed here independently
    // (the inspection's outputs are G's forward before the update).
    const gVars = trainer.parameters.generator.map((p) => p.variable);
    restore(G, 'G', g0);
    const expected = tf.variableGrads(() => {
      const [color, guide] = G.apply([batch.lineArt, batch.citFeatures!, batch.cvt], { training: true }) as tf.Tensor[];
      const l1 = (x: tf.Tensor) => tf.mean(tf.abs(tf.sub(x, batch.color)));
      return tf.mul(1000, tf.add(l1(color), tf.mul(0.9, l1(guide)))) as tf.Scalar;
    }, gVars);
    for (const p of trainer.parameters.generator) {
      const want = expected.grads[p.variable.name]!;
      const got = inspection.generatorGradients[p.key]!;
      const scale = tf.max(tf.abs(want)).dataSync()[0]! + 1e-6;
      expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]! / scale, p.key).toBeLessThan(1e-4);
    }
    expect(r.generator.total).toBeCloseTo(expected.value.dataSync()[0]!, 1);
    expect(r.generator.total).toBeCloseTo(1000 * (r.generator.l1Color + 0.9 * r.generator.l1Guide), 1);
    tf.dispose([expected.value, ...Object.values(expected.grads)]);
    expect(inspection.outputs.dStepColor).toBeUndefined();
    expect(inspection.discriminatorGradients).toEqual({});
    disposeInspection(inspection);
    // Terms that were not computed are NaN, the computed ones finite.
    for (const v of [...Object.values(r.discriminator), r.generator.adv, r.generator.cit, r.generator.cvt]) expect(v).toBeNaN();
    for (const v of [r.generator.l1Color, r.generator.l1Guide, r.generator.total]) expect(Number.isFinite(v)).toBe(true);
    // D (running statistics included) and its optimizer did not move.
    const d1 = snapshot(D, 'D');
    for (const [k, v] of Object.entries(d0)) expect(Array.from(d1[k]), k).toEqual(Array.from(v));
    expect(trainer.discriminatorOptimizer.stepOf('D:d/adv.weight')).toBe(0);
    expect(trainer.generatorOptimizer.stepOf(trainer.parameters.generator[0]!.key)).toBe(1);
    expect([trainer.scheduler.epoch, trainer.scheduler.step]).toEqual([0, 1]);
    // After the first step (which creates G's Adam state) warm-up steps leave nothing behind.
    const afterFirst = tf.memory().numTensors;
    await trainer.trainStep(batch);
    expect(tf.memory().numTensors).toBe(afterFirst);

    // The next epoch is adversarial: D trains from its first step.
    trainer.endEpoch();
    const r2 = await trainer.trainStep(batch);
    expect([r2.weights.stage, r2.weights.adversarial]).toEqual(['colourisation', true]);
    expect(Number.isFinite(r2.discriminator.total)).toBe(true);
    expect(trainer.discriminatorOptimizer.stepOf('D:d/adv.weight')).toBe(1);
    trainer.dispose();
  });

  it('restarts G’s Adam moments at the first adversarial step after a warm-up, and only there', async () => {
    const trainer = new Tag2PixTrainer({
      generator: tinyGenerator(),
      discriminator: tinyDiscriminator(),
      scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs: 1, twoStepEpoch: 0 }),
    });
    const batch = tinyBatch(6);
    const key = trainer.parameters.generator[0]!.key;
    for (let i = 0; i < 3; i++) await trainer.trainStep(batch);
    expect(trainer.generatorOptimizer.stepOf(key)).toBe(3);
    const before = tf.memory().numTensors;
    trainer.endEpoch();
    await trainer.trainStep(batch);
    // A first step again (the moments were replaced, not added to: D's Adam state is new).
    expect(trainer.generatorOptimizer.stepOf(key)).toBe(1);
    expect(tf.memory().numTensors).toBe(before + 2 * trainer.parameters.discriminator.length);
    await trainer.trainStep(batch);
    expect(trainer.generatorOptimizer.stepOf(key)).toBe(2);
    // Without a warm-up nothing is restarted.
    const plain = new Tag2PixTrainer({ generator: tinyGenerator(), discriminator: tinyDiscriminator() });
    for (let i = 0; i < 2; i++) await plain.trainStep(batch);
    plain.endEpoch();
    await plain.trainStep(batch);
    expect(plain.generatorOptimizer.stepOf(plain.parameters.generator[0]!.key)).toBe(3);
    trainer.dispose();
    plain.dispose();
  });

  it('stops a warm-up step on a NaN loss and names the term', async () => {
    const G = tinyGenerator();
    const trainer = new Tag2PixTrainer({
      generator: G,
      discriminator: tinyDiscriminator(),
      scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs: 2 }),
    });
    const batch = tinyBatch(3);
    const broken = { ...batch, color: tf.fill(batch.color.shape, NaN) as tf.Tensor4D };
    const before = tf.memory().numTensors;
    const g0 = snapshot(G, 'G');
    const err = await trainer.trainStep(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).network).toBe('generator');
    expect((err as NonFiniteLossError).term).toBe('l1Color');
    const g1 = snapshot(G, 'G');
    for (const p of trainer.parameters.generator) expect(Array.from(g1[p.key])).toEqual(Array.from(g0[p.key]));
    expect(trainer.scheduler.step).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
  });

  it('keeps tf.memory().numTensors flat from iteration 3 to iteration 50', async () => {
    const trainer = new Tag2PixTrainer({
      generator: tinyGenerator(),
      discriminator: tinyDiscriminator(),
      scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 0 }),
    });
    const batch = tinyBatch(4);
    let after3 = -1;
    for (let i = 1; i <= 50; i++) {
      await trainer.trainStep(batch);
      if (i === 3) after3 = tf.memory().numTensors;
    }
    expect(after3).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(after3);
  });

  it('computes CIT features with the extractor when the batch has none', async () => {
    const { citFeatures, ...rest } = tinyBatch(5);
    const G = tinyGenerator();
    const D = tinyDiscriminator();
    const noExtractor = new Tag2PixTrainer({ generator: G, discriminator: D });
    await expect(noExtractor.trainStep(rest)).rejects.toThrow(/no citFeatures and the trainer no citExtractor/);
    const calls: number[] = [];
    // A stand-in extractor returning the precomputed features.
    const extractor = {
      apply: (x: tf.Tensor) => {
        calls.push(x.shape[0]);
        return tf.clone(citFeatures);
      },
    } as unknown as ReturnType<typeof tinyGenerator>;
    const trainer = new Tag2PixTrainer({
      generator: G,
      discriminator: D,
      citExtractor: extractor,
      scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 0 }),
    });
    const before = tf.memory().numTensors;
    await trainer.trainStep(rest);
    expect(calls).toEqual([2]);
    // Adam creates two moments per parameter on its first step; nothing else stays.
    const moments = 2 * (trainer.parameters.generator.length + trainer.parameters.discriminator.length);
    expect(tf.memory().numTensors).toBe(before + moments);
  });

  it("weights G's L1 terms by the batch's pixelWeights, in warm-up and adversarial steps", async () => {
    for (const warmupEpochs of [1, 0]) {
      // Seeded weights: with unseeded ones the two means were now and then under 1e-4 apart.
      const [generator, discriminator] = [tinyGenerator(), tinyDiscriminator()];
      initializeLikeReference(generator, { seed: 21 });
      initializeLikeReference(discriminator, { seed: 22 });
      const trainer = new Tag2PixTrainer({
        generator,
        discriminator,
        scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs, twoStepEpoch: 0 }),
      });
      const batch = tinyBatch(8);
      const s = TINY.size;
      // Weight 10 on about a fifth of the pixels, 1 elsewhere.
      const pixelWeights = tf.tidy(() => tf.add(1, tf.mul(9, tf.cast(tf.greater(tf.randomUniform([2, s, s, 1], 0, 1, 'float32', 3), 0.8), 'float32')))) as tf.Tensor4D;
      const { result, inspection } = await trainer.trainStepWithInspection({ ...batch, pixelWeights });
      expect(result.weights.adversarial, `warm-up epochs ${warmupEpochs}`).toBe(warmupEpochs === 0);
      const [weighted, plain] = tf.tidy(() => {
        const error = tf.abs(tf.sub(inspection.outputs.gStepColor, batch.color));
        return [tf.div(tf.sum(tf.mul(error, pixelWeights)), tf.mul(tf.sum(pixelWeights), 3)), tf.mean(error)].map((t) => t.dataSync()[0]!);
      });
      expect(result.generator.l1Color).toBeCloseTo(weighted!, 5);
      expect(Math.abs(weighted! - plain!)).toBeGreaterThan(1e-4);
      disposeInspection(inspection);
      trainer.dispose();
      tf.dispose([...Object.values(batch), pixelWeights]);
    }
  });

  it('rejects a bad batch with a message naming the problem', async () => {
    const trainer = new Tag2PixTrainer({ generator: tinyGenerator(), discriminator: tinyDiscriminator() });
    const b = tinyBatch(6);
    await expect(trainer.trainStep({ ...b, cvt: tf.zeros([3, TINY.cvt]) as tf.Tensor2D })).rejects.toThrow(
      /cvt has batch size 3, lineArt 2/,
    );
    await expect(trainer.trainStep({ ...b, cit: tf.zeros([2, 2, 2]) as unknown as tf.Tensor2D })).rejects.toThrow(/cit has rank 3, expected 2/);
    const s = b.color.shape[1];
    await expect(trainer.trainStep({ ...b, pixelWeights: tf.ones([2, s, s, 3]) as tf.Tensor4D })).rejects.toThrow(
      new RegExp(`pixelWeights has shape \\[2, ${s}, ${s}, 3\\], expected \\[2, ${s}, ${s}, 1\\]`),
    );
  });
});
