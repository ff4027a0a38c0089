import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  adversarialLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  discriminatorLoss,
  generatorLoss,
  l1Loss,
  multiLabelClassificationLoss,
  reconstructionLoss,
} from '../../src/losses/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';

const { log, log1p, exp } = Math;
const value = (t: tf.Tensor) => t.dataSync()[0];
const t1 = (v: number[]) => tf.tensor1d(v);
const t2 = (v: number[][]) => tf.tensor2d(v);

describe('binaryCrossEntropy (probabilities, PyTorch BCELoss semantics)', () => {
  it('gives the hand-computed mean', () => {
    // −(ln 0.8 + ln 0.7) / 2
    expect(value(binaryCrossEntropy(t1([0.8, 0.3]), t1([1, 0])))).toBeCloseTo(-(log(0.8) + log(0.7)) / 2, 6);
  });

  it('clamps each log at -100 and keeps PyTorch’s finite gradient at p = 0 and 1', () => {
    const p = t1([0, 1, 0.5, 1]);
    const t = t1([1, 0, 1, 1]);
    // (100 + 100 + ln 2 + 0) / 4
    expect(value(binaryCrossEntropy(p, t))).toBeCloseTo((200 + log(2)) / 4, 4);
    // PyTorch: (p − t) / max(p(1 − p), 1e-12) / n
    const g = tf.grad((x: tf.Tensor) => binaryCrossEntropy(x, t))(p).dataSync();
    expect(g[0] / -2.5e11).toBeCloseTo(1, 5);
    expect(g[1] / 2.5e11).toBeCloseTo(1, 5);
    expect(g[2]).toBeCloseTo(-0.5, 6);
    expect(g[3]).toBe(0);
  });

  it('passes a gradient check for prediction and target', async () => {
    const p = randomTensor([3, 5], 1, 0.1, 0.9);
    const t = randomTensor([3, 5], 2, 0, 1);
    expect(await checkGradients((xs) => binaryCrossEntropy(xs[0], xs[1]), [p, t], [], { eps: 1e-3 })).toBeGreaterThan(5);
  });

  it('names a shape mismatch', () => {
    expect(() => binaryCrossEntropy(tf.zeros([2, 1]), tf.zeros([2]))).toThrow(/prediction shape \[2, 1\] and target shape \[2\]/);
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  it('gives the hand-computed mean', () => {
    // z = 0, t = 1: ln 2; z = 2, t = 0: ln(1 + e²)
    expect(value(binaryCrossEntropyWithLogits(t1([0, 2]), t1([1, 0])))).toBeCloseTo((log(2) + log1p(exp(2))) / 2, 6);
  });

  it('is stable at large logits', () => {
    const l = binaryCrossEntropyWithLogits(t1([100, -100, 100]), t1([0, 1, 1]));
    expect(value(l)).toBeCloseTo(200 / 3, 4);
    const g = tf.grad((z: tf.Tensor) => binaryCrossEntropyWithLogits(z, t1([0, 1, 1])))(t1([100, -100, 100]));
    expect(Array.from(g.dataSync()).map((v) => v * 3)).toEqual([1, -1, 0].map((v) => expect.closeTo(v, 6)));
  });

  it('has gradient (sigmoid(z) − t)/n at z = 0, where |z| has a kink', () => {
    const g = tf.grad((z: tf.Tensor) => binaryCrossEntropyWithLogits(z, t1([1, 0])))(t1([0, 0])).dataSync();
    expect(g[0]).toBeCloseTo(-0.25, 6);
    expect(g[1]).toBeCloseTo(0.25, 6);
  });

  it('agrees with the probability version on sigmoid(z)', () => {
    const z = randomTensor([4, 7], 3, -4, 4);
    const t = tf.round(randomTensor([4, 7], 4, 0, 1));
    expect(value(binaryCrossEntropyWithLogits(z, t))).toBeCloseTo(value(binaryCrossEntropy(tf.sigmoid(z), t)), 5);
  });

  it('passes a gradient check', async () => {
    const z = randomTensor([3, 4], 5, -3, 3);
    const t = randomTensor([3, 4], 6, 0, 1);
    expect(await checkGradients((xs) => binaryCrossEntropyWithLogits(xs[0], xs[1]), [z, t], [], { eps: 1e-3 })).toBeGreaterThan(5);
  });
});

describe('l1Loss', () => {
  it('gives the mean absolute error and PyTorch’s sign gradient (0 where equal)', () => {
    const a = t1([1, 2, 3]);
    const b = t1([1, 0, 5]);
    expect(value(l1Loss(a, b))).toBeCloseTo(4 / 3, 6);
    const g = tf.grad((x: tf.Tensor) => l1Loss(x, b))(a).dataSync();
    expect(Array.from(g)).toEqual([0, expect.closeTo(1 / 3, 6), expect.closeTo(-1 / 3, 6)]);
  });

  it('passes a gradient check', async () => {
    const a = randomTensor([2, 3, 3, 3], 7);
    const b = randomTensor([2, 3, 3, 3], 8);
    expect(await checkGradients((xs) => l1Loss(xs[0], xs[1]), [a, b], [], { eps: 1e-3 })).toBeGreaterThan(5);
  });
});

describe('l1Loss with pixel weights', () => {
  // One image of 1×2 pixels, 2 channels: errors 1, 3 at the first pixel, 2, 2 at the second.
  const a = tf.tensor4d([1, 3, 2, 2], [1, 1, 2, 2]);
  const b = tf.zeros([1, 1, 2, 2]);

  it('is the weighted mean Σ w·|a − b| / (C·Σ w), shared by the channels', () => {
    const w = tf.tensor4d([3, 1], [1, 1, 2, 1]);
    expect(value(l1Loss(a, b, w))).toBeCloseTo((3 * (1 + 3) + 1 * (2 + 2)) / (2 * 4), 6);
    // Only the error where the weight is 0 changes: the loss does not move.
    const zeroAtSecond = tf.tensor4d([1, 0], [1, 1, 2, 1]);
    expect(value(l1Loss(a, b, zeroAtSecond))).toBeCloseTo(2, 6);
    expect(value(l1Loss(tf.tensor4d([1, 3, 50, -9], [1, 1, 2, 2]), b, zeroAtSecond))).toBeCloseTo(2, 6);
  });

  it('equals the plain mean where the weights are uniform, whatever their scale', () => {
    const p = randomTensor([2, 3, 3, 3], 21);
    const q = randomTensor([2, 3, 3, 3], 22);
    expect(value(l1Loss(p, q, tf.fill([2, 3, 3, 1], 7)))).toBeCloseTo(value(l1Loss(p, q)), 5);
  });

  it('passes a gradient check', async () => {
    const p = randomTensor([2, 3, 3, 3], 23);
    const q = randomTensor([2, 3, 3, 3], 24);
    const w = randomTensor([2, 3, 3, 1], 25, 0.5, 4);
    expect(await checkGradients((xs) => l1Loss(xs[0], xs[1], w), [p, q], [], { eps: 1e-3 })).toBeGreaterThan(5);
  });

  it('rejects weights that are not one per pixel, naming the shapes; leaks nothing either way', () => {
    const perChannel = tf.ones([1, 1, 2, 2]);
    expectNoTensorLeak(() => {
      expect(() => l1Loss(a, b, perChannel)).toThrow(/pixelWeights must be \[N, H, W, 1\] for a prediction of shape \[1, 1, 2, 2\].*got \[1, 1, 2, 2\]/);
    });
    const perPixel = tf.ones([1, 1, 2, 1]);
    expectNoTensorLeak(() => l1Loss(a, b, perPixel).dispose());
  });
});

describe('adversarialLoss', () => {
  it('is BCE against 1 for real and 0 for fake, from probabilities or logits', () => {
    const p = t2([[0.9], [0.2]]);
    expect(value(adversarialLoss(p, true))).toBeCloseTo(-(log(0.9) + log(0.2)) / 2, 6);
    expect(value(adversarialLoss(p, false))).toBeCloseTo(-(log(0.1) + log(0.8)) / 2, 6);
    expect(value(adversarialLoss(t2([[0]]), true, { input: 'logits' }))).toBeCloseTo(log(2), 6);
  });

  it('passes a gradient check', async () => {
    const p = randomTensor([4, 1], 9, 0.1, 0.9);
    expect(await checkGradients((xs) => adversarialLoss(xs[0], false), [p], [], { eps: 1e-3 })).toBeGreaterThan(3);
  });
});

describe('multiLabelClassificationLoss', () => {
  it('weights separate per-tag mean BCEs of CIT and CVT', () => {
    const r = multiLabelClassificationLoss(
      { cit: t2([[0.7, 0.4]]), cvt: t2([[0.6]]) },
      { cit: t2([[1, 0]]), cvt: t2([[1]]) },
      { citWeight: 3, cvtWeight: 5 },
    );
    const cit = -(log(0.7) + log(0.6)) / 2;
    const cvt = -log(0.6);
    expect(value(r.cit)).toBeCloseTo(cit, 6);
    expect(value(r.cvt)).toBeCloseTo(cvt, 6);
    expect(value(r.total)).toBeCloseTo(3 * cit + 5 * cvt, 5);
  });

  it('passes a gradient check through both heads', async () => {
    const cit = randomTensor([2, 6], 10, 0.1, 0.9);
    const cvt = randomTensor([2, 3], 11, 0.1, 0.9);
    const targets = { cit: tf.round(randomTensor([2, 6], 12, 0, 1)), cvt: tf.round(randomTensor([2, 3], 13, 0, 1)) };
    const n = await checkGradients(
      (xs) => multiLabelClassificationLoss({ cit: xs[0], cvt: xs[1] }, targets, { citWeight: 2, cvtWeight: 0.5 }).total,
      [cit, cvt], [], { eps: 1e-3 },
    );
    expect(n).toBeGreaterThan(5);
  });

  it('rejects a negative or non-finite weight', () => {
    const o = { cit: t2([[0.5]]), cvt: t2([[0.5]]) };
    expect(() => multiLabelClassificationLoss(o, o, { citWeight: -1 })).toThrow(/citWeight must be a finite number >= 0/);
    expect(() => multiLabelClassificationLoss(o, o, { cvtWeight: NaN })).toThrow(/cvtWeight/);
  });
});

describe('reconstructionLoss', () => {
  it('is L1(colour) + β·L1(guide)', () => {
    const y = t1([1, -1]);
    const r = reconstructionLoss({ color: t1([0.5, -0.5]), guide: t1([0, 0]) }, y, { beta: 0.9 });
    expect(value(r.color)).toBeCloseTo(0.5, 6);
    expect(value(r.guide)).toBeCloseTo(1, 6);
    expect(value(r.total)).toBeCloseTo(0.5 + 0.9, 6);
  });

  it('passes a gradient check', async () => {
    const c = randomTensor([1, 4, 4, 3], 14);
    const g = randomTensor([1, 4, 4, 3], 15);
    const y = randomTensor([1, 4, 4, 3], 16);
    expect(await checkGradients((xs) => reconstructionLoss({ color: xs[0], guide: xs[1] }, y).total, [c, g], [], { eps: 1e-3 })).toBeGreaterThan(5);
  });

  it('weights both terms by pixelWeights', () => {
    const y = tf.zeros([1, 1, 2, 1]);
    const pixelWeights = tf.tensor4d([1, 3], [1, 1, 2, 1]);
    const r = reconstructionLoss({ color: tf.tensor4d([4, 0], [1, 1, 2, 1]), guide: tf.tensor4d([0, 4], [1, 1, 2, 1]) }, y, { beta: 0.5, pixelWeights });
    expect(value(r.color)).toBeCloseTo(1, 6);
    expect(value(r.guide)).toBeCloseTo(3, 6);
    expect(value(r.total)).toBeCloseTo(1 + 0.5 * 3, 6);
  });
});

// One sample, two CITs and one CVT; hand-computed terms.
const real = { adversarial: t2([[0.9]]), cit: t2([[0.7, 0.4]]), cvt: t2([[0.6]]) };
const fake = { adversarial: t2([[0.2]]), cit: t2([[0.5, 0.1]]), cvt: t2([[0.3]]) };
const tags = { cit: t2([[1, 0]]), cvt: t2([[1]]) };
const advReal = -log(0.9);
const advFake = -log(0.8);
const citReal = -(log(0.7) + log(0.6)) / 2;
const cvtReal = -log(0.6);
const citFake = -(log(0.5) + log(0.9)) / 2;
const cvtFake = -log(0.3);

describe('discriminatorLoss (Eqs. 1, 4)', () => {
  it('combines every term with λ_adv and the classification weights', () => {
    const r = discriminatorLoss(real, fake, tags, { lambdaAdv: 2, citWeight: 3, cvtWeight: 5 });
    expect(value(r.advReal)).toBeCloseTo(advReal, 6);
    expect(value(r.advFake)).toBeCloseTo(advFake, 6);
    expect(value(r.citReal)).toBeCloseTo(citReal, 6);
    expect(value(r.cvtReal)).toBeCloseTo(cvtReal, 6);
    expect(value(r.citFake)).toBeCloseTo(citFake, 6);
    expect(value(r.cvtFake)).toBeCloseTo(cvtFake, 6);
    const total = 2 * (advReal + advFake) + 5 * cvtReal + 3 * citReal + 5 * cvtFake + 3 * citFake;
    expect(value(r.total)).toBeCloseTo(total, 4);
  });

  it('is the adversarial loss alone in the segmentation step (weights 0, Eq. 1)', () => {
    const r = discriminatorLoss(real, fake, tags, { citWeight: 0, cvtWeight: 0 });
    expect(value(r.total)).toBeCloseTo(advReal + advFake, 6);
  });

  it('passes a gradient check through all six outputs', async () => {
    const xs = [
      randomTensor([2, 1], 20, 0.1, 0.9), randomTensor([2, 4], 21, 0.1, 0.9), randomTensor([2, 3], 22, 0.1, 0.9),
      randomTensor([2, 1], 23, 0.1, 0.9), randomTensor([2, 4], 24, 0.1, 0.9), randomTensor([2, 3], 25, 0.1, 0.9),
    ];
    const targets = { cit: tf.round(randomTensor([2, 4], 26, 0, 1)), cvt: tf.round(randomTensor([2, 3], 27, 0, 1)) };
    const n = await checkGradients(
      (v) => discriminatorLoss(
        { adversarial: v[0], cit: v[1], cvt: v[2] }, { adversarial: v[3], cit: v[4], cvt: v[5] }, targets,
        { lambdaAdv: 1.5, citWeight: 2, cvtWeight: 3 },
      ).total,
      xs, [], { eps: 1e-3, samples: 3 },
    );
    expect(n).toBeGreaterThan(10);
  });
});

describe('generatorLoss (Eqs. 1, 3, 4)', () => {
  it('combines adversarial, classification and λ_rec-weighted reconstruction terms', () => {
    const y = t1([1, -1]);
    const r = generatorLoss(fake, { color: t1([0.5, -0.5]), guide: t1([0, 0]) }, y, tags, {
      citWeight: 3, cvtWeight: 5, lambdaRec: 1000, beta: 0.9,
    });
    expect(value(r.adv)).toBeCloseTo(-log(0.2), 6);
    expect(value(r.cit)).toBeCloseTo(citFake, 6);
    expect(value(r.cvt)).toBeCloseTo(cvtFake, 6);
    expect(value(r.l1Color)).toBeCloseTo(0.5, 6);
    expect(value(r.l1Guide)).toBeCloseTo(1, 6);
    expect(value(r.total)).toBeCloseTo(-log(0.2) + 5 * cvtFake + 3 * citFake + 1000 * (0.5 + 0.9), 3);
  });

  it('uses the published defaults λ_rec 1000, β 0.9 and classification weights 1', () => {
    const y = t1([1, -1]);
    const r = generatorLoss(fake, { color: t1([0.5, -0.5]), guide: t1([0, 0]) }, y, tags);
    expect(value(r.total)).toBeCloseTo(-log(0.2) + cvtFake + citFake + 1400, 3);
  });

  it('passes a gradient check through the images and the heads', async () => {
    const y = randomTensor([1, 3, 3, 3], 30);
    const targets = { cit: t2([[1, 0, 1]]), cvt: t2([[0, 1]]) };
    const xs = [
      randomTensor([1, 1], 31, 0.1, 0.9), randomTensor([1, 3], 32, 0.1, 0.9), randomTensor([1, 2], 33, 0.1, 0.9),
      randomTensor([1, 3, 3, 3], 34), randomTensor([1, 3, 3, 3], 35),
    ];
    const n = await checkGradients(
      (v) => generatorLoss({ adversarial: v[0], cit: v[1], cvt: v[2] }, { color: v[3], guide: v[4] }, y, targets, {
        lambdaRec: 10,
      }).total,
      xs, [], { eps: 1e-3, samples: 3 },
    );
    expect(n).toBeGreaterThan(10);
  });

  it('does not leak tensors', () => {
    const y = t1([1, -1]);
    const before = tf.memory().numTensors;
    const r = generatorLoss(fake, { color: t1([0.5, -0.5]), guide: t1([0, 0]) }, y, tags);
    tf.dispose(Object.values(r));
    // the two inputs made in the call above
    expect(tf.memory().numTensors).toBe(before + 2);
  });
});
