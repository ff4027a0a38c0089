import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FAMILY_TAGS, renderSample, synthBatch, synthCharacters, tagColor, type RGB } from '../../src/data/synth/index.js';
import { deltaE, scoreColorings, srgbToLab, tagAccuracy, type JudgeableSample } from '../../src/eval/index.js';
import { type Raster8 } from '../../src/data/index.js';

describe('CIELAB', () => {
  it('matches published sRGB → Lab values', () => {
    const white = srgbToLab([1, 1, 1]);
    expect(white[0]).toBeCloseTo(100, 2);
    expect(Math.abs(white[1])).toBeLessThan(0.01);
    expect(Math.abs(white[2])).toBeLessThan(0.01);
    const red = srgbToLab([1, 0, 0]);
    expect(red[0]).toBeCloseTo(53.24, 1);
    expect(red[1]).toBeCloseTo(80.09, 1);
    expect(red[2]).toBeCloseTo(67.2, 1);
    const grey = srgbToLab([0.5, 0.5, 0.5]);
    expect(grey[0]).toBeCloseTo(53.39, 1);
    expect(deltaE(srgbToLab([0, 0, 0]), white)).toBeCloseTo(100, 2);
  });

  it('keeps the named colours of every family apart', () => {
    for (const tags of Object.values(FAMILY_TAGS)) {
      for (let i = 0; i < tags.length; i++) {
        for (let j = i + 1; j < tags.length; j++) {
          expect(deltaE(srgbToLab(tagColor(tags[i]!)), srgbToLab(tagColor(tags[j]!))), `${tags[i]} vs ${tags[j]}`).toBeGreaterThan(10);
        }
      }
    }
  });
});

/** An 8×8 picture: left half hair, right half background; the top-right 2×2 block is an eye. */
function handMade(hair: string, eyes: string, background: string): JudgeableSample {
  const n = 64;
  const masks = { hair: new Float32Array(n), eyes: new Float32Array(n), background: new Float32Array(n) };
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const p = y * 8 + x;
      if (x >= 6 && y < 2) masks.eyes[p] = 1;
      else if (x < 4) masks.hair[p] = 1;
      else masks.background[p] = 1;
    }
  }
  return { familyTags: { hair, eyes, background }, masks };
}

function paint(sample: JudgeableSample, colors: Record<string, RGB>): Raster8 {
  const data = new Uint8Array(64 * 3);
  for (const [family, mask] of Object.entries(sample.masks)) {
    const c = colors[family]!;
    mask!.forEach((m, p) => {
      if (m > 0) for (let k = 0; k < 3; k++) data[p * 3 + k] = Math.round(c[k]! * 255);
    });
  }
  return { data, width: 8, height: 8, channels: 3 };
}

describe('scoreColourings on hand-made images', () => {
  const samples = [handMade('blue_hair', 'red_eyes', 'white_background'), handMade('pink_hair', 'green_eyes', 'black_background')];
  const asked = (s: JudgeableSample): Record<string, RGB> =>
    Object.fromEntries(Object.entries(s.familyTags).map(([f, t]) => [f, tagColor(t!)]));

  it('scores a perfect colouring 1', () => {
    const report = scoreColorings(samples.map((s) => paint(s, asked(s))), samples);
    expect(report.overall).toBe(1);
    expect(report.perFamily['hair']).toMatchObject({ accuracy: 1, correct: 2, total: 2 });
    expect(report.perFamily['eyes']!.accuracy).toBe(1);
    expect(report.perFamily['background']!.accuracy).toBe(1);
    expect(report.judgements.find((j) => j.family === 'eyes')!.pixels).toBe(4);
  });

  it('scores a colouring with the wrong colours 0', () => {
    const wrong = [
      { hair: tagColor('red_hair'), eyes: tagColor('blue_eyes'), background: tagColor('black_background') },
      { hair: tagColor('green_hair'), eyes: tagColor('pink_eyes'), background: tagColor('yellow_background') },
    ];
    const report = scoreColorings(samples.map((s, i) => paint(s, wrong[i]!)), samples);
    expect(report.overall).toBe(0);
    expect(report.judgements.map((j) => j.nearest)).toEqual([
      'red_hair', 'blue_eyes', 'black_background', 'green_hair', 'pink_eyes', 'yellow_background',
    ]);
  });

  it('judges each family on its own region only (small eyes included)', () => {
    // Right hair and background, wrong eyes: only the eye family fails.
    const images = samples.map((s) => paint(s, { ...asked(s), eyes: tagColor('yellow_eyes') }));
    const report = scoreColorings(images, samples);
    expect(report.perFamily['hair']!.accuracy).toBe(1);
    expect(report.perFamily['background']!.accuracy).toBe(1);
    expect(report.perFamily['eyes']!.accuracy).toBe(0);
    expect(report.overall).toBeCloseTo(4 / 6, 10);
    expect(report.meanOverFamilies).toBeCloseTo(2 / 3, 10);
  });

  it('accepts float images in a given range and measures L1 in [-1, 1]', () => {
    const truth = paint(samples[0]!, asked(samples[0]!));
    const withTruth: JudgeableSample = { ...samples[0]!, color: truth };
    const same = { data: Float32Array.from(truth.data, (v) => (v / 255) * 2 - 1), width: 8, height: 8, channels: 3 as const };
    const r1 = scoreColorings([same], [withTruth], { range: [-1, 1] });
    expect(r1.overall).toBe(1);
    expect(r1.l1).toBeLessThan(1e-6);
    const black = { data: new Float32Array(64 * 3).fill(-1), width: 8, height: 8, channels: 3 as const };
    const r2 = scoreColorings([black], [withTruth], { range: [-1, 1] });
    const expected = Array.from(truth.data, (v) => (v / 255) * 2).reduce((a, b) => a + b) / truth.data.length;
    expect(r2.l1).toBeCloseTo(expected, 5);
  });

  it('names the problem when tags, sizes or counts do not fit', () => {
    expect(() => scoreColorings([], samples)).toThrow(/one image per sample/);
    const bad = handMade('blue_eyes', 'red_eyes', 'white_background');
    expect(() => scoreColorings([paint(bad, asked(samples[0]!))], [bad])).toThrow(/not a candidate of family 'hair'/);
    const small = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 as const };
    expect(() => scoreColorings([small], [samples[0]!])).toThrow(/mask has 64 pixels/);
  });
});

describe('tag accuracy of synthetic ground truth', () => {
  const samples = [...synthCharacters(40, { seed: 21, size: 64 })];

  it('is 1 in every family for the true colour images, with L1 0', () => {
    const report = scoreColorings(samples.map((s) => s.color), samples);
    for (const [family, f] of Object.entries(report.perFamily)) expect(f.accuracy, family).toBe(1);
    expect(report.perFamily['eyes']!.total).toBe(40);
    expect(report.l1).toBe(0);
  });

  it('fails exactly the recoloured family when one tag changes', () => {
    const recolored = samples.map((s) =>
      renderSample({ ...s.spec, colors: { ...s.spec.colors, hair: s.familyTags.hair === 'red_hair' ? 'aqua_hair' : 'red_hair' } }, s.size),
    );
    const report = scoreColorings(recolored.map((r) => r.color), samples);
    expect(report.perFamily['hair']!.accuracy).toBe(0);
    expect(report.perFamily['eyes']!.accuracy).toBe(1);
    expect(report.perFamily['background']!.accuracy).toBe(1);
    expect(report.l1).toBeGreaterThan(0);
  });

  it('runs a colourisation function batch by batch without leaking tensors', async () => {
    const few = samples.slice(0, 5);
    const truth = synthBatch(few);
    let offset = 0;
    // A "model" that returns the ground truth of the batch it is given.
    const oracle = ({ lineArt }: { lineArt: tf.Tensor4D }): tf.Tensor4D => {
      const n = lineArt.shape[0];
      const out = tf.slice(truth.color, [offset, 0, 0, 0], [n, -1, -1, -1]);
      offset += n;
      return out;
    };
    const before = tf.memory().numTensors;
    const report = await tagAccuracy(oracle, few, { batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.overall).toBe(1);
    expect(report.l1).toBeLessThan(0.01); // 8-bit rounding only
    const grey = await tagAccuracy({ colorize: ({ lineArt }) => tf.tidy(() => tf.zerosLike(tf.tile(lineArt, [1, 1, 1, 3]))) as tf.Tensor4D }, few);
    expect(grey.overall).toBeLessThan(0.5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([truth.lineArt, truth.color, truth.cit, truth.cvt]);
  });
});
