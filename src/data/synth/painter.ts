import { fillCoverage, strokeCoverage, translate, type Path } from './raster.js';
import { LINE_COLOR, type RGB } from './palette.js';

/** A region of a synthetic character; every pixel is split among the regions (masks sum to 1). */
export type SynthRegion =
  | 'background'
  | 'skin'
  | 'hair'
  | 'eyes'
  | 'shirt'
  | 'skirt'
  | 'dress'
  | 'hat'
  | 'bow'
  | 'detail';

/** Every region, in a fixed order. */
export const SYNTH_REGIONS: readonly SynthRegion[] = [
  'background', 'skin', 'hair', 'eyes', 'shirt', 'skirt', 'dress', 'hat', 'bow', 'detail',
];

/** How a filled shape is shaded (simple cel shading). */
export interface ShadeOptions {
  /** Shadow = the part of the shape that the shape moved by this offset (pixels) no longer covers. */
  offset?: readonly [number, number];
  /** Brightness factor in the shadow (e.g. 0.78). */
  shadow?: number;
  /** Brightness change from the top of the shape to its bottom (e.g. -0.08 darkens the bottom). */
  gradient?: number;
}

/** Options of one filled shape. */
export interface FillOptions {
  shade?: ShadeOptions;
  /** Outline widths in pixels (per vertex of the first polygon, cycled) or none. */
  outline?: number | readonly number[];
}

/**
 * Paints a character back to front. Keeps the colour image, the darkness of the line art, and
 * the region masks consistent: a shape drawn later hides both the colour and the lines under it.
 */
export class Painter {
  readonly color: Float32Array;
  /** Line darkness in [0, 1] (0 = paper). */
  readonly ink: Float32Array;
  readonly masks: Record<SynthRegion, Float32Array>;

  constructor(readonly size: number) {
    const n = size * size;
    this.color = new Float32Array(n * 3);
    this.ink = new Float32Array(n);
    this.masks = Object.fromEntries(SYNTH_REGIONS.map((r) => [r, new Float32Array(n)])) as Record<
      SynthRegion,
      Float32Array
    >;
  }

  /** Fills the whole canvas (no lines). */
  background(color: RGB, gradient: number): void {
    const s = this.size;
    this.masks.background.fill(1);
    for (let y = 0; y < s; y++) {
      const f = 1 + gradient * (0.5 - y / s);
      for (let x = 0; x < s; x++) {
        const i = (y * s + x) * 3;
        for (let c = 0; c < 3; c++) this.color[i + c] = clamp01(color[c]! * f);
      }
    }
  }

  /** Fills polygons with a colour as region `region`, shaded, then draws their outline. */
  fill(polygons: readonly Path[], region: SynthRegion, color: RGB, options: FillOptions = {}): Float32Array {
    const s = this.size;
    const cov = fillCoverage(polygons, s, s);
    const { shade } = options;
    let lit: Float32Array | undefined;
    if (shade?.offset) {
      const [dx, dy] = shade.offset;
      lit = fillCoverage(
        polygons.map((p) => translate(p, dx, dy)),
        s,
        s,
      );
    }
    const [top, bottom] = verticalExtent(polygons);
    const span = Math.max(1, bottom - top);
    const shadow = shade?.shadow ?? 1;
    const gradient = shade?.gradient ?? 0;
    const masks = SYNTH_REGIONS.map((r) => this.masks[r]);
    const own = this.masks[region];
    // Only the rows the polygons reach can be covered.
    const [firstRow, endRow] = rowsReached(polygons, 0, s);
    for (let row = firstRow; row < endRow; row++) {
      const rowShade = 1 + gradient * ((row + 0.5 - top) / span - 0.5);
      for (let idx = row * s; idx < (row + 1) * s; idx++) {
        const a = Math.min(1, cov[idx]!);
        if (a <= 0) continue;
        let f = rowShade;
        if (lit) f *= 1 - (1 - shadow) * (1 - Math.min(1, lit[idx]!));
        const i = idx * 3;
        for (let c = 0; c < 3; c++) this.color[i + c] = this.color[i + c]! * (1 - a) + clamp01(color[c]! * f) * a;
        this.ink[idx] = this.ink[idx]! * (1 - a);
        for (let m = 0; m < masks.length; m++) masks[m]![idx] = masks[m]![idx]! * (1 - a);
        own[idx] = own[idx]! + a;
      }
    }
    if (options.outline !== undefined) {
      for (const p of polygons) this.line(p, options.outline, true);
    }
    return cov;
  }

  /** Tints the colour inside polygons (limited to `within`, a coverage) without touching masks or lines. */
  tint(polygons: readonly Path[], color: RGB, opacity: number, within?: Float32Array): void {
    const s = this.size;
    const cov = fillCoverage(polygons, s, s);
    const [first, end] = rowsReached(polygons, 0, s);
    for (let idx = first * s; idx < end * s; idx++) {
      let a = Math.min(1, cov[idx]!) * opacity;
      if (within) a *= Math.min(1, within[idx]!);
      if (a <= 0) continue;
      const i = idx * 3;
      for (let c = 0; c < 3; c++) this.color[i + c] = this.color[i + c]! * (1 - a) + color[c]! * a;
    }
  }

  /** Draws a line (closed or open) of varying width into the line art. */
  line(path: Path, widths: number | readonly number[], closed: boolean, strength = 1): void {
    const s = this.size;
    const cov = strokeCoverage(path, widths, closed, s, s);
    // The stroke only reaches the rows of its path, widened by its largest half-width.
    const reach = Math.max(1, ...(typeof widths === 'number' ? [widths] : widths)) / 2 + 1;
    const [first, end] = rowsReached([path], reach, s);
    for (let idx = first * s; idx < end * s; idx++) {
      const a = cov[idx]! * strength;
      if (a > 0) this.ink[idx] = 1 - (1 - this.ink[idx]!) * (1 - a);
    }
  }

  /** The colour image with the lines inked in, as RGB bytes. */
  colorBytes(): Uint8Array {
    const n = this.size * this.size;
    const out = new Uint8Array(n * 3);
    for (let idx = 0; idx < n; idx++) {
      const a = this.ink[idx]!;
      for (let c = 0; c < 3; c++) {
        out[idx * 3 + c] = Math.round(clamp01(this.color[idx * 3 + c]! * (1 - a) + LINE_COLOR[c]! * a) * 255);
      }
    }
    return out;
  }

  /** The line art, grey in [0, 1] with white = 1. */
  lineArt(): Float32Array {
    const out = new Float32Array(this.ink.length);
    for (let i = 0; i < out.length; i++) out[i] = 1 - this.ink[i]!;
    return out;
  }
}

/** The rows `[first, end)` of a `size`-row canvas that `paths`, widened by `reach` pixels, can touch. */
function rowsReached(paths: readonly Path[], reach: number, size: number): [number, number] {
  const [top, bottom] = verticalExtent(paths);
  if (top > bottom) return [0, 0];
  return [Math.max(0, Math.floor(top - reach)), Math.min(size, Math.ceil(bottom + reach) + 1)];
}

/** The smallest and largest y of `paths`' points ([Infinity, -Infinity] when there are none). */
function verticalExtent(paths: readonly Path[]): [number, number] {
  let top = Infinity;
  let bottom = -Infinity;
  for (const p of paths) for (const [, y] of p) (top = Math.min(top, y)), (bottom = Math.max(bottom, y));
  return [top, bottom];
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
