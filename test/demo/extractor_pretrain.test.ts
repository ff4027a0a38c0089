import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { generateCharacter } from '../../src/data/synth/dataset.js';
import { SYNTH_REGIONS } from '../../src/data/synth/painter.js';
import { buildSynthCitExtractor } from '../../src/models/synth_cit_extractor.js';
import { pretrainSynthCitExtractor, regionTargets } from '../../src/demo/extractor_pretrain.js';

const samples = Array.from({ length: 4 }, (_, i) => generateCharacter(i, { size: 32, seed: 5 }));

describe('regionTargets', () => {
  it('is the region coverage of each 8×8 cell: every cell sums to 1, and the masks agree', async () => {
    const t = regionTargets(samples);
    expect(t.shape).toEqual([4, 4, 4, SYNTH_REGIONS.length]);
    const total = tf.sum(t, -1);
    const sums = await total.data();
    total.dispose();
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    // Hair coverage of sample 0's top-left cell, by hand.
    const hair = SYNTH_REGIONS.indexOf('hair');
    let expected = 0;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expected += samples[0]!.masks.hair[y * 32 + x]! / 64;
    const cell = tf.slice(t, [0, 0, 0, hair], [1, 1, 1, 1]);
    expect((await cell.data())[0]).toBeCloseTo(expected, 5);
    tf.dispose([t, cell]);
  });
});

describe('pretrainSynthCitExtractor', () => {
  it('lowers the region loss on the characters it trains on and keeps no tensors', async () => {
    const model = buildSynthCitExtractor({ inputSize: 32, widths: [4, 8, 8], featureChannels: 8, seed: 2 });
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    await pretrainSynthCitExtractor(model, { steps: 30, learningRate: 5e-3, batchAt: () => samples, onStep: (_, l) => losses.push(l.region) });
    expect(losses).toHaveLength(30);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('stops with a clear error on a non-finite loss and keeps no tensors', async () => {
    const model = buildSynthCitExtractor({ inputSize: 32, widths: [4, 4, 4], featureChannels: 4, seed: 2 });
    const before = tf.memory().numTensors;
    await expect(pretrainSynthCitExtractor(model, { steps: 3, learningRate: 1e30, batchAt: () => samples })).rejects.toThrow(/not finite.*lower learningRate/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
