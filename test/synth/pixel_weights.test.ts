import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { faceCloseUp } from '../../src/data/synth/close_up.js';
import { generateCharacter, renderSample } from '../../src/data/synth/dataset.js';
import { regionPixelWeights } from '../../src/data/synth/pixel_weights.js';
import { expectNoTensorLeak } from '../helpers/memory.js';

describe('regionPixelWeights', () => {
  const samples = [0, 1].map((i) => generateCharacter(i, { size: 32, seed: 4 }));

  it('gives each pixel its regions’ weights averaged by coverage, 1 for regions not named', () => {
    const w = regionPixelWeights(samples, { eyes: 10, background: 0 });
    expect(w.shape).toEqual([2, 32, 32, 1]);
    const data = w.dataSync();
    w.dispose();
    let checked = 0;
    samples.forEach((s, i) => {
      for (let p = 0; p < 32 * 32; p++) {
        const eyes = s.masks.eyes[p]!;
        const background = s.masks.background[p]!;
        const expected = 10 * eyes + 0 * background + (1 - eyes - background);
        expect(data[i * 1024 + p]).toBeCloseTo(expected, 5);
        if (eyes > 0.6) checked++;
      }
    });
    // Some pixels lie mostly in an eye, so the weight 10 is really seen.
    expect(checked).toBeGreaterThan(0);
    expect(Math.max(...data)).toBeGreaterThan(6);
    expect(Math.min(...data)).toBeCloseTo(0, 4);
  });

  it('divides a region’s extra weight by the zoom in a close-up, so it adds zoom times what it adds in the full figure', () => {
    const spec = samples[0]!.spec;
    const closeUp = renderSample(faceCloseUp(spec, 2), 32);
    expect(closeUp.spec.shape.zoom).toBe(2);
    const weights = { eyes: 9, background: 0.6 };
    const [full, zoomed] = [samples[0]!, closeUp].map((s) => {
      const w = regionPixelWeights([s], weights);
      const data = w.dataSync();
      w.dispose();
      return data;
    });
    // Per pixel: 1 + (w − 1)·coverage / zoom.
    for (let p = 0; p < 32 * 32; p++) {
      const expected = 1 + (8 * closeUp.masks.eyes[p]! - 0.4 * closeUp.masks.background[p]!) / 2;
      expect(zoomed![p]).toBeCloseTo(expected, 5);
    }
    // With the eyes alone weighted, their extra weight summed over the image is about twice the
    // full figure's: the close-up's eyes cover about four times the pixels, each at half the extra.
    const extra = (s: typeof closeUp): number => {
      const w = regionPixelWeights([s], { eyes: 9 });
      const sum = Array.from(w.dataSync()).reduce((a, b) => a + b, 0);
      w.dispose();
      return sum - 32 * 32;
    };
    const ratio = extra(closeUp) / extra(samples[0]!);
    expect(ratio).toBeGreaterThan(1.3);
    expect(ratio).toBeLessThan(3);
  });

  it('weighs a close-up’s border 0 with closeUpBorder, and leaves full figures and the inside as they were', () => {
    const closeUp = renderSample(faceCloseUp(samples[0]!.spec, 2), 32);
    const weights = { eyes: 9, hair: 2, background: 0.6 };
    const read = (s: readonly (typeof closeUp)[], options?: { closeUpBorder: number }) => {
      const w = regionPixelWeights(s, weights, options);
      const data = Array.from(w.dataSync());
      w.dispose();
      return data;
    };
    const plain = read([samples[0]!, closeUp]);
    const bordered = read([samples[0]!, closeUp], { closeUpBorder: 0.125 });
    // The full figure (sample 0) is unchanged; the close-up loses a 4-pixel band (32 × 0.125).
    expect(bordered.slice(0, 1024)).toEqual(plain.slice(0, 1024));
    let band = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const p = 1024 + y * 32 + x;
        const inBand = y < 4 || y >= 28 || x < 4 || x >= 28;
        expect(bordered[p]).toBe(inBand ? 0 : plain[p]);
        if (inBand && plain[p]! > 0.6) band++;
      }
    }
    // The band held weight before, so the check above can fail.
    expect(band).toBeGreaterThan(100);
    expectNoTensorLeak(() => {
      expect(() => regionPixelWeights(samples, weights, { closeUpBorder: 0.5 })).toThrow(/closeUpBorder must be a fraction of the image side in \[0, 0.5\), got 0.5/);
      expect(() => regionPixelWeights(samples, weights, { closeUpBorder: -1 })).toThrow(/closeUpBorder must be a fraction/);
    });
  });

  it('is all ones with no weights', () => {
    const w = regionPixelWeights(samples, {});
    expect(Array.from(new Set(w.dataSync()))).toEqual([1]);
    w.dispose();
  });

  it('rejects unknown regions, bad weights and mixed sizes with one clear error each, creating no tensor', () => {
    expectNoTensorLeak(() => {
      expect(() => regionPixelWeights(samples, { eye: 3 } as never)).toThrow(/'eye' is not a region; use one of background, skin, hair, eyes/);
      expect(() => regionPixelWeights(samples, { bow: -1 })).toThrow(/weight of bow must be a finite number >= 0, got -1/);
      expect(() => regionPixelWeights(samples, { bow: NaN })).toThrow(/weight of bow/);
      expect(() => regionPixelWeights([samples[0]!, generateCharacter(0, { size: 48, seed: 4 })], { eyes: 2 })).toThrow(/sample 1 is 48 px, sample 0 is 32 px/);
      expect(() => regionPixelWeights([], { eyes: 2 })).toThrow(/no samples/);
    });
  });
});
