// Per-pixel weights of the reconstruction loss from a synthetic character's exact region masks,
// so that a small region (the eyes, a bow) counts as much as its weight says, where the published
// loss counts every pixel the same (the demo's default; docs/synthetic.md).
import * as tf from '@tensorflow/tfjs-core';
import type { SynthSample } from './dataset.js';
import { SYNTH_REGIONS, type SynthRegion } from './painter.js';

/** A weight per region; a region not named weighs 1. */
export type RegionWeights = Partial<Record<SynthRegion, number>>;

/** Options of {@link regionPixelWeights}. */
export interface PixelWeightOptions {
  /**
   * Width of a close-up's border, as a fraction of the image side, whose pixels weigh 0
   * (default 0). A full figure has background all along its border; a close-up fills it with
   * hair, hats and bows. Tried against the demo's patches at the generator's left edge, it
   * removed one seed's and not another's (docs/results.md, tenth round).
   */
  closeUpBorder?: number;
}

/** Checks region weights: known regions, each a finite number ≥ 0. `option` names them in errors. */
export function checkRegionWeights(weights: RegionWeights, option = 'regionWeights'): void {
  for (const [region, w] of Object.entries(weights)) {
    if (!SYNTH_REGIONS.includes(region as SynthRegion)) {
      throw new Error(`${option}: '${region}' is not a region; use one of ${SYNTH_REGIONS.join(', ')}.`);
    }
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new Error(`${option}: the weight of ${region} must be a finite number >= 0, got ${String(w)}.`);
    }
  }
}

/** Checks a close-up border width: a fraction in [0, 0.5). `option` names it in errors. */
export function checkCloseUpBorder(border: number, option = 'closeUpBorder'): void {
  if (!(typeof border === 'number' && border >= 0 && border < 0.5)) {
    throw new Error(`${option} must be a fraction of the image side in [0, 0.5), got ${String(border)}.`);
  }
}

/**
 * `[N, S, S, 1]` weights: at each pixel, the regions' weights averaged by their coverage there
 * (the masks sum to 1 at every pixel), so a pixel wholly in one region of a full figure gets that
 * region's weight. A close-up drawn `zoom` times larger (`spec.shape.zoom`) already gives each
 * region zoom² times the pixels, so a region's extra weight `w − 1` is divided by `zoom` there: it
 * adds `zoom` times what it adds in the full figure, not zoom² times. Weighted in full, the bows of
 * face close-ups, at the top of the frame, made the demo's generator paint speckled bow colours
 * there in full figures, where it is background; divided by zoom² instead, bows learned too late
 * (docs/results.md, ninth round). With `closeUpBorder`, a close-up's border weighs nothing.
 */
export function regionPixelWeights(samples: readonly SynthSample[], weights: RegionWeights, options: PixelWeightOptions = {}): tf.Tensor4D {
  checkRegionWeights(weights);
  const border = options.closeUpBorder ?? 0;
  checkCloseUpBorder(border);
  if (samples.length === 0) throw new Error('regionPixelWeights: no samples.');
  const size = samples[0]!.size;
  const n = size * size;
  const out = new Float32Array(samples.length * n).fill(1);
  const named = Object.entries(weights) as Array<[SynthRegion, number]>;
  samples.forEach((s, i) => {
    if (s.size !== size) throw new Error(`regionPixelWeights: sample ${i} is ${s.size} px, sample 0 is ${size} px; use one size.`);
    const zoom = s.spec.shape.zoom ?? 1;
    for (const [region, w] of named) {
      const mask = s.masks[region];
      const extra = (w - 1) / zoom;
      for (let p = 0; p < n; p++) out[i * n + p] += extra * mask[p]!;
    }
    const band = Math.round(border * size);
    if (zoom > 1 && band > 0) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          if (y < band || y >= size - band || x < band || x >= size - band) out[i * n + y * size + x] = 0;
        }
      }
    }
  });
  return tf.tensor4d(out, [samples.length, size, size, 1]);
}
