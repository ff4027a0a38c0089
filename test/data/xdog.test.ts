import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  XDOG_DEFAULTS,
  adjustIntensity,
  blendSketchXdog,
  gaussianBlurGrey,
  gaussianKernelSize,
  rgbToGrey,
  xdog,
  xdogThreshold,
  type Raster8,
} from '../../src/data/index.js';
import { rng } from '../helpers/gradcheck.js';

const numpy = JSON.parse(fs.readFileSync(new URL('./fixtures/xdog-numpy.json', import.meta.url), 'utf8')) as {
  adjust: Record<string, number[]>;
  threshold: { narrow: number[]; wide: number[]; out: number[] };
};

function randomImage(w: number, h: number, channels: 1 | 3, seed: number): Raster8 {
  const r = rng(seed);
  // Blocky content so there are edges as well as flat areas.
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = r() < 0.3 ? Math.floor(r() * 256) : 230;
  return { data, width: w, height: h, channels };
}

// ---- A direct, unoptimised implementation straight from the formulas (REFERENCE.md "Training"). ----

function mirror(i: number, n: number): number {
  // Reflect without repeating the edge pixel, bouncing as often as needed.
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** 2-D Gaussian (not separated) with OpenCV's window, rounded to 8 bits. */
function directBlur(img: Raster8, sigma: number, size: number): Uint8Array {
  const r = (size - 1) / 2;
  let norm = 0;
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) norm += Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
  const out = new Uint8Array(img.width * img.height);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      let acc = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const w = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) / norm;
          acc += w * img.data[mirror(y + dy, img.height) * img.width + mirror(x + dx, img.width)]!;
        }
      }
      out[y * img.width + x] = Math.min(255, Math.max(0, Math.round(acc)));
    }
  }
  return out;
}

function directGrey(img: Raster8): Raster8 {
  if (img.channels === 1) return img;
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.round(0.299 * img.data[3 * i]! + 0.587 * img.data[3 * i + 1]! + 0.114 * img.data[3 * i + 2]!);
  }
  return { data, width: img.width, height: img.height, channels: 1 };
}

function directXdog(img: Raster8, sigma = 0.4, k = 2.5, gamma = 0.95, eps = -0.5, phi = 1e9): Uint8Array {
  const g = directGrey(img);
  const size = (s: number) => {
    const n = Math.round(6 * s + 1);
    return n % 2 === 0 ? n + 1 : n;
  };
  const a = directBlur(g, sigma, size(sigma));
  const b = directBlur(g, sigma * k, size(sigma * k));
  return a.map((_, i) => {
    const d = (a[i]! - gamma * b[i]!) / 255;
    const v = d < eps ? 255 : 255 * (1 + Math.tanh(phi * d));
    return Math.trunc(v) % 256; // NumPy's uint8 cast of a value in [0, 510]
  });
}

// cv2.addWeighted rounds with cvRound: to nearest, ties to even.
function roundTiesToEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f;
  return frac > 0.5 ? f + 1 : frac < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

const directAdjust = (v: number, p: number) => (p === 1 ? v : Math.trunc(Math.pow(255, 1 - p) * Math.pow(v, p)));

// ---- Tests ----

describe('xdog', () => {
  it('has the published defaults', () => {
    expect(XDOG_DEFAULTS).toEqual({ sigma: 0.4, k: 2.5, gamma: 0.95, epsilon: -0.5, phi: 1e9 });
    expect(gaussianKernelSize(0.4)).toBe(3);
    expect(gaussianKernelSize(1)).toBe(7);
  });

  it('equals the direct implementation exactly (grey and RGB input, several sizes)', () => {
    const cases: Array<[number, number, 1 | 3]> = [[13, 11, 1], [24, 24, 3], [5, 7, 3], [1, 9, 1]];
    cases.forEach(([w, h, c], seed) => {
      const img = randomImage(w, h, c, seed + 1);
      const ours = xdog(img);
      expect([ours.width, ours.height, ours.channels]).toEqual([w, h, 1]);
      expect(Array.from(ours.data)).toEqual(Array.from(directXdog(img)));
    });
  });

  it('equals the direct implementation with other parameters (soft threshold, other sigmas)', () => {
    const img = randomImage(20, 17, 3, 9);
    const params = { sigma: 1.3, k: 1.6, gamma: 0.98, epsilon: -0.1, phi: 200 };
    expect(Array.from(xdog(img, params).data)).toEqual(Array.from(directXdog(img, 1.3, 1.6, 0.98, -0.1, 200)));
  });

  it('blurs like the direct 2-D Gaussian', () => {
    const img = randomImage(15, 12, 1, 4);
    for (const [sigma, size] of [[0.4, 3], [1, 7], [1, 5], [2.2, 15]] as const) {
      expect(Array.from(gaussianBlurGrey(img, sigma, size).data)).toEqual(Array.from(directBlur(img, sigma, size)));
    }
  });

  it('thresholds and casts like the published NumPy code', () => {
    const t = numpy.threshold;
    expect(Array.from(xdogThreshold(Uint8Array.from(t.narrow), Uint8Array.from(t.wide)))).toEqual(t.out);
  });

  it('draws dark lines on white', () => {
    // A black vertical bar on white: the bar becomes line (0), far areas stay white (254).
    const w = 16;
    const data = new Uint8Array(w * w).fill(255);
    for (let y = 0; y < w; y++) for (let x = 7; x < 9; x++) data[y * w + x] = 0;
    const out = xdog({ data, width: w, height: w, channels: 1 }).data;
    expect(out[5 * w + 7]).toBe(0);
    expect(out[5 * w + 1]).toBe(254);
    expect(out[5 * w + 14]).toBe(254);
  });

  it('rejects bad parameters', () => {
    const img = randomImage(4, 4, 1, 1);
    expect(() => xdog(img, { sigma: 0 })).toThrow(/sigma and k must be positive/);
    expect(() => xdog(img, { phi: NaN })).toThrow(/phi must be a finite number/);
    expect(() => xdog({ ...img, data: new Uint8Array(3) })).toThrow(/holds 3 values/);
  });
});

describe('intensity adjustment and sketch blend', () => {
  it('adjustIntensity matches the published NumPy code on every 8-bit value', () => {
    const all = { data: Uint8Array.from({ length: 256 }, (_, i) => i), width: 256, height: 1, channels: 1 as const };
    for (const [p, expected] of [[1.7, numpy.adjust['1.7']!], [1 / 1.5, numpy.adjust[String(1 / 1.5)]!]] as const) {
      const ours = Array.from(adjustIntensity(all, p).data);
      // At 255 the exact result is the integer 255 and the truncation depends on the last bit of
      // pow(): NumPy's gives 254.999..., JavaScript's 255.000...; everywhere else they agree.
      expect(ours.slice(0, 255)).toEqual(expected.slice(0, 255));
      expect(Math.abs(ours[255]! - expected[255]!)).toBeLessThanOrEqual(1);
    }
    expect(adjustIntensity(all, 1)).toBe(all);
  });

  it('blend 0 is the gamma-adjusted sketch', () => {
    const sketch = randomImage(9, 8, 1, 5);
    const out = blendSketchXdog(sketch, null);
    expect(Array.from(out.data)).toEqual(
      Array.from(sketch.data, (v) => directAdjust(directAdjust(v, 1.7), 1 / 1.5)),
    );
  });

  it('blend > 0 mixes the blurred XDoG of the illustration with the sketch (direct implementation)', () => {
    const sketch = randomImage(12, 10, 1, 6);
    const illustration = randomImage(12, 10, 3, 7);
    for (const blend of [0.3, 1]) {
      const out = blendSketchXdog(sketch, illustration, { blend });
      const x = directXdog(illustration);
      const blurred = directBlur({ data: x, width: 12, height: 10, channels: 1 }, 1, 5);
      const expected = Array.from(sketch.data, (v, i) => {
        const r = Math.min(255, roundTiesToEven(0.75 * blurred[i]! + 0.25 * x[i]!));
        const b = Math.min(255, roundTiesToEven(blend * r + (1 - blend) * directAdjust(v, 1.7)));
        return directAdjust(b, 1 / 1.5);
      });
      expect(Array.from(out.data)).toEqual(expected);
    }
    expect(() => blendSketchXdog(sketch, null, { blend: 0.5 })).toThrow(/needs the colour illustration/);
    expect(() => blendSketchXdog(sketch, randomImage(5, 5, 3, 1), { blend: 0.5 })).toThrow(/12×10.*5×5/);
  });

  it('rgbToGrey is the rounded BT.601 luma', () => {
    const img = randomImage(30, 30, 3, 8);
    expect(Array.from(rgbToGrey(img).data)).toEqual(Array.from(directGrey(img).data));
  });
});
