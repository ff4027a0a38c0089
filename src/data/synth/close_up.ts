import type { CharacterSpec } from './character.js';

/** Where the eyes sit in model space (see `renderCharacter`): the face's horizontal centre and the eye line. */
const EYE_LINE = { x: 0.5, y: 0.41 };
/** Model space maps y to `S * (offsetY + FIGURE_TOP + y * scale)`. */
const FIGURE_TOP = 0.08;

/** The small regions a close-up can frame. */
export type CloseUpRegion = 'eyes' | 'bow';

function checkZoom(zoom: number): void {
  if (!(typeof zoom === 'number' && Number.isFinite(zoom) && zoom >= 1)) {
    throw new Error(`close-up: zoom must be a number >= 1, got ${String(zoom)}.`);
  }
}

/**
 * The same character framed as a close-up of its face: the figure drawn `zoom` times larger with
 * the eye line at `eyeLine` of the image height, line widths unchanged in pixels (as a higher
 * resolution drawing would have them). Tags and colours are the character's own. A training
 * view that gives the small regions of the face (eyes, bow) several times more pixels; the
 * held-out test characters stay full figures.
 */
export function faceCloseUp(spec: CharacterSpec, zoom: number, eyeLine = 0.45): CharacterSpec {
  checkZoom(zoom);
  if (!(eyeLine > 0 && eyeLine < 1)) throw new Error(`faceCloseUp: eyeLine must be in (0, 1), got ${String(eyeLine)}.`);
  const scale = spec.shape.scale * zoom;
  // Keep the character's own small horizontal offset, scaled with it.
  const centreX = EYE_LINE.x + (spec.shape.centreX - EYE_LINE.x) * zoom;
  const offsetY = eyeLine - FIGURE_TOP - EYE_LINE.y * scale;
  return zoomedSpec(spec, zoom, centreX, offsetY);
}

/** Where a small region sits in model space: the eyes' midpoint, or the bow's knot. */
function regionCentre(spec: CharacterSpec, region: CloseUpRegion): [number, number] | undefined {
  if (region === 'eyes') return [EYE_LINE.x, EYE_LINE.y];
  if (!spec.bow) return undefined;
  // renderCharacter moves the bow beside the crown when there is a hat.
  return spec.hat ? [0.6, 0.15] : [0.33, 0.19];
}

/**
 * A close-up of one small region: the figure drawn `zoom` times larger (line widths unchanged in
 * pixels, as {@link faceCloseUp}) with the region's centre (the eyes' midpoint or the bow's knot)
 * at `at`, in fractions of the image width and height. A character without a bow gets the eyes'
 * close-up. Training should vary `at`: with the region always in one place, the generator learns
 * its colour for that place (the CVT encoder's spatial map is position-specific) and not for the
 * region wherever it is.
 */
export function regionCloseUp(spec: CharacterSpec, zoom: number, region: CloseUpRegion, at: readonly [number, number] = [0.5, 0.5]): CharacterSpec {
  checkZoom(zoom);
  if (!(at.length === 2 && at.every((v) => v >= 0 && v <= 1))) {
    throw new Error(`regionCloseUp: at must be [x, y] within [0, 1], got ${JSON.stringify(at)}.`);
  }
  const [x, y] = regionCentre(spec, region) ?? regionCentre(spec, 'eyes')!;
  const scale = spec.shape.scale * zoom;
  return zoomedSpec(spec, zoom, at[0] - (x - 0.5) * scale, at[1] - FIGURE_TOP - y * scale);
}

/** `spec` drawn `zoom` times larger at the given placement, its total zoom recorded for the pixel weights. */
function zoomedSpec(spec: CharacterSpec, zoom: number, centreX: number, offsetY: number): CharacterSpec {
  const shape = { ...spec.shape, scale: spec.shape.scale * zoom, centreX, offsetY, zoom: (spec.shape.zoom ?? 1) * zoom };
  return { ...spec, shape };
}
