// Per-pixel weights of the reconstruction loss from a synthetic character's exact region masks,
// so that a small region (the eyes, a bow) counts as much as its weight says, where the published
// loss counts every pixel the same (the demo's default; docs/synthetic.md).
import * as tf from '@tensorflow/tfjs-core';
import type { SynthSample } from './dataset.js';
import { SYNTH_REGIONS, type SynthRegion } from './painter.js';

/** A weight per region; a region not named weighs 1. */
export type RegionWeights = Partial<Record<SynthRegion, number>>;

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

/**
 * `[N, S, S, 1]` weights: at each pixel, the regions' weights averaged by their coverage there
 * (the masks sum to 1 at every pixel), so a pixel wholly in one region of a full figure gets that
 * region's weight. A close-up drawn `zoom` times larger (`spec.shape.zoom`) already gives each
 * region zoom² times the pixels, so a region's extra weight `w − 1` is divided by `zoom` there: it
 * adds `zoom` times what it adds in the full figure, not zoom² times. Weighted in full, the bows of
 * face close-ups, at the top of the frame, made the demo's generator paint speckled bow colours
 * there in full figures, where it is background; divided by zoom² instead, bows learned too late
 * (docs/results.md, ninth round).
 */
export function regionPixelWeights(samples: readonly SynthSample[], weights: RegionWeights): tf.Tensor4D {
  checkRegionWeights(weights);
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
  });
  return tf.tensor4d(out, [samples.length, size, size, 1]);
}
