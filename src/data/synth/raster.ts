/**
 * A tiny anti-aliased rasteriser for the synthetic characters: filled polygons (non-zero winding)
 * and stroked polylines of varying width, both returning per-pixel coverage in [0, 1]. Pure
 * TypeScript so the generator runs unchanged in browsers and in Node.
 *
 * Coordinates are in pixels, x to the right and y down; pixel (i, j) covers [i, i+1) × [j, j+1).
 */

/** A point `[x, y]`. */
export type Point = readonly [number, number];
/** A closed polygon (the last point joins the first) or an open polyline. */
export type Path = readonly Point[];

/** Vertical sub-scanlines per pixel for fills; horizontal coverage is exact. */
const FILL_SUBROWS = 4;

/**
 * Coverage of the union (non-zero winding) of closed polygons on a `width`×`height` grid.
 * Each pixel gets the fraction of its area inside, estimated on 4 sub-scanlines with exact
 * horizontal span coverage.
 */
export function fillCoverage(polygons: readonly Path[], width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  let count = 0;
  for (const poly of polygons) count += poly.length >= 3 ? poly.length : 0;
  // Non-horizontal edges as [x0, y0, x1, y1, dir] with y0 < y1, sorted by y0 so each sub-row
  // only looks at the edges it can cross (the active list), not at every edge of the shape.
  const raw = new Float64Array(count * 5);
  let edges = 0;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const poly of polygons) {
    const n = poly.length;
    if (n < 3) continue;
    for (let i = 0; i < n; i++) {
      const a = poly[i]!;
      const b = poly[(i + 1) % n]!;
      if (a[1] === b[1]) continue;
      const up = b[1] > a[1];
      const p = up ? a : b;
      const q = up ? b : a;
      const o = edges++ * 5;
      raw[o] = p[0];
      raw[o + 1] = p[1];
      raw[o + 2] = q[0];
      raw[o + 3] = q[1];
      raw[o + 4] = up ? 1 : -1;
      minY = Math.min(minY, a[1], b[1]);
      maxY = Math.max(maxY, a[1], b[1]);
    }
  }
  if (edges === 0) return out;
  const byTop = Array.from({ length: edges }, (_, i) => i).sort((i, j) => raw[i * 5 + 1]! - raw[j * 5 + 1]! || i - j);
  const rowStart = Math.max(0, Math.floor(minY));
  const rowEnd = Math.min(height, Math.ceil(maxY));
  const active: number[] = [];
  let next = 0;
  const crossX = new Float64Array(edges);
  const crossDir = new Int8Array(edges);
  const order = new Int32Array(edges);
  const weight = 1 / FILL_SUBROWS;
  for (let row = rowStart; row < rowEnd; row++) {
    for (let s = 0; s < FILL_SUBROWS; s++) {
      const y = row + (s + 0.5) * weight;
      const before = active.length;
      while (next < edges && raw[byTop[next]! * 5 + 1]! <= y) active.push(byTop[next++]!);
      // Crossings in edge order (as a scan over every edge finds them), for the same sort ties;
      // dropping finished edges below keeps that order, so only new edges need sorting in.
      if (active.length > before) insertionSort(active, before);
      let crossings = 0;
      let kept = 0;
      for (const e of active) {
        const o = e * 5;
        const y1 = raw[o + 3]!;
        if (y >= y1) continue; // finished: dropped from the active list
        active[kept++] = e;
        const y0 = raw[o + 1]!;
        if (y < y0) continue;
        const x0 = raw[o]!;
        crossX[crossings] = x0 + ((y - y0) / (y1 - y0)) * (raw[o + 2]! - x0);
        crossDir[crossings] = raw[o + 4]!;
        crossings++;
      }
      active.length = kept;
      if (crossings < 2) continue;
      // A few crossings per sub-row: an insertion sort, stable so ties keep edge order.
      for (let i = 0; i < crossings; i++) {
        const x = crossX[i]!;
        let k = i;
        while (k > 0 && crossX[order[k - 1]!]! > x) {
          order[k] = order[k - 1]!;
          k--;
        }
        order[k] = i;
      }
      let winding = 0;
      for (let k = 0; k < crossings - 1; k++) {
        winding += crossDir[order[k]!]!;
        if (winding !== 0) {
          addSpan(out, row * width, width, crossX[order[k]!]!, crossX[order[k + 1]!]!, weight);
        }
      }
    }
  }
  return out;
}

/** Sorts `list[from..]` into the ascending `list[..from)` (few new entries, distinct values). */
function insertionSort(list: number[], from: number): void {
  for (let i = from; i < list.length; i++) {
    const v = list[i]!;
    let k = i;
    while (k > 0 && list[k - 1]! > v) {
      list[k] = list[k - 1]!;
      k--;
    }
    list[k] = v;
  }
}

/** Adds `weight` × (horizontal overlap of [xa, xb) with each pixel) to one row. */
function addSpan(out: Float32Array, rowOffset: number, width: number, xa: number, xb: number, weight: number): void {
  const a = Math.max(0, xa);
  const b = Math.min(width, xb);
  if (b <= a) return;
  const ia = Math.floor(a);
  const ib = Math.floor(b);
  if (ia === ib) {
    out[rowOffset + ia]! += (b - a) * weight;
    return;
  }
  out[rowOffset + ia]! += (ia + 1 - a) * weight;
  for (let i = ia + 1; i < ib; i++) out[rowOffset + i]! += weight;
  if (ib < width) out[rowOffset + ib]! += (b - ib) * weight;
}

/**
 * Coverage of a stroke along `path` whose width varies per vertex (`widths[i]` at `path[i]`, or
 * one width for all), with round joins and caps, merged into `out` by maximum. Widths under one
 * pixel fade in intensity instead of vanishing, as a pen would.
 */
export function strokeCoverage(
  path: Path,
  widths: number | readonly number[],
  closed: boolean,
  width: number,
  height: number,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  const n = path.length;
  if (n === 0) return out;
  const segments = closed ? n : n - 1;
  for (let s = 0; s < Math.max(segments, 1); s++) {
    const a = path[s]!;
    const b = path[(s + 1) % n]!;
    const wa = typeof widths === 'number' ? widths : widths[s % widths.length]!;
    const wb = typeof widths === 'number' ? widths : widths[((s + 1) % n) % widths.length]!;
    const reach = Math.max(wa, wb, 1) / 2 + 1;
    const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0]) - reach));
    const x1 = Math.min(width - 1, Math.ceil(Math.max(a[0], b[0]) + reach));
    const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1]) - reach));
    const y1 = Math.min(height - 1, Math.ceil(Math.max(a[1], b[1]) + reach));
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    for (let py = y0; py <= y1; py++) {
      const cy = py + 0.5;
      for (let px = x0; px <= x1; px++) {
        const cx = px + 0.5;
        let t = len2 > 0 ? ((cx - a[0]) * dx + (cy - a[1]) * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = cx - (a[0] + t * dx);
        const ey = cy - (a[1] + t * dy);
        const d = Math.sqrt(ex * ex + ey * ey);
        const w = wa + t * (wb - wa);
        const half = Math.max(w, 1) / 2;
        let c = half + 0.5 - d;
        if (c <= 0) continue;
        c = (c > 1 ? 1 : c) * Math.min(w, 1);
        const idx = py * width + px;
        if (c > out[idx]!) out[idx] = c;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers

/** Points of an ellipse (clockwise on screen), starting at angle `start`. */
export function ellipse(cx: number, cy: number, rx: number, ry: number, segments = 48, start = 0): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i < segments; i++) {
    const t = start + (i / segments) * Math.PI * 2;
    pts.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return pts;
}

/** Points of an elliptic arc from angle `a0` to `a1` (radians, inclusive). */
export function arc(cx: number, cy: number, rx: number, ry: number, a0: number, a1: number, segments = 16): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i <= segments; i++) {
    const t = a0 + ((a1 - a0) * i) / segments;
    pts.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return pts;
}

/**
 * A smooth curve through control points (centripetal-free uniform Catmull–Rom), closed or open,
 * with `perSegment` points between consecutive control points.
 */
export function smoothCurve(points: readonly Point[], closed: boolean, perSegment = 8): Point[] {
  const n = points.length;
  if (n < 3) return points.slice();
  const at = (i: number): Point => {
    if (closed) return points[((i % n) + n) % n]!;
    return points[Math.min(n - 1, Math.max(0, i))]!;
  };
  const out: Point[] = [];
  const segments = closed ? n : n - 1;
  for (let i = 0; i < segments; i++) {
    const p0 = at(i - 1);
    const p1 = at(i);
    const p2 = at(i + 1);
    const p3 = at(i + 2);
    for (let k = 0; k < perSegment; k++) {
      const t = k / perSegment;
      const t2 = t * t;
      const t3 = t2 * t;
      const f = (a: number, b: number, c: number, d: number): number =>
        0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      out.push([f(p0[0], p1[0], p2[0], p3[0]), f(p0[1], p1[1], p2[1], p3[1])]);
    }
  }
  if (!closed) out.push(points[n - 1]!);
  return out;
}

/** `path` moved by (dx, dy). */
export function translate(path: Path, dx: number, dy: number): Point[] {
  return path.map(([x, y]) => [x + dx, y + dy] as Point);
}

/** `path` mirrored about the vertical line x = cx. */
export function mirrorX(path: Path, cx: number): Point[] {
  return path.map(([x, y]) => [2 * cx - x, y] as Point);
}
