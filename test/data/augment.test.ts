import { describe, expect, it } from 'vitest';
import {
  Rng,
  applyGeometricTransform,
  applyLineArtJitter,
  augmentPair,
  identityTransform,
  resizeRaster,
  rotationCropFraction,
  sampleGeometricTransform,
  sampleLineArtJitter,
  transformSourcePoint,
  type GeometricTransform,
  type RasterF,
} from '../../src/data/index.js';

function randomRgb(size: number, seed: number): RasterF {
  const r = new Rng(seed);
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = r.next();
  return { data, width: size, height: size, channels: 3 };
}

function greyOf(img: RasterF): RasterF {
  const n = img.width * img.height;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = 0.299 * img.data[3 * i]! + 0.587 * img.data[3 * i + 1]! + 0.114 * img.data[3 * i + 2]!;
  return { data, width: img.width, height: img.height, channels: 1 };
}

describe('Rng', () => {
  it('is deterministic per key and differs across keys', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(1, 2, 3)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(1, 2, 3)));
    const c = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(1, 2, 4)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('draws in range with the right mean, and shuffles into a permutation', () => {
    const r = new Rng(7);
    const draws = Array.from({ length: 20000 }, () => r.uniform(-10, 10));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(-10);
    expect(Math.max(...draws)).toBeLessThan(10);
    expect(Math.abs(draws.reduce((a, b) => a + b) / 20000)).toBeLessThan(0.2);
    const ints = new Set(Array.from({ length: 2000 }, () => r.int(3, 6)));
    expect([...ints].sort()).toEqual([3, 4, 5, 6]);
    const p = r.shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('geometric transform', () => {
  it('rotation crop fraction matches the reference rot_crop values', () => {
    // rot_crop() of the published loader, evaluated in Python: 1, 5 and 10 degrees.
    expect(rotationCropFraction(1)).toBeCloseTo(0.982994102166536, 12);
    expect(rotationCropFraction(-5)).toBeCloseTo(0.9230623464972036, 12);
    expect(rotationCropFraction(10)).toBeCloseTo(0.8632179900134445, 12);
    expect(rotationCropFraction(0)).toBe(1);
  });

  it('identity leaves the image unchanged; a flip mirrors it exactly', () => {
    const img = randomRgb(9, 1);
    expect(Array.from(applyGeometricTransform(img, identityTransform(9)).data)).toEqual(Array.from(img.data));
    const flipped = applyGeometricTransform(img, { ...identityTransform(9), flip: true }).data;
    for (let y = 0; y < 9; y++) {
      for (let x = 0; x < 9; x++) {
        for (let c = 0; c < 3; c++) expect(flipped[(y * 9 + x) * 3 + c]).toBe(img.data[(y * 9 + 8 - x) * 3 + c]);
      }
    }
  });

  it('rotates counter-clockwise like PIL (content on the right moves to the top)', () => {
    const t: GeometricTransform = { ...identityTransform(100), angle: 90 };
    const [sx, sy] = transformSourcePoint(t, 50, 10);
    expect(sx).toBeCloseTo(90, 9);
    expect(sy).toBeCloseTo(50, 9);
    expect(transformSourcePoint(t, 50, 50).map((v) => +v.toFixed(9))).toEqual([50, 50]);
  });

  it('never samples outside the image: the rotation crop removes the empty corners', () => {
    const rng = new Rng(3);
    let rotated = 0;
    for (let i = 0; i < 400; i++) {
      const t = sampleGeometricTransform(rng, 64);
      if (t.angle !== 0) rotated++;
      expect(Math.abs(t.angle)).toBeLessThanOrEqual(10);
      const { crop, rotatedCrop } = t;
      expect(crop.top + crop.height).toBeLessThanOrEqual(rotatedCrop);
      expect(crop.left + crop.width).toBeLessThanOrEqual(rotatedCrop);
      const area = (crop.height * crop.width) / (rotatedCrop * rotatedCrop);
      expect(area).toBeGreaterThan(0.88);
      expect(area).toBeLessThanOrEqual(1.0001);
      expect(crop.width / crop.height).toBeGreaterThan(0.93);
      expect(crop.width / crop.height).toBeLessThan(1.07);
      for (const [x, y] of [[0, 0], [64, 0], [0, 64], [64, 64]] as const) {
        const [sx, sy] = transformSourcePoint(t, x, y);
        // Integer truncation of the crop side may leave a sliver of under one pixel.
        expect(sx).toBeGreaterThan(-1);
        expect(sy).toBeGreaterThan(-1);
        expect(sx).toBeLessThan(65);
        expect(sy).toBeLessThan(65);
      }
    }
    // p 0.5 of rotating.
    expect(rotated).toBeGreaterThan(150);
    expect(rotated).toBeLessThan(250);
  });
});

describe('augmentPair', () => {
  it('applies the same geometric transform to colour and line art', () => {
    // The line art is the colour image's grey: after augmentation it must still be.
    for (let seed = 0; seed < 12; seed++) {
      const color = randomRgb(32, 100 + seed);
      const out = augmentPair(color, greyOf(color), new Rng(seed), { size: 32, jitter: false });
      const expected = greyOf({ data: out.color.map((v) => (v + 1) / 2), width: 32, height: 32, channels: 3 }).data;
      let maxErr = 0;
      for (let i = 0; i < expected.length; i++) maxErr = Math.max(maxErr, Math.abs(out.lineArt[i]! - expected[i]!));
      expect(maxErr).toBeLessThan(1e-5);
    }
  });

  it('outputs S×S in the model ranges from any input size, 8-bit or float', () => {
    const color = { data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 7) % 256), width: 40, height: 30, channels: 3 as const };
    const line = { data: new Uint8Array(80 * 60).map((_, i) => (i * 13) % 256), width: 80, height: 60, channels: 1 as const };
    const out = augmentPair(color, line, new Rng(5), { size: 16, brightnessStage: true });
    expect(out.color.length).toBe(16 * 16 * 3);
    expect(out.lineArt.length).toBe(16 * 16);
    expect(Math.min(...out.color)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...out.color)).toBeLessThanOrEqual(1);
    expect(Math.min(...out.lineArt)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...out.lineArt)).toBeLessThanOrEqual(1);
    expect(() => augmentPair(line, line, new Rng(1), { size: 16 })).toThrow(/3 channels/);
  });

  it('is deterministic for a given random stream', () => {
    const color = randomRgb(24, 1);
    const line = greyOf(randomRgb(24, 2));
    const a = augmentPair(color, line, new Rng(9, 1), { size: 24 });
    const b = augmentPair(color, line, new Rng(9, 1), { size: 24 });
    const c = augmentPair(color, line, new Rng(9, 2), { size: 24 });
    expect(Array.from(a.color)).toEqual(Array.from(b.color));
    expect(Array.from(a.lineArt)).toEqual(Array.from(b.lineArt));
    expect(a.transform).toEqual(b.transform);
    expect(Array.from(a.lineArt)).not.toEqual(Array.from(c.lineArt));
  });

  it('evaluation mode only resizes', () => {
    const color = randomRgb(16, 4);
    const out = augmentPair(color, greyOf(color), new Rng(1), { size: 16, geometric: false, jitter: false });
    expect(Array.from(out.color)).toEqual(Array.from(color.data, (v) => v * 2 - 1).map(Math.fround));
    expect(out.jitter).toBeNull();
  });
});

describe('line-art jitter', () => {
  it('draws brightness from U(0.8, 1.2), or U(1, 7) in the brightness stage', () => {
    const rng = new Rng(11);
    const normal = Array.from({ length: 500 }, () => sampleLineArtJitter(rng, false));
    const stage = Array.from({ length: 500 }, () => sampleLineArtJitter(rng, true));
    for (const j of normal) {
      expect(j.brightness).toBeGreaterThanOrEqual(0.8);
      expect(j.brightness).toBeLessThan(1.2);
      expect(j.contrast).toBeGreaterThanOrEqual(0.8);
      expect(j.contrast).toBeLessThan(1.2);
      expect([...j.order].sort()).toEqual(['brightness', 'contrast', 'saturation']);
    }
    const sb = stage.map((j) => j.brightness);
    expect(Math.min(...sb)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sb)).toBeGreaterThan(6);
    expect(Math.max(...sb)).toBeLessThan(7);
    expect(new Set(normal.map((j) => j.order.join())).size).toBe(6);
  });

  it('scales brightness, stretches contrast about the mean, and clamps', () => {
    const line = new Float32Array([0, 0.25, 0.5, 1]);
    applyLineArtJitter(line, { brightness: 3, contrast: 1, saturation: 1, order: ['brightness', 'contrast', 'saturation'] });
    expect(Array.from(line)).toEqual([0, 0.75, 1, 1]);
    const l2 = new Float32Array([0, 0.5, 1, 0.5]);
    applyLineArtJitter(l2, { brightness: 1, contrast: 0.5, saturation: 1, order: ['contrast', 'brightness', 'saturation'] });
    expect(Array.from(l2)).toEqual([0.25, 0.5, 0.75, 0.5]);
  });
});

describe('resizeRaster', () => {
  it('keeps flat images flat and averages when shrinking', () => {
    const flat = { data: new Float32Array(20 * 10).fill(0.3), width: 20, height: 10, channels: 1 as const };
    for (const filter of ['bilinear', 'lanczos3'] as const) {
      const r = resizeRaster(flat, 7, 13, filter);
      expect([r.width, r.height, r.data.length]).toEqual([7, 13, 91]);
      for (const v of r.data) expect(v).toBeCloseTo(0.3, 5);
    }
    // A one-pixel checkerboard shrunk 4× must average to grey, not alias to black or white.
    const board = new Float32Array(32 * 32).map((_, i) => ((i % 32) + Math.floor(i / 32)) % 2);
    const small = resizeRaster({ data: board, width: 32, height: 32, channels: 1 }, 8, 8);
    for (const v of small.data) expect(v).toBeCloseTo(0.5, 2);
  });
});
