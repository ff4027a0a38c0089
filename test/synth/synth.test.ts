import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FAMILY_TAGS, HAIR_STYLES, SYNTH_REGIONS, generateCharacter, renderSample, sampleCharacterSpec, synthBatch, synthCharacters, tagColor, type CharacterSpec } from '../../src/data/synth/index.js';
import { Rng } from '../../src/data/index.js';
import { defaultVocabulary } from '../../src/index.js';
import { fillCoverage, strokeCoverage } from '../../src/data/synth/raster.js';

const sum = (a: Float32Array): number => a.reduce((s, v) => s + v, 0);

describe('rasteriser', () => {
  it('covers a square with fractional edges by its exact area', () => {
    const cov = fillCoverage([[[1.25, 2.5], [5.75, 2.5], [5.75, 6.5], [1.25, 6.5]]], 8, 8);
    expect(sum(cov)).toBeCloseTo(4.5 * 4, 4);
    expect(cov[3 * 8 + 3]).toBeCloseTo(1, 6); // interior pixel
    expect(cov[3 * 8 + 1]).toBeCloseTo(0.75, 6); // left edge pixel: x from 1.25 to 2
    expect(cov[2 * 8 + 3]).toBeCloseTo(0.5, 6); // top edge pixel: y from 2.5 to 3
    expect(cov[0]).toBe(0);
  });

  it('covers a disc by about πr² with partial pixels only on its rim', () => {
    const pts: Array<[number, number]> = [];
    for (let i = 0; i < 256; i++) pts.push([16 + 10 * Math.cos((i / 256) * 2 * Math.PI), 16 + 10 * Math.sin((i / 256) * 2 * Math.PI)]);
    const cov = fillCoverage([pts], 32, 32);
    expect(sum(cov)).toBeGreaterThan(Math.PI * 100 * 0.99);
    expect(sum(cov)).toBeLessThan(Math.PI * 100 * 1.01);
    expect(Math.max(...cov)).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('uses the non-zero rule: overlapping polygons do not cancel', () => {
    const sq = (x: number): Array<[number, number]> => [[x, 0], [x + 4, 0], [x + 4, 4], [x, 4]];
    const cov = fillCoverage([sq(0), sq(2)], 8, 4);
    expect(sum(cov)).toBeCloseTo(6 * 4, 4);
  });

  it('strokes a line by about length × width, thicker where the width grows', () => {
    const cov = strokeCoverage([[4, 10.5], [28, 10.5]], 3, false, 32, 21);
    expect(sum(cov)).toBeGreaterThan(24 * 3);
    expect(sum(cov)).toBeLessThan(24 * 3 + Math.PI * 1.5 * 1.5 + 4);
    const varying = strokeCoverage([[4, 10.5], [28, 10.5]], [1, 5], false, 32, 21);
    const column = (x: number): number => Array.from({ length: 21 }, (_, y) => varying[y * 32 + x]!).reduce((a, b) => a + b);
    expect(column(25)).toBeGreaterThan(column(7) + 2);
  });
});

describe('synthetic characters', () => {
  const vocab = defaultVocabulary();

  it('are deterministic per seed and index, and differ across indices', () => {
    const a = generateCharacter(3, { seed: 11, size: 64 });
    const b = generateCharacter(3, { seed: 11, size: 64 });
    const c = generateCharacter(4, { seed: 11, size: 64 });
    expect(Buffer.from(a.color.data).equals(Buffer.from(b.color.data))).toBe(true);
    expect(a.lineArt.data).toEqual(b.lineArt.data);
    expect(Buffer.from(a.color.data).equals(Buffer.from(c.color.data))).toBe(false);
  });

  const samples = [...synthCharacters(24, { seed: 5, size: 96 })];

  it('have masks that split every pixel and cover every coloured family', () => {
    for (const s of samples) {
      const n = s.size * s.size;
      for (let p = 0; p < n; p += 7) {
        let total = 0;
        for (const r of SYNTH_REGIONS) total += s.masks[r][p]!;
        expect(Math.abs(total - 1)).toBeLessThan(1e-4);
      }
      for (const family of Object.keys(s.familyTags)) {
        // Eyes are the smallest family: two irises of a few dozen pixels each at 96 px.
        expect(sum(s.masks[family as keyof typeof s.masks])).toBeGreaterThan(family === 'eyes' ? 15 : 40);
      }
      expect(sum(s.masks.eyes)).toBeLessThan(0.02 * n);
    }
  });

  it('colour each family region with its tag colour', () => {
    for (const s of samples.slice(0, 6)) {
      for (const [family, tag] of Object.entries(s.familyTags)) {
        const mask = s.masks[family as keyof typeof s.masks];
        const target = tagColor(tag!);
        // The (almost) fully covered, line-free pixel nearest in colour to the tag must be close to it (shading darkens at most ~25%).
        let best = Infinity;
        for (let p = 0; p < mask.length; p++) {
          if (mask[p]! < 0.95 || s.lineArt.data[p]! < 0.95) continue;
          const d = Math.max(...[0, 1, 2].map((c) => Math.abs(s.color.data[p * 3 + c]! / 255 - target[c]!)));
          best = Math.min(best, d);
        }
        expect(best, `${family} ${tag}`).toBeLessThan(0.08);
      }
    }
  });

  it('have line art in [0, 1] with dark lines on white paper', () => {
    for (const s of samples) {
      const d = s.lineArt.data;
      expect(Math.min(...d)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...d)).toBeLessThanOrEqual(1);
      const dark = d.filter((v) => v < 0.5).length / d.length;
      expect(dark).toBeGreaterThan(0.02);
      expect(dark).toBeLessThan(0.3);
      expect(d[0]).toBe(1); // the background has no lines
      // Anti-aliased: intermediate greys exist.
      expect(d.filter((v) => v > 0.1 && v < 0.9).length).toBeGreaterThan(50);
    }
  });

  it('carry vocabulary tags and matching multi-hot vectors', () => {
    const seenStyles = new Set<string>();
    for (const s of samples) {
      seenStyles.add(s.spec.hairStyle);
      for (const t of s.tags.cit) expect(vocab.get(t).kind).toBe('cit');
      for (const t of s.tags.cvt) expect(vocab.get(t).kind).toBe('cvt');
      expect(sum(s.multiHot.cit)).toBe(new Set(s.tags.cit).size);
      expect(sum(s.multiHot.cvt)).toBe(s.tags.cvt.length);
      expect(s.multiHot.cvt[vocab.get(s.familyTags.hair!).index]).toBe(1);
      expect(s.tags.cit).toContain(s.spec.hairStyle === 'bob_cut' ? 'bob_cut' : s.spec.hairStyle === 'very_long_hair' ? 'very_long_hair' : s.spec.hairStyle);
      expect(s.tags.cit).toContain(s.spec.outfit === 'dress' ? 'dress' : 'skirt');
    }
    expect(seenStyles.size).toBeGreaterThanOrEqual(5);
    for (const tags of Object.values(FAMILY_TAGS)) for (const t of tags) expect(vocab.get(t).kind).toBe('cvt');
    expect(HAIR_STYLES).toContain('twintails');
  });

  it('keep the line art when only the colour tags change', () => {
    const base = samples[0]!;
    const recolored: CharacterSpec = {
      ...base.spec,
      colors: { ...base.spec.colors, hair: base.familyTags.hair === 'green_hair' ? 'red_hair' : 'green_hair' },
    };
    const other = renderSample(recolored, base.size);
    expect(other.lineArt.data).toEqual(base.lineArt.data);
    expect(other.masks.hair).toEqual(base.masks.hair);
    expect(Buffer.from(other.color.data).equals(Buffer.from(base.color.data))).toBe(false);
  });

  it('draw mirrored left to right when the spec says so: every pixel, line and mask flipped', () => {
    const base = samples[1]!;
    const mirrored = renderSample({ ...base.spec, shape: { ...base.spec.shape, mirrored: true } }, base.size);
    const S = base.size;
    const flipped = <T extends Uint8Array | Float32Array>(data: T, channels: number): number[] =>
      Array.from({ length: S * S * channels }, (_, i) => {
        const c = i % channels;
        const p = (i - c) / channels;
        const [y, x] = [Math.floor(p / S), p % S];
        return data[(y * S + S - 1 - x) * channels + c]!;
      });
    expect(Array.from(mirrored.color.data)).toEqual(flipped(base.color.data, 3));
    expect(Array.from(mirrored.lineArt.data)).toEqual(flipped(base.lineArt.data, 1));
    for (const r of SYNTH_REGIONS) expect(Array.from(mirrored.masks[r])).toEqual(flipped(base.masks[r], 1));
    // A drawing that is not symmetric, so the check above can fail.
    expect(Array.from(mirrored.lineArt.data)).not.toEqual(Array.from(base.lineArt.data));
    expect(mirrored.tags).toEqual(base.tags);
  });

  it('honour colour choices and rejections, and reject bad choices clearly', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 30; i++) {
      const spec = sampleCharacterSpec(rng, {
        colorChoices: { hair: ['blue_hair', 'red_hair'] },
        reject: (s) => s.colors.hair === 'red_hair' && s.colors.eyes === 'red_eyes',
        dressProbability: 0,
      });
      expect(['blue_hair', 'red_hair']).toContain(spec.colors.hair);
      expect(spec.outfit).toBe('shirt_skirt');
      expect(spec.colors.hair === 'red_hair' && spec.colors.eyes === 'red_eyes').toBe(false);
    }
    expect(() => sampleCharacterSpec(rng, { colorChoices: { hair: ['red_eyes'] } })).toThrow(/not a hair colour tag/);
    expect(() => sampleCharacterSpec(rng, { reject: () => true })).toThrow(/reject/);
    expect(() => renderSample({ ...samples[0]!.spec, colors: { hair: 'blue_eyes' } }, 64)).toThrow(/colours.hair/);
  });

  it('stack into tensors in the generator ranges without leaking', () => {
    const before = tf.memory().numTensors;
    const batch = synthBatch(samples.slice(0, 3));
    expect(batch.lineArt.shape).toEqual([3, 96, 96, 1]);
    expect(batch.color.shape).toEqual([3, 96, 96, 3]);
    expect(batch.cit.shape).toEqual([3, vocab.numCit]);
    expect(batch.cvt.shape).toEqual([3, vocab.numCvt]);
    expect(tf.min(batch.color).dataSync()[0]).toBeGreaterThanOrEqual(-1);
    expect(tf.max(batch.color).dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([batch.lineArt, batch.color, batch.cit, batch.cvt]);
    tf.disposeVariables();
    // min/max results above were kept by dataSync only; nothing else may remain.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
  });
});
