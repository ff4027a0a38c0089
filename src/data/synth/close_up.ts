import type { CharacterSpec } from './character.js';

/** Where the eyes sit in model space (see `renderCharacter`): the face's horizontal centre and the eye line. */
const EYE_LINE = { x: 0.5, y: 0.41 };
/** Model space maps y to `S * (offsetY + FIGURE_TOP + y * scale)`. */
const FIGURE_TOP = 0.08;

/**
 * The same character framed as a close-up of its face: the figure drawn `zoom` times larger with
 * the eye line at `eyeLine` of the image height, line widths unchanged in pixels (as a higher
 * resolution drawing would have them). Tags and colours are the character's own. A training
 * view that gives the small regions of the face (eyes, bow) several times more pixels; the
 * held-out test characters stay full figures.
 */
export function faceCloseUp(spec: CharacterSpec, zoom: number, eyeLine = 0.45): CharacterSpec {
  if (!(typeof zoom === 'number' && Number.isFinite(zoom) && zoom >= 1)) {
    throw new Error(`faceCloseUp: zoom must be a number >= 1, got ${String(zoom)}.`);
  }
  if (!(eyeLine > 0 && eyeLine < 1)) throw new Error(`faceCloseUp: eyeLine must be in (0, 1), got ${String(eyeLine)}.`);
  const scale = spec.shape.scale * zoom;
  // Keep the character's own small horizontal offset, scaled with it.
  const centreX = EYE_LINE.x + (spec.shape.centreX - EYE_LINE.x) * zoom;
  const offsetY = eyeLine - FIGURE_TOP - EYE_LINE.y * scale;
  return { ...spec, shape: { ...spec.shape, scale, centreX, offsetY } };
}
