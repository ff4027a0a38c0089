// Loss curves as an SVG (plain string building), from the step records of a run. Browser-safe;
// tag2pix/node renders it to PNG.
import type { StepLogRecord } from './run.js';

/** One point of a curve: global step and value. */
export interface CurvePoint {
  step: number;
  value: number;
}

/** A panel of the loss-curve figure. */
export interface CurvePanel {
  title: string;
  series: Array<{ name: string; color: string; points: CurvePoint[] }>;
}

const WIDTH = 900;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 70, right: 20, top: 30, bottom: 30 };

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** Averages consecutive points into at most `max` points, so long runs stay readable. */
function downsample(points: CurvePoint[], max: number): CurvePoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: CurvePoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const chunk = points.slice(i, i + size);
    out.push({
      step: chunk.reduce((a, p) => a + p.step, 0) / chunk.length,
      value: chunk.reduce((a, p) => a + p.value, 0) / chunk.length,
    });
  }
  return out;
}

/**
 * The SVG of stacked loss panels sharing the step axis; `epochStarts` (global steps) are drawn
 * as dashed vertical lines. Non-finite values are left out.
 */
export function lossCurveSvg(panels: CurvePanel[], epochStarts: number[] = []): string {
  const height = panels.length * PANEL_HEIGHT;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const allSteps = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q.step)));
  const minStep = allSteps.length ? Math.min(...allSteps) : 0;
  const maxStep = allSteps.length ? Math.max(...allSteps, minStep + 1) : 1;
  const x = (step: number) => MARGIN.left + ((step - minStep) / (maxStep - minStep)) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  panels.forEach((panel, i) => {
    const top = i * PANEL_HEIGHT + MARGIN.top;
    const series = panel.series.map((s) => ({ ...s, points: downsample(s.points.filter((p) => Number.isFinite(p.value)), plotW) }));
    const values = series.flatMap((s) => s.points.map((p) => p.value));
    let lo = values.length ? Math.min(...values) : 0;
    let hi = values.length ? Math.max(...values) : 1;
    if (hi === lo) {
      hi += 0.5;
      lo -= 0.5;
    }
    const y = (v: number) => top + plotH - ((v - lo) / (hi - lo)) * plotH;
    parts.push(`<text x="${MARGIN.left}" y="${top - 10}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = lo + ((hi - lo) * k) / 4;
      parts.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${formatTick(v)}</text>`);
      parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    }
    for (const e of epochStarts) {
      if (e <= minStep || e > maxStep) continue;
      parts.push(`<line x1="${x(e)}" x2="${x(e)}" y1="${top}" y2="${top + plotH}" stroke="#bbb" stroke-dasharray="4 3"/>`);
    }
    series.forEach((s, k) => {
      if (s.points.length > 0) {
        const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
        parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
      }
      parts.push(
        `<text x="${MARGIN.left + plotW - 10}" y="${top + 16 + 15 * k}" text-anchor="end" fill="${s.color}">${escapeXml(s.name)}</text>`,
      );
    });
    parts.push(`<text x="${MARGIN.left + plotW}" y="${top + plotH + 18}" text-anchor="end">step</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * The three panels of a run's loss curve (discriminator, generator, classification) from its
 * step records; terms a step did not compute (NaN) are left out of the lines.
 */
export function lossCurvePanels(records: readonly StepLogRecord[]): CurvePanel[] {
  const series = (pick: (r: StepLogRecord) => number, name: string, color: string) => ({
    name,
    color,
    points: records.map((r) => ({ step: r.globalStep, value: pick(r) })),
  });
  return [
    {
      title: 'Discriminator',
      series: [
        series((r) => r.discriminator.total, 'total', '#1f77b4'),
        series((r) => r.discriminator.advReal + r.discriminator.advFake, 'adversarial', '#ff7f0e'),
      ],
    },
    {
      title: 'Generator',
      series: [
        series((r) => r.generator.total, 'total', '#2ca02c'),
        series(
          (r) => (r.generator.l1Color + Number(r.weights['beta']) * r.generator.l1Guide) * Number(r.weights['lambdaRec']),
          'λ_rec·L_rec',
          '#d62728',
        ),
      ],
    },
    {
      title: 'Classification (unweighted BCE)',
      series: [
        series((r) => r.discriminator.citReal, 'D CIT real', '#9467bd'),
        series((r) => r.discriminator.cvtReal, 'D CVT real', '#8c564b'),
        series((r) => r.generator.cit, 'G CIT', '#e377c2'),
        series((r) => r.generator.cvt, 'G CVT', '#7f7f7f'),
      ],
    },
  ];
}

/** The loss-curve SVG of a run: {@link lossCurvePanels}, epoch starts as dashed lines. */
export function runLossCurveSvg(records: readonly StepLogRecord[]): string {
  return lossCurveSvg(lossCurvePanels(records), records.filter((r) => r.step === 0).map((r) => r.globalStep));
}
