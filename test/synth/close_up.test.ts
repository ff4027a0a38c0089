import { describe, expect, it } from 'vitest';
import { generateCharacter, renderSample } from '../../src/data/synth/dataset.js';
import { faceCloseUp, regionCloseUp } from '../../src/data/synth/close_up.js';
import { maskCentroid } from '../helpers/masks.js';

const judged = (mask: Float32Array, line: Float32Array): number => mask.reduce((n, m, p) => n + (m * line[p]! >= 0.75 ? 1 : 0), 0);

describe('faceCloseUp', () => {
  it('draws the same character larger around its eyes: same tags, several times the eye pixels', () => {
    for (let i = 0; i < 6; i++) {
      const s = generateCharacter(i, { size: 64, seed: 9 });
      const c = renderSample(faceCloseUp(s.spec, 2, 0.5), 64);
      expect(c.tags).toEqual(s.tags);
      expect(c.familyTags).toEqual(s.familyTags);
      expect(judged(c.masks.eyes, c.lineArt.data)).toBeGreaterThan(3 * judged(s.masks.eyes, s.lineArt.data));
      // The eyes sit around the requested eye line (half the height).
      let rows = 0;
      let weight = 0;
      c.masks.eyes.forEach((m, p) => ((rows += m * Math.floor(p / 64)), (weight += m)));
      expect(rows / weight / 64).toBeGreaterThan(0.4);
      expect(rows / weight / 64).toBeLessThan(0.6);
    }
  });

  it('zoom 1 with the eye line where it was leaves the drawing unchanged in scale', () => {
    const s = generateCharacter(0, { size: 64, seed: 9 });
    expect(faceCloseUp(s.spec, 1, 0.08 + s.spec.shape.offsetY + 0.41 * s.spec.shape.scale).shape).toEqual(
      expect.objectContaining({ scale: s.spec.shape.scale, centreX: s.spec.shape.centreX }),
    );
  });

  it('refuses a zoom below 1 or an eye line outside the image', () => {
    const { spec } = generateCharacter(0, { size: 32, seed: 9 });
    expect(() => faceCloseUp(spec, 0.5)).toThrow(/zoom must be a number >= 1, got 0.5/);
    expect(() => faceCloseUp(spec, 2, 1.2)).toThrow(/eyeLine must be in \(0, 1\)/);
  });
});

describe('regionCloseUp', () => {
  const withBow = (hat: boolean) => {
    for (let i = 0; ; i++) {
      const s = generateCharacter(i, { size: 64, seed: 5 });
      if (s.spec.bow && s.spec.hat === hat) return s;
    }
  };

  it('frames the bow at the image centre, with several times its pixels, with or without a hat', () => {
    for (const hat of [false, true]) {
      const s = withBow(hat);
      const c = renderSample(regionCloseUp(s.spec, 3, 'bow'), 64);
      expect(c.tags).toEqual(s.tags);
      expect(judged(c.masks.bow, c.lineArt.data)).toBeGreaterThan(4 * judged(s.masks.bow, s.lineArt.data));
      const [x, y] = maskCentroid(c.masks.bow, 64);
      expect(Math.abs(x - 0.5)).toBeLessThan(0.1);
      expect(Math.abs(y - 0.5)).toBeLessThan(0.1);
      // The eyes' close-up at this zoom has no bow left in the frame.
      const eyes = renderSample(regionCloseUp(s.spec, 3, 'eyes'), 64);
      expect(judged(eyes.masks.bow, eyes.lineArt.data)).toBe(0);
    }
  });

  it('puts the eyes\' midpoint where asked', () => {
    const s = generateCharacter(2, { size: 64, seed: 5 });
    for (const at of [[0.3, 0.3], [0.5, 0.5], [0.7, 0.6]] as const) {
      const c = renderSample(regionCloseUp(s.spec, 2.5, 'eyes', at), 64);
      const [x, y] = maskCentroid(c.masks.eyes, 64);
      expect(Math.abs(x - at[0])).toBeLessThan(0.05);
      expect(Math.abs(y - at[1])).toBeLessThan(0.05);
      expect(judged(c.masks.eyes, c.lineArt.data)).toBeGreaterThan(4 * judged(s.masks.eyes, s.lineArt.data));
    }
  });

  it("gives a character without a bow the eyes' close-up, and refuses a zoom below 1 or a place outside the image", () => {
    let s = generateCharacter(0, { size: 64, seed: 5 });
    for (let i = 1; s.spec.bow; i++) s = generateCharacter(i, { size: 64, seed: 5 });
    expect(regionCloseUp(s.spec, 2, 'bow', [0.4, 0.6])).toEqual(regionCloseUp(s.spec, 2, 'eyes', [0.4, 0.6]));
    expect(() => regionCloseUp(s.spec, 0.9, 'eyes')).toThrow(/zoom must be a number >= 1, got 0.9/);
    expect(() => regionCloseUp(s.spec, 2, 'eyes', [0.5, 1.5])).toThrow(/at must be \[x, y\] within \[0, 1\], got \[0.5,1.5\]/);
  });
});
