import { describe, expect, it } from 'vitest';
import { ChangingLossScheduler } from '../../src/losses/index.js';

describe('ChangingLossScheduler.tag2pix', () => {
  // Positions are 0-based; the options count epochs from 1 like the published flags.
  it('keeps the classification weights at 0 before twoStepEpoch (counted from 1), then uses the user’s', () => {
    const s = ChangingLossScheduler.tag2pix({ twoStepEpoch: 10, citWeight: 40, cvtWeight: 30 });
    expect(s.valuesAt(0)).toMatchObject({ citWeight: 0, cvtWeight: 0, stage: 'segmentation' });
    expect(s.valuesAt(8, 500)).toMatchObject({ citWeight: 0, cvtWeight: 0 }); // epoch 9
    expect(s.valuesAt(9)).toMatchObject({ citWeight: 40, cvtWeight: 30, stage: 'colourisation' }); // epoch 10
    expect(s.valuesAt(59)).toMatchObject({ citWeight: 40, cvtWeight: 30 });
  });

  it('has the published defaults', () => {
    const v = ChangingLossScheduler.tag2pix().valuesAt(9);
    expect(v).toEqual({
      citWeight: 1, cvtWeight: 1, lambdaRec: 1000, beta: 0.9, lambdaAdv: 1, brightnessStage: false,
      adversarial: true, stage: 'colourisation',
    });
    expect(ChangingLossScheduler.tag2pix().valuesAt(8).citWeight).toBe(0);
  });

  it('twoStepEpoch 0 or 1 trains with classification from the start', () => {
    for (const twoStepEpoch of [0, 1]) {
      const s = ChangingLossScheduler.tag2pix({ twoStepEpoch, citWeight: 40, cvtWeight: 40 });
      expect(s.valuesAt(0)).toMatchObject({ citWeight: 40, cvtWeight: 40, stage: 'colourisation' });
    }
  });

  it('switches the brightness stage on at brightnessEpoch (counted from 1; 0 or null = never)', () => {
    const s = ChangingLossScheduler.tag2pix({ twoStepEpoch: 5, brightnessEpoch: 24, citWeight: 40, cvtWeight: 40 });
    expect(s.valuesAt(22).brightnessStage).toBe(false);
    expect(s.valuesAt(23)).toMatchObject({ brightnessStage: true, citWeight: 40, stage: 'brightness' });
    expect(ChangingLossScheduler.tag2pix({ brightnessEpoch: 1 }).valuesAt(0).brightnessStage).toBe(true);
    expect(ChangingLossScheduler.tag2pix({ brightnessEpoch: 0 }).valuesAt(100).brightnessStage).toBe(false);
    expect(ChangingLossScheduler.tag2pix({ brightnessEpoch: null }).valuesAt(100).brightnessStage).toBe(false);
    expect(() => ChangingLossScheduler.tag2pix({ twoStepEpoch: -1 })).toThrow(/twoStepEpoch must be an integer >= 0/);
  });

  it('puts a reconstruction warm-up of warmupEpochs before the two steps (default none)', () => {
    const s = ChangingLossScheduler.tag2pix({ warmupEpochs: 2, twoStepEpoch: 4, citWeight: 40, cvtWeight: 30 });
    expect(s.valuesAt(0)).toMatchObject({ adversarial: false, stage: 'warm-up' });
    expect(s.valuesAt(1, 99)).toMatchObject({ adversarial: false, stage: 'warm-up' });
    expect(s.valuesAt(2)).toMatchObject({ adversarial: true, citWeight: 0, cvtWeight: 0, stage: 'segmentation' });
    expect(s.valuesAt(3)).toMatchObject({ adversarial: true, citWeight: 40, cvtWeight: 30, stage: 'colourisation' });
    // A warm-up that outlasts the segmentation step ends straight in colourisation.
    for (const twoStepEpoch of [0, 2, 4]) {
      const t = ChangingLossScheduler.tag2pix({ warmupEpochs: 3, twoStepEpoch, citWeight: 40, cvtWeight: 30 });
      expect(t.valuesAt(2)).toMatchObject({ adversarial: false, stage: 'warm-up' });
      expect(t.valuesAt(3)).toMatchObject({ adversarial: true, citWeight: 40, cvtWeight: 30, stage: 'colourisation' });
    }
    expect(ChangingLossScheduler.tag2pix({ twoStepEpoch: 0 }).valuesAt(0)).toMatchObject({ adversarial: true, stage: 'colourisation' });
    expect(() => ChangingLossScheduler.tag2pix({ warmupEpochs: 1.5 })).toThrow(/warmupEpochs must be an integer >= 0 \(a number of epochs\)/);
    const restored = ChangingLossScheduler.fromJSON(JSON.stringify(s));
    expect(restored.valuesAt(1)).toEqual(s.valuesAt(1));
    expect(restored.valuesAt(2)).toEqual(s.valuesAt(2));
  });

  it('tracks the position in training and follows it in current()', () => {
    const s = ChangingLossScheduler.tag2pix({ twoStepEpoch: 2, citWeight: 7 });
    s.advanceStep();
    s.advanceStep();
    expect([s.epoch, s.step, s.globalStep]).toEqual([0, 2, 2]);
    expect(s.current().citWeight).toBe(0);
    s.advanceEpoch();
    s.advanceStep();
    expect([s.epoch, s.step, s.globalStep]).toEqual([1, 1, 3]);
    expect(s.current().citWeight).toBe(7);
  });

  it('resumes from toJSON in the same epoch, step and stage (also through a JSON string)', () => {
    const s = ChangingLossScheduler.tag2pix({ twoStepEpoch: 3, brightnessEpoch: 4, citWeight: 40, cvtWeight: 40 });
    for (let e = 0; e < 2; e++) {
      for (let i = 0; i < 5; i++) s.advanceStep();
      s.advanceEpoch();
    }
    s.advanceStep();
    const restored = ChangingLossScheduler.fromJSON(JSON.stringify(s));
    expect([restored.epoch, restored.step, restored.globalStep]).toEqual([2, 1, 11]);
    expect(restored.current()).toEqual(s.current());
    expect(restored.current().citWeight).toBe(40);
    restored.advanceEpoch();
    s.advanceEpoch();
    expect(restored.current()).toEqual(s.current());
    expect(restored.current().brightnessStage).toBe(true);
  });
});

describe('ChangingLossScheduler (generic)', () => {
  // The documented non-Tag2Pix example: an image-to-image GAN whose perceptual loss starts
  // after a warm-up and whose L1 weight halves later.
  const make = () =>
    new ChangingLossScheduler({
      initial: { l1: 100, perceptual: 0 },
      stages: [
        { name: 'fine', fromEpoch: 10, values: { l1: 50 } },
        { name: 'perceptual', fromEpoch: 2, values: { perceptual: 10 } },
      ],
    });

  it('applies stages in order of their start, keeping earlier values', () => {
    const s = make();
    expect(s.valuesAt(0)).toEqual({ l1: 100, perceptual: 0, stage: 'initial' });
    expect(s.valuesAt(5)).toEqual({ l1: 100, perceptual: 10, stage: 'perceptual' });
    expect(s.valuesAt(12)).toEqual({ l1: 50, perceptual: 10, stage: 'fine' });
  });

  it('can start a stage in the middle of an epoch', () => {
    const s = new ChangingLossScheduler({
      initial: { w: 0 },
      stages: [{ name: 'on', fromEpoch: 1, fromStep: 100, values: { w: 1 } }],
    });
    expect(s.valuesAt(1, 99).w).toBe(0);
    expect(s.valuesAt(1, 100).w).toBe(1);
    expect(s.valuesAt(2, 0).w).toBe(1);
  });

  it('rejects bad configurations and positions with a clear message', () => {
    expect(
      () => new ChangingLossScheduler({ initial: { a: 1 }, stages: [{ name: 'x', fromEpoch: 1, values: { b: 2 } as never }] }),
    ).toThrow(/sets "b", which "initial" does not define/);
    expect(
      () => new ChangingLossScheduler({ initial: { a: 1 }, stages: [{ name: 'x', fromEpoch: -1, values: {} }] }),
    ).toThrow(/fromEpoch must be an integer >= 0/);
    expect(() => new ChangingLossScheduler({ initial: { a: NaN } })).toThrow(/initial.a must be a finite number/);
    expect(() => make().valuesAt(1.5)).toThrow(/integers >= 0/);
    expect(() => ChangingLossScheduler.fromJSON('{}')).toThrow(/expected the object written by toJSON/);
  });
});
