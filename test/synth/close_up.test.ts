import { describe, expect, it } from 'vitest';
import { generateCharacter, renderSample } from '../../src/data/synth/dataset.js';
import { faceCloseUp } from '../../src/data/synth/close_up.js';

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
