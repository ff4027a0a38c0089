import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultVocabulary } from '../../src/index.js';
import { generateCharacter, renderSample, synthBatch } from '../../src/data/synth/index.js';
import { initBackend } from '../../src/node/index.js';
import { readStepLog } from '../../src/node/train.js';
import { DEMO_PALETTE, decayFactor, rampFactor, freshSynthBatches, freshSynthSource, heldOutPairs, lineArtFeatures, plannedDemoEpochs, runDemo, synthTrainingSource } from '../../src/demo/index.js';
import type { CharacterSpec } from '../../src/data/synth/character.js';
import { faceCloseUp } from '../../src/data/synth/close_up.js';
import { maskCentroid } from '../helpers/masks.js';

describe('demo training on synthetic characters', () => {
  beforeAll(async () => {
    // The reduced Tag2Pix trains ~20× faster on wasm than on the plain cpu backend.
    await initBackend(process.env['TAG2PIX_BACKEND'] || 'wasm');
  });

  it('gives the same batches for the same epoch and different ones for the next', async () => {
    const samples = Array.from({ length: 8 }, (_, i) => generateCharacter(i, { size: 32, seed: 2 }));
    const source = synthTrainingSource(samples, 4, 7, lineArtFeatures);
    expect(source.batchesPerEpoch).toBe(2);
    const firstCvt = async (epoch: number, start: number): Promise<number[]> => {
      for await (const b of source.epoch(epoch, start > 0 ? { from: { epoch, batch: start } } : {})) {
        expect(b.cursor).toEqual({ epoch, batch: start + 1 });
        expect(b.citFeatures!.shape).toEqual([4, 4, 4, 2]);
        const v = Array.from(await b.cvt.data()) as number[];
        tf.dispose([b.lineArt, b.color, b.cit, b.cvt, b.citFeatures!]);
        return v;
      }
      return [];
    };
    expect(await firstCvt(0, 0)).toEqual(await firstCvt(0, 0));
    expect(await firstCvt(0, 1)).not.toEqual(await firstCvt(0, 0));
    const batch = synthBatch(samples.slice(0, 2));
    const f = lineArtFeatures(batch.lineArt);
    // Channel 0 is the mean line-art value of an 8×8 cell, channel 1 its minimum.
    const [mean, min] = tf.tidy(() => [tf.mean(tf.slice(batch.lineArt, [0, 0, 0, 0], [1, 8, 8, 1])), tf.min(tf.slice(batch.lineArt, [0, 0, 0, 0], [1, 8, 8, 1]))]);
    const cell = await tf.slice(f, [0, 0, 0, 0], [1, 1, 1, 2]).data();
    expect(cell[0]).toBeCloseTo((await mean!.data())[0]!, 5);
    expect(cell[1]).toBeCloseTo((await min!.data())[0]!, 5);
    tf.dispose([f, mean!, min!, ...Object.values(batch)]);
  });

  it('fresh source: new characters every batch, each line art in several colourings, deterministic and resumable', async () => {
    const pairs = heldOutPairs();
    const heldOut = (colors: Record<string, string>) => pairs.some(([a, b]) => Object.values(colors).includes(a) && Object.values(colors).includes(b));
    const options = { batchSize: 4, batchesPerEpoch: 3, seed: 5, size: 32, colorChoices: DEMO_PALETTE, reject: (s: CharacterSpec) => heldOut(s.colors as Record<string, string>), colorsPerLineArt: 2, citFeatures: lineArtFeatures };
    const read = async (epoch: number, from?: number) => {
      const batches: Array<{ lineArt: number[][]; cvt: number[][]; cursor: unknown }> = [];
      for await (const b of freshSynthSource(options).epoch(epoch, from ? { from: { epoch, batch: from } } : {})) {
        expect(b.citFeatures!.shape).toEqual([4, 4, 4, 2]);
        batches.push({ lineArt: (await b.lineArt.array()).map((x) => x.flat(2)), cvt: await b.cvt.array(), cursor: b.cursor });
        tf.dispose([b.lineArt, b.color, b.cit, b.cvt, b.citFeatures!]);
      }
      return batches;
    };
    const before = tf.memory().numTensors;
    const epoch1 = await read(1);
    expect(epoch1.map((b) => b.cursor)).toEqual([1, 2, 3].map((batch) => ({ epoch: 1, batch })));
    for (const b of epoch1) {
      // Samples 0/1 and 2/3 share a line art and differ in their colour tags.
      expect(b.lineArt[0]).toEqual(b.lineArt[1]);
      expect(b.lineArt[2]).toEqual(b.lineArt[3]);
      expect(b.lineArt[0]).not.toEqual(b.lineArt[2]);
      expect(b.cvt[0]).not.toEqual(b.cvt[1]);
    }
    expect(epoch1[1]!.lineArt[0]).not.toEqual(epoch1[0]!.lineArt[0]);
    const epoch2 = await read(2);
    expect(epoch2[0]!.lineArt[0]).not.toEqual(epoch1[0]!.lineArt[0]);
    expect(await read(1)).toEqual(epoch1);
    expect(await read(1, 2)).toEqual(epoch1.slice(2));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => freshSynthSource({ ...options, colorsPerLineArt: 3 })).toThrow(/dividing the batch size 4/);
  });

  it('both sources add the pixel weights of the region weights asked for, and check them first', async () => {
    const regionWeights = { eyes: 10, bow: 30 };
    const fresh = freshSynthSource({ batchSize: 4, batchesPerEpoch: 1, seed: 5, size: 32, colorChoices: DEMO_PALETTE, regionWeights, citFeatures: lineArtFeatures });
    const samples = Array.from({ length: 4 }, (_, i) => generateCharacter(i, { size: 32, seed: 2 }));
    const fixed = synthTrainingSource(samples, 4, 7, lineArtFeatures, regionWeights);
    const before = tf.memory().numTensors;
    for (const source of [fresh, fixed]) {
      for await (const b of source.epoch(1)) {
        expect(b.pixelWeights!.shape).toEqual([4, 32, 32, 1]);
        const w = await b.pixelWeights!.data();
        expect(Math.max(...w)).toBeGreaterThan(5);
        expect(Math.min(...w)).toBeCloseTo(1, 5);
        tf.dispose([b.lineArt, b.color, b.cit, b.cvt, b.citFeatures!, b.pixelWeights!]);
      }
    }
    for await (const b of synthTrainingSource(samples, 4, 7, lineArtFeatures).epoch(1)) {
      expect(b.pixelWeights).toBeUndefined();
      tf.dispose([b.lineArt, b.color, b.cit, b.cvt, b.citFeatures!]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => synthTrainingSource(samples, 4, 7, lineArtFeatures, { iris: 2 } as never)).toThrow(/'iris' is not a region/);
    expect(() => freshSynthSource({ batchSize: 4, batchesPerEpoch: 1, seed: 5, size: 32, colorChoices: DEMO_PALETTE, regionWeights: { eyes: -1 }, citFeatures: lineArtFeatures })).toThrow(/weight of eyes must be a finite number >= 0/);
  });

  it('fresh source never draws a held-out tag pair, in recolourings and close-ups too', async () => {
    const pairs = heldOutPairs();
    const tagNames = defaultVocabulary().cvt.map((t) => t.name);
    const reject = (s: CharacterSpec) => pairs.some(([a, b]) => Object.values(s.colors).includes(a) && Object.values(s.colors).includes(b));
    const source = freshSynthSource({ batchSize: 8, batchesPerEpoch: 8, seed: 3, size: 32, colorChoices: DEMO_PALETTE, reject, colorsPerLineArt: 4, closeUpShare: 0.5, citFeatures: lineArtFeatures });
    for await (const b of source.epoch(1)) {
      for (const row of (await b.cvt.array())) {
        const tags = row.flatMap((v, i) => (v ? [tagNames[i]!] : []));
        expect(pairs.some(([x, y]) => tags.includes(x) && tags.includes(y))).toBe(false);
      }
      tf.dispose([b.lineArt, b.color, b.cit, b.cvt, b.citFeatures!]);
    }
  });

  it("fresh source: with placement 'anywhere', close-ups frame the eyes or the bow anywhere in the middle of the image, at the zoom asked", () => {
    const batch = freshSynthBatches({ batchSize: 24, seed: 4, size: 64, colorChoices: DEMO_PALETTE, closeUpShare: 1, closeUpZoom: [2, 3], closeUpPlacement: 'anywhere' })(0);
    // The same characters drawn as full figures, to read each close-up's zoom off its scale.
    const full = freshSynthBatches({ batchSize: 24, seed: 4, size: 64, colorChoices: DEMO_PALETTE })(0);
    const centroid = (mask: Float32Array) => maskCentroid(mask, 64);
    const eyeCentres: Array<[number, number]> = [];
    let bows = 0;
    for (const [i, s] of batch.entries()) {
      const [x, y] = centroid(s.masks.eyes);
      const [bx, by] = s.spec.bow ? centroid(s.masks.bow) : [NaN, NaN];
      // Which region sits at a point of the middle half: the eyes' midpoint or the bow's knot.
      const inMiddle = (u: number, v: number) => u > 0.2 && u < 0.8 && v > 0.2 && v < 0.8;
      if (s.spec.bow && inMiddle(bx, by) && !inMiddle(x, y)) bows++;
      else eyeCentres.push([x, y]);
      const zoom = s.spec.shape.scale / full[i]!.spec.shape.scale;
      expect(zoom).toBeGreaterThanOrEqual(2);
      expect(zoom).toBeLessThanOrEqual(3);
    }
    expect(bows).toBeGreaterThan(0);
    // Not one place: the eyes' midpoints spread over the middle of the image.
    const spread = (k: 0 | 1) => Math.max(...eyeCentres.map((c) => c[k])) - Math.min(...eyeCentres.map((c) => c[k]));
    expect(spread(0)).toBeGreaterThan(0.25);
    expect(spread(1)).toBeGreaterThan(0.25);
  });

  it('fresh source: the first closeUpShare of the line arts are close-ups of the same characters', () => {
    const options = { batchSize: 4, seed: 9, size: 32, colorChoices: DEMO_PALETTE, closeUpZoom: [1.6, 2.2] as const };
    const full = freshSynthBatches(options)(3);
    const mixed = freshSynthBatches({ ...options, closeUpShare: 0.5 })(3);
    const again = freshSynthBatches({ ...options, closeUpShare: 0.5 })(3);
    const ink = (s: { lineArt: { data: ArrayLike<number> } }) => Array.from(s.lineArt.data).reduce((a, v) => a + (1 - v), 0);
    for (let i = 0; i < 4; i++) {
      // The same character and tags; samples 0 and 1 drawn larger (more ink), 2 and 3 unchanged.
      expect(mixed[i]!.tags).toEqual(full[i]!.tags);
      expect(mixed[i]!.spec.colors).toEqual(full[i]!.spec.colors);
      expect(Array.from(again[i]!.lineArt.data)).toEqual(Array.from(mixed[i]!.lineArt.data));
      if (i < 2) {
        expect(mixed[i]!.spec.shape.scale).toBeGreaterThanOrEqual(full[i]!.spec.shape.scale * 1.6);
        expect(ink(mixed[i]!)).toBeGreaterThan(ink(full[i]!));
      } else {
        expect(Array.from(mixed[i]!.lineArt.data)).toEqual(Array.from(full[i]!.lineArt.data));
      }
    }
    expect(() => freshSynthBatches({ ...options, closeUpShare: 1.5 })).toThrow(/closeUpShare must be between 0 and 1, got 1.5/);
    // The default placement: faceCloseUp's, the eye line at half the height.
    const centred = faceCloseUp(full[0]!.spec, mixed[0]!.spec.shape.scale / full[0]!.spec.shape.scale, 0.5).shape;
    for (const key of ['scale', 'centreX', 'offsetY'] as const) expect(mixed[0]!.spec.shape[key]).toBeCloseTo(centred[key], 12);
    expect(() => freshSynthBatches({ ...options, closeUpPlacement: 'top' as never })).toThrow(/closeUpPlacement must be one of centre, anywhere, got top/);
  });

  it('fresh source: flipProbability mirrors that share of the line arts, recolourings with their line art', () => {
    const options = { batchSize: 32, seed: 6, size: 32, colorChoices: DEMO_PALETTE, colorsPerLineArt: 2 };
    const plain = freshSynthBatches(options)(1);
    const flipped = freshSynthBatches({ ...options, flipProbability: 0.5 })(1);
    let mirrored = 0;
    for (let i = 0; i < plain.length; i++) {
      // The same character either way; a mirrored one has its line art flipped.
      expect(flipped[i]!.tags).toEqual(plain[i]!.tags);
      const isMirrored = flipped[i]!.spec.shape.mirrored === true;
      const flip = renderSample({ ...plain[i]!.spec, shape: { ...plain[i]!.spec.shape, mirrored: true } }, 32);
      expect(Array.from(flipped[i]!.lineArt.data)).toEqual(Array.from((isMirrored ? flip : plain[i]!).lineArt.data));
      // Both colourings of a line art are drawn the same way round.
      if (i % 2 === 1) expect(isMirrored).toBe(flipped[i - 1]!.spec.shape.mirrored === true);
      if (isMirrored) mirrored++;
    }
    expect(mirrored).toBeGreaterThan(4);
    expect(mirrored).toBeLessThan(28);
    expect(freshSynthBatches({ ...options, flipProbability: 1 })(1).every((s) => s.spec.shape.mirrored)).toBe(true);
    expect(() => freshSynthBatches({ ...options, flipProbability: -0.1 })).toThrow(/flipProbability must be between 0 and 1, got -0.1/);
  });

  it('fresh source: closeUpBorder gives close-ups pixel weights with a zero border, even with no region weights', async () => {
    const options = { batchSize: 4, batchesPerEpoch: 1, seed: 2, size: 32, colorChoices: DEMO_PALETTE, closeUpShare: 0.5, citFeatures: lineArtFeatures };
    const firstBatch = async (source: ReturnType<typeof freshSynthSource>) => {
      for await (const b of source.epoch(1)) return b;
      throw new Error('no batch');
    };
    const plain = await firstBatch(freshSynthSource(options));
    expect(plain.pixelWeights).toBeUndefined();
    tf.dispose([plain.lineArt, plain.color, plain.cit, plain.cvt, plain.citFeatures!]);
    const bordered = await firstBatch(freshSynthSource({ ...options, closeUpBorder: 0.25 }));
    const w = (await bordered.pixelWeights!.array()) as number[][][][];
    // Samples 0 and 1 are close-ups: an 8-pixel border at 0, ones inside; 2 and 3 all ones.
    expect(w[0]![0]![16]![0]).toBe(0);
    expect(w[1]![16]![31]![0]).toBe(0);
    expect(w[0]![16]![16]![0]).toBe(1);
    expect(w[2]![0]![0]![0]).toBe(1);
    tf.dispose([bordered.lineArt, bordered.color, bordered.cit, bordered.cvt, bordered.citFeatures!, bordered.pixelWeights!]);
    expect(() => freshSynthSource({ ...options, closeUpBorder: 0.6 })).toThrow(/closeUpBorder must be a fraction of the image side in \[0, 0.5\), got 0.6/);
  });

  it('plans the epochs that fit the budget, an adversarial epoch costing 2.5 warm-up ones', () => {
    const plan = { epoch: 2, elapsedSeconds: 46, epochSeconds: 23, epochs: 17, warmupEpochs: 15 };
    // Epochs 3–15: 13 × 23 s → 345 s; 16 and 17: 57.5 s each → 402.5 s, 460 s.
    expect(plannedDemoEpochs({ ...plan, budgetSeconds: 480 })).toBe(17);
    expect(plannedDemoEpochs({ ...plan, budgetSeconds: 450 })).toBe(16);
    expect(plannedDemoEpochs({ ...plan, budgetSeconds: 300 })).toBe(13);
    expect(plannedDemoEpochs({ ...plan, budgetSeconds: 40 })).toBe(2);
    // Measured on an adversarial epoch, the warm-up unit is a 2.5th of it; without a warm-up every epoch costs the same.
    expect(plannedDemoEpochs({ epoch: 2, elapsedSeconds: 70, epochSeconds: 50, epochs: 10, warmupEpochs: 1, budgetSeconds: 220 })).toBe(5);
    expect(plannedDemoEpochs({ epoch: 1, elapsedSeconds: 50, epochSeconds: 50, epochs: 10, warmupEpochs: 0, budgetSeconds: 220 })).toBe(4);
  });

  it('decays the learning rate linearly over the second half of the planned epochs', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((e) => decayFactor(e, 7))).toEqual([1, 1, 1, 1, 0.75, 0.5, 0.25]);
    expect([1, 2, 3, 4].map((e) => decayFactor(e, 4))).toEqual([1, 1, 2 / 3, 1 / 3]);
    expect(decayFactor(1, 1)).toBe(1);
    // Epochs past the plan (a faster machine later on) keep the last factor.
    expect(decayFactor(9, 7)).toBe(0.25);
  });

  it('ramps the learning rate up linearly over the first steps', () => {
    expect([0, 1, 2, 3, 4, 100].map((step) => rampFactor(step, 4))).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    expect(rampFactor(0, 0)).toBe(1);
    expect(rampFactor(0, 1)).toBe(1);
  });

  it('keeps held-out tag pairs out of training', () => {
    expect(heldOutPairs().length).toBeGreaterThan(0);
  });

  it('trains a reduced Tag2Pix whose L1 falls, then measures tag accuracy, without leaking tensors', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-demo-'));
    const before = tf.memory().numTensors;
    try {
      const options = {
        size: 48,
        // Twelve steps over the same 8 characters: enough to see L1 fall (fresh characters every
        // batch, the demo's default, need more steps than a unit test should take).
        trainingData: 'fixed',
        trainCount: 8,
        testCount: 6,
        batchSize: 4,
        epochs: 6,
        // Three warm-up epochs (G alone), then three adversarial ones.
        warmupEpochs: 3,
        twoStepEpoch: 1,
        widthMultiplier: 0.125,
        learningRate: 2e-3,
        // Rising over the first 4 of the 12 steps (the default's 128 would keep this run slow).
        learningRateRamp: 4,
        // A token pretraining of a narrow synthetic CIT extractor.
        extractorSteps: 2,
        extractorFeatures: 8,
        progress: 'silent',
        print: () => {},
        skipImages: true,
      } as const;
      const result = await runDemo({ ...options, out });
      expect(result.steps).toBe(12);
      expect(result.history.map((h) => h.steps)).toEqual([2, 4, 6, 8, 10, 12]);
      // The rate of each epoch's last step: 2/4 of it, then all of it, then the decay over the
      // second half (×3/4, ×2/4, ×1/4).
      expect(result.history.map((h) => h.learningRate / 2e-3)).toEqual([0.5, 1, 1, 0.75, 0.5, 0.25].map((f) => expect.closeTo(f, 6)));
      const l1 = result.l1PerStep;
      const first = (l1[0]! + l1[1]! + l1[2]!) / 3;
      const last = (l1[9]! + l1[10]! + l1[11]!) / 3;
      expect(last).toBeLessThan(first * 0.9);
      // Every family is measured, eyes included (at 48 px an eye can be too small to judge).
      for (const family of ['hair', 'eyes', 'background']) {
        const f = result.test.perFamily[family]!;
        expect(f.total).toBeGreaterThanOrEqual(family === 'eyes' ? 4 : 6);
        expect(f.accuracy).toBeGreaterThanOrEqual(0);
        expect(f.accuracy).toBeLessThanOrEqual(1);
      }
      expect(result.unseen.perFamily['hair']!.total).toBe(6);
      const report = await fs.readFile(path.join(out, 'report.md'), 'utf8');
      expect(report).toMatch(/\| eyes \|/);
      // The report states the seed, backend, steps and time, and the extractor's pretraining.
      expect(report).toMatch(/^Seed 1, backend \w+( \(\d+ threads?\))?; the synthetic CIT extractor pretrained for 2 steps \(\d+ s\), then 12 training steps of G \(6 warm-up, 6 adversarial\); training \d+ s in all \(\d+ s of CPU time\), whole run \d+ s \(load average [\d.]+ at the start/m);
      expect(result.extractor.steps).toBe(2);
      expect(result.warmupSteps).toBe(6);
      // What `tag2pix colorize --weights <out>` reads: the generator (taking the extractor's 8 features) and the extractor.
      const header = async (file: string) => {
        const bytes = await fs.readFile(path.join(out, file));
        return JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape: number[] }>;
      };
      expect((await header('generator.safetensors'))['featureConv.network.0.weight']!.shape[1]).toBe(8);
      expect((await header('cit_extractor.safetensors'))['features.weight']!.shape[0]).toBe(8);
      expect(JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')).steps).toBe(12);
      // The log shows both phases: no D in the warm-up, D from epoch 4 on.
      const log = await readStepLog(path.join(out, 'run', 'log.jsonl'));
      expect(log.map((r) => r.stage)).toEqual([...Array(6).fill('warm-up'), ...Array(6).fill('colourisation')]);
      expect(log.slice(0, 6).every((r) => Number.isNaN(r.discriminator.total))).toBe(true);
      expect(log.slice(6).every((r) => Number.isFinite(r.discriminator.total) && Number.isFinite(r.generator.adv))).toBe(true);
      expect(log.map((r) => r.weights['adversarial'])).toEqual([...Array(6).fill(false), ...Array(6).fill(true)]);
      // Seeded data and seeded initial weights: the same options give the same run.
      const again = await runDemo({ ...options, out: path.join(out, 'again') });
      expect(again.l1PerStep).toEqual(result.l1PerStep);
      expect(again.test.overall).toBe(result.test.overall);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });

  it('with a tag guide: pretrains the classifier, adds its term to every warm-up step, leaks nothing; refuses a bad step count', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-demo-guide-'));
    const before = tf.memory().numTensors;
    try {
      const options = {
        size: 32, trainingData: 'fixed', trainCount: 4, testCount: 2, batchSize: 2, epochs: 1, warmupEpochs: 1,
        widthMultiplier: 0.125, extractorSteps: 1, extractorFeatures: 8, tagGuideSteps: 2, tagGuideWeight: 50,
        progress: 'silent', print: () => {}, skipImages: true,
      } as const;
      const lines: string[] = [];
      await runDemo({ ...options, out, print: (line) => lines.push(line) });
      expect(lines.some((l) => /^tag guide: [\d,]+ parameters, pretrained for 2 steps/.test(l))).toBe(true);
      const log = await readStepLog(path.join(out, 'run', 'log.jsonl'));
      expect(log).toHaveLength(2);
      for (const r of log) {
        const g = r.generator as Record<string, number>;
        expect(Number.isFinite(g['tagGuide'])).toBe(true);
        expect(g['total']).toBeCloseTo(1000 * (g['l1Color']! + 0.9 * g['l1Guide']!) + 50 * g['tagGuide']!, 1);
      }
      expect(tf.memory().numTensors).toBe(before);
      await expect(runDemo({ ...options, out, tagGuideSteps: -1 })).rejects.toThrow(/tagGuideSteps must be an integer >= 0/);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });
});
