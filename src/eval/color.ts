/** Colour conversions for judging colourings (sRGB, D65 white). Browser-safe. */

/** A CIELAB colour `[L*, a*, b*]`. */
export type Lab = [number, number, number];

function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

// D65 reference white of the sRGB primaries.
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

function labF(t: number): number {
  const d = 6 / 29;
  return t > d * d * d ? Math.cbrt(t) : t / (3 * d * d) + 4 / 29;
}

/** CIELAB of an sRGB colour with channels in [0, 1] (values outside are clamped). */
export function srgbToLab(rgb: readonly [number, number, number] | readonly number[]): Lab {
  const [r, g, b] = [0, 1, 2].map((i) => srgbToLinear(Math.min(1, Math.max(0, rgb[i]!)))) as [number, number, number];
  const x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z = 0.0193339 * r + 0.119192 * g + 0.9503041 * b;
  const fx = labF(x / XN);
  const fy = labF(y / YN);
  const fz = labF(z / ZN);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** Euclidean distance in CIELAB (ΔE*ab, CIE76). */
export function deltaE(a: Lab, b: Lab): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
