import { Painter, type SynthRegion } from './painter.js';
import { FAMILY_TAGS, SKIN, tagColor, type RGB, type TagFamily } from './palette.js';
import { Rng } from '../random.js';
import { arc, ellipse, smoothCurve, translate, type Path, type Point } from './raster.js';

/** Hair shapes the generator draws; each maps to CITs of the vocabulary. */
export type HairStyle = 'short_hair' | 'bob_cut' | 'long_hair' | 'very_long_hair' | 'twintails' | 'ponytail' | 'side_ponytail';
export const HAIR_STYLES: readonly HairStyle[] = [
  'short_hair', 'bob_cut', 'long_hair', 'very_long_hair', 'twintails', 'ponytail', 'side_ponytail',
];
/** Clothes: a shirt with a skirt, or a dress. */
export type Outfit = 'shirt_skirt' | 'dress';
export type MouthShape = 'smile' | 'open_mouth' | 'closed_mouth';

/**
 * Everything that decides one character. Shape fields decide the line art; `colours` only the
 * colours, so the same line art can be rendered with other colour tags (as in Figure 8).
 */
export interface CharacterSpec {
  hairStyle: HairStyle;
  outfit: Outfit;
  hat: boolean;
  bow: boolean;
  mouth: MouthShape;
  blush: boolean;
  /** Colour tag per family drawn, e.g. `{ hair: 'blue_hair', eyes: 'red_eyes', … }`. */
  colors: Partial<Record<TagFamily, string>>;
  /** Placement and small random variations, all in units of the image size. */
  shape: {
    /** Horizontal centre of the character (0.5 = centred). */
    centreX: number;
    /** Vertical offset of the whole figure. */
    offsetY: number;
    /** Figure scale (1 = the head is a third of the image wide). */
    scale: number;
    /** Number of bang strands. */
    bangs: number;
    /** Length of the bangs' tips below their roots. */
    bangsDepth: number;
    /** Line width in pixels at 128 px. */
    lineWidth: number;
    /** Seed of the small jitters (strand tips, line width variation). */
    jitterSeed: number;
    /**
     * How many times larger than its full figure the character is drawn: set by the close-ups
     * (`faceCloseUp`, `regionCloseUp`); absent for a full figure. `scale` already includes it.
     */
    zoom?: number;
    /**
     * Drawn mirrored left to right (pixels, line art and masks flipped), as the published
     * training flips half its images (the demo's `flipProbability`). Absent: as sampled.
     */
    mirrored?: boolean;
  };
}

/** Options of {@link sampleCharacterSpec}. */
export interface SampleSpecOptions {
  /** Restrict the colour tags a family may take (default: every tag of {@link FAMILY_TAGS}). */
  colorChoices?: Partial<Record<TagFamily, readonly string[]>>;
  /** Probability of a dress instead of shirt and skirt (default 0.3). */
  dressProbability?: number;
  /** Probability of a hat (default 0.25) and of a hair bow (default 0.3). */
  hatProbability?: number;
  bowProbability?: number;
  /** Rejects specs (e.g. tag combinations held out of training); sampling retries up to 1000 times. */
  reject?: (spec: CharacterSpec) => boolean;
}

/** Draws a random character description from a seeded generator. */
export function sampleCharacterSpec(rng: Rng, options: SampleSpecOptions = {}): CharacterSpec {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const spec = sampleOnce(rng, options);
    if (!options.reject || !options.reject(spec)) return spec;
  }
  throw new Error('sampleCharacterSpec: `reject` refused 1000 samples in a row; it rejects (almost) everything.');
}

function sampleOnce(rng: Rng, options: SampleSpecOptions): CharacterSpec {
  const choose = (family: TagFamily): string => {
    const choices = options.colorChoices?.[family] ?? FAMILY_TAGS[family];
    if (choices.length === 0) throw new Error(`sampleCharacterSpec: colourChoices.${family} is empty`);
    for (const tag of choices) {
      if (!FAMILY_TAGS[family].includes(tag)) {
        throw new Error(
          `sampleCharacterSpec: '${tag}' is not a ${family} colour tag; use one of ${FAMILY_TAGS[family].join(', ')}`,
        );
      }
    }
    return rng.pick(choices);
  };
  const outfit: Outfit = rng.chance(options.dressProbability ?? 0.3) ? 'dress' : 'shirt_skirt';
  const hat = rng.chance(options.hatProbability ?? 0.25);
  const bow = rng.chance(options.bowProbability ?? 0.3);
  const colors: Partial<Record<TagFamily, string>> = {
    hair: choose('hair'),
    eyes: choose('eyes'),
    background: choose('background'),
  };
  if (outfit === 'dress') colors.dress = choose('dress');
  else {
    colors.shirt = choose('shirt');
    colors.skirt = choose('skirt');
  }
  if (hat) colors.hat = choose('hat');
  if (bow) colors.bow = choose('bow');
  return {
    hairStyle: rng.pick(HAIR_STYLES),
    outfit,
    hat,
    bow,
    mouth: rng.pick(['smile', 'open_mouth', 'closed_mouth'] as const),
    blush: rng.chance(0.3),
    colors,
    shape: {
      centreX: rng.uniform(0.45, 0.55),
      offsetY: rng.uniform(-0.04, 0.05),
      scale: rng.uniform(0.8, 0.92),
      bangs: 4 + rng.int(0, 3),
      bangsDepth: rng.uniform(0.05, 0.09),
      lineWidth: rng.uniform(0.9, 1.5),
      jitterSeed: rng.int(0, 2 ** 31 - 1),
    },
  };
}

const HAIR_STYLE_TAGS: Readonly<Record<HairStyle, readonly string[]>> = {
  short_hair: ['short_hair'],
  bob_cut: ['short_hair', 'bob_cut'],
  long_hair: ['long_hair'],
  very_long_hair: ['long_hair', 'very_long_hair'],
  twintails: ['long_hair', 'twintails'],
  ponytail: ['long_hair', 'ponytail'],
  side_ponytail: ['side_ponytail'],
};

/** The colour-invariant tags (CIT names) that describe a spec. */
export function specCitTags(spec: CharacterSpec): string[] {
  const tags = [...HAIR_STYLE_TAGS[spec.hairStyle], 'bangs', 'looking_at_viewer', 'short_sleeves'];
  tags.push(...(spec.outfit === 'dress' ? ['dress'] : ['shirt', 'skirt']));
  if (spec.hat) tags.push('hat');
  if (spec.mouth === 'open_mouth') tags.push('open_mouth', 'smile');
  else tags.push(spec.mouth);
  return tags;
}

/** The colour-variant tags (CVT names) of a spec: one per drawn family, plus `blush`. */
export function specCvtTags(spec: CharacterSpec): string[] {
  const tags = Object.values(spec.colors).filter((t): t is string => typeof t === 'string');
  if (spec.blush) tags.push('blush');
  return tags;
}

/** The images of one drawn character. */
export interface RenderedCharacter {
  size: number;
  /** RGB bytes, row-major, `size*size*3`, lines inked in. */
  color: Uint8Array;
  /** Line art, grey in [0, 1], white = 1, `size*size`. */
  lineArt: Float32Array;
  /** Visible coverage of each region; at each pixel the masks sum to 1. */
  masks: Record<SynthRegion, Float32Array>;
}

const mix = (a: RGB, b: RGB, t: number): RGB => [
  a[0] + (b[0] - a[0]) * t,
  a[1] + (b[1] - a[1]) * t,
  a[2] + (b[2] - a[2]) * t,
];
const scaleRgb = (a: RGB, f: number): RGB => [a[0] * f, a[1] * f, a[2] * f];
const WHITE: RGB = [1, 1, 1];

/** Draws a character at `size`×`size` pixels. */
export function renderCharacter(spec: CharacterSpec, size: number): RenderedCharacter {
  if (!Number.isInteger(size) || size < 16) {
    throw new Error(`renderCharacter: size must be an integer of at least 16 pixels, got ${size}`);
  }
  for (const family of Object.keys(spec.colors) as TagFamily[]) {
    const tag = spec.colors[family]!;
    if (!FAMILY_TAGS[family]?.includes(tag)) {
      throw new Error(`renderCharacter: colours.${family} = '${tag}' is not one of ${FAMILY_TAGS[family]?.join(', ')}`);
    }
  }
  const jitter = new Rng(spec.shape.jitterSeed);
  const { centreX, offsetY, scale } = spec.shape;
  const S = size;
  // Model space: head centred at (0.5, 0.36), about 0.32 wide; mapped to pixels here.
  const P = (x: number, y: number): Point => [S * (centreX + (x - 0.5) * scale), S * (offsetY + 0.08 + y * scale)];
  const pts = (list: ReadonlyArray<readonly [number, number]>): Point[] => list.map(([x, y]) => P(x, y));
  const mirrorModel = (list: ReadonlyArray<readonly [number, number]>): Array<[number, number]> =>
    list.map(([x, y]) => [1 - x, y]);
  const lw = (spec.shape.lineWidth * S) / 128;
  const widths = (n: number, base: number, amount = 0.35): number[] => {
    const phase = jitter.uniform(0, Math.PI * 2);
    const k = 2 + jitter.int(0, 2);
    return Array.from({ length: n }, (_, i) => base * (1 + amount * Math.sin(phase + (2 * Math.PI * k * i) / n)));
  };
  const tapered = (n: number, base: number): number[] =>
    Array.from({ length: n }, (_, i) => base * (0.35 + 0.65 * Math.sin((Math.PI * i) / Math.max(1, n - 1))));
  const outline = (path: Path, base = lw): number[] => widths(path.length, base);
  const lightOffset: [number, number] = [-0.035 * S * scale, -0.03 * S * scale];

  const painter = new Painter(S);
  const colorOf = (family: TagFamily): RGB => tagColor(spec.colors[family]!);

  // Background
  painter.background(colorOf('background'), 0.12);

  // Back hair
  const hair = colorOf('hair');
  const hairLine = (path: Path): void => painter.line(path, tapered(path.length, lw * 0.7), false);
  const hairShade = { offset: lightOffset, shadow: 0.84, gradient: -0.04 };
  const backHair: Point[][] = [];
  const style = spec.hairStyle;
  const long = style === 'long_hair' || style === 'very_long_hair' || style === 'twintails' || style === 'ponytail';
  const fullLength = style === 'very_long_hair' ? 1.1 : 0.86;
  if (style === 'long_hair' || style === 'very_long_hair') {
    const right: Array<[number, number]> = [
      [0.5, 0.12], [0.69, 0.21], [0.74, 0.4], [0.765, 0.62], [0.79, fullLength],
    ];
    const tips: Array<[number, number]> = [];
    const n = 5;
    for (let i = 1; i < n; i++) {
      const x = 0.79 - (0.58 * i) / n;
      tips.push([x + 0.05 / n, fullLength - 0.05 + jitter.uniform(-0.01, 0.01)], [x, fullLength + jitter.uniform(-0.02, 0.02)]);
    }
    const left = mirrorModel(right).reverse();
    backHair.push(pts([...right, ...tips, ...left.slice(0, -1)]));
  } else {
    const bottom = style === 'bob_cut' ? 0.56 : 0.52;
    const wide = style === 'bob_cut' ? 0.735 : 0.7;
    backHair.push(
      smoothCurve(
        pts([[0.5, 0.12], [0.69, 0.2], [wide, 0.36], [wide - 0.01, bottom], [0.5, bottom + 0.02], [1 - wide + 0.01, bottom], [1 - wide, 0.36], [0.31, 0.2]]),
        true,
        6,
      ),
    );
  }
  const tails: Point[][] = [];
  if (style === 'twintails') {
    const tail: Array<[number, number]> = [
      [0.66, 0.22], [0.79, 0.3], [0.85, 0.5], [0.82, 0.72], [0.76, 0.9], [0.74, 0.7], [0.73, 0.46], [0.67, 0.33],
    ];
    tails.push(smoothCurve(pts(tail), true, 6), smoothCurve(pts(mirrorModel(tail)), true, 6));
  } else if (style === 'ponytail') {
    tails.push(
      smoothCurve(pts([[0.6, 0.13], [0.74, 0.12], [0.83, 0.3], [0.83, 0.56], [0.76, 0.8], [0.74, 0.58], [0.72, 0.36], [0.66, 0.22]]), true, 6),
    );
  } else if (style === 'side_ponytail') {
    tails.push(
      smoothCurve(pts([[0.68, 0.26], [0.8, 0.3], [0.86, 0.48], [0.83, 0.68], [0.77, 0.82], [0.75, 0.64], [0.74, 0.44], [0.69, 0.36]]), true, 6),
    );
  }
  for (const tail of tails) {
    painter.fill([tail], 'hair', hair, { shade: hairShade, outline: outline(tail) });
    const top = tail[Math.floor(tail.length * 0.15)]!;
    const bottom = tail[Math.floor(tail.length * 0.55)]!;
    hairLine([top, [(top[0] + bottom[0]) / 2 + lw, (top[1] + bottom[1]) / 2], bottom]);
    const top2 = tail[Math.floor(tail.length * 0.1)]!;
    const bottom2 = tail[Math.floor(tail.length * 0.62)]!;
    const mid: Point = [(top[0] + bottom[0] + top2[0] + bottom2[0]) / 4, (top[1] + bottom[1] + top2[1] + bottom2[1]) / 4];
    hairLine([top2, [(top2[0] + mid[0]) / 2 - lw, (top2[1] + mid[1]) / 2], mid, bottom2]);
  }
  painter.fill(backHair, 'hair', hair, { shade: hairShade, outline: outline(backHair[0]!) });
  // Strand lines across the visible hair, as line art draws them: they mark hair as hair
  // where its outline alone looks like the background's.
  const strands = (inner: number, outer: ReadonlyArray<readonly [number, number]>, fractions: readonly number[]): void => {
    for (const side of [1, -1]) {
      for (const f of fractions) {
        const wobble = jitter.uniform(-0.008, 0.008);
        const path = outer.map(([y, dxOut]) => [0.5 + side * (inner + (f + wobble) * (dxOut - inner)), y] as [number, number]);
        hairLine(smoothCurve(pts(path), false, 6));
      }
    }
  };
  if (style === 'long_hair' || style === 'very_long_hair') {
    strands(0.17, [[0.3, 0.215], [0.45, 0.245], [0.62, 0.265], [fullLength - 0.07, 0.285]], [0.3, 0.55, 0.8]);
  } else if (long) {
    strands(0.17, [[0.38, 0.23], [0.55, 0.245], [0.72, 0.25]], [0.35, 0.7]);
  } else {
    const wide = style === 'bob_cut' ? 0.235 : 0.2;
    const bottom = style === 'bob_cut' ? 0.53 : 0.49;
    strands(0.165, [[0.26, wide - 0.01], [0.38, wide], [bottom, wide - 0.005]], [0.45, 0.8]);
  }

  // Body: skirt (or the dress's skirt), arms, torso, neck
  const lower: RGB = spec.outfit === 'dress' ? colorOf('dress') : colorOf('skirt');
  const lowerRegion: SynthRegion = spec.outfit === 'dress' ? 'dress' : 'skirt';
  const hem = spec.outfit === 'dress' ? 1.12 : 1.06;
  const skirtFlare = spec.outfit === 'dress' ? 0.29 : 0.26;
  const skirt = smoothCurve(
    pts([[0.36, 0.84], [0.5, 0.845], [0.64, 0.84], [0.5 + skirtFlare * 0.75, 0.95], [0.5 + skirtFlare, hem], [0.5, hem + 0.02], [0.5 - skirtFlare, hem], [0.5 - skirtFlare * 0.75, 0.95]]),
    true,
    6,
  );
  painter.fill([skirt], lowerRegion, lower, { shade: { offset: lightOffset, shadow: 0.8, gradient: -0.06 }, outline: outline(skirt) });
  for (let i = 1; i <= 4; i++) {
    const t = i / 5;
    const top = P(0.37 + 0.26 * t, 0.87);
    const bottom = P(0.5 - skirtFlare + 2 * skirtFlare * t, hem - 0.01);
    painter.line([top, bottom], tapered(2, lw * 0.8), false, 0.9);
  }
  const arm: Array<[number, number]> = [
    [0.285, 0.7], [0.335, 0.71], [0.33, 0.84], [0.315, 0.93], [0.32, 0.965], [0.292, 0.985], [0.268, 0.955], [0.272, 0.84],
  ];
  for (const a of [arm, mirrorModel(arm)]) {
    const poly = smoothCurve(pts(a), true, 5);
    painter.fill([poly], 'skin', SKIN, { shade: { offset: lightOffset, shadow: 0.88 }, outline: outline(poly) });
  }
  const upper: RGB = spec.outfit === 'dress' ? colorOf('dress') : colorOf('shirt');
  const upperRegion: SynthRegion = spec.outfit === 'dress' ? 'dress' : 'shirt';
  const torsoRight: Array<[number, number]> = [
    [0.555, 0.592], [0.67, 0.615], [0.715, 0.66], [0.73, 0.735], [0.665, 0.748], [0.648, 0.8], [0.642, 0.875],
  ];
  const torsoModel = [...torsoRight, ...mirrorModel(torsoRight).reverse()];
  const torso = smoothCurve(pts(torsoModel), true, 5);
  painter.fill([torso], upperRegion, upper, { shade: { offset: lightOffset, shadow: 0.8, gradient: -0.05 }, outline: outline(torso) });
  for (const side of [1, -1]) {
    const x = (v: number): number => 0.5 + side * (v - 0.5);
    painter.line(smoothCurve(pts([[x(0.662), 0.745], [x(0.67), 0.7], [x(0.66), 0.64]]), false, 5), tapered(6, lw * 0.8), false);
  }
  if (spec.outfit === 'shirt_skirt') painter.line(pts([[0.5, 0.66], [0.5, 0.86]]), tapered(2, lw * 0.7), false, 0.8);
  const neck = pts([[0.46, 0.46], [0.54, 0.46], [0.547, 0.6], [0.5, 0.655], [0.453, 0.6]]);
  const neckCov = painter.fill([neck], 'skin', SKIN, { outline: outline(neck) });

  // Head
  const faceModel: Array<[number, number]> = [
    [0.5, 0.175], [0.615, 0.2], [0.66, 0.3], [0.655, 0.4], [0.62, 0.48], [0.56, 0.535], [0.5, 0.555],
  ];
  const face = smoothCurve(pts([...faceModel, ...mirrorModel(faceModel).reverse().slice(1, -1)]), true, 6);
  painter.tint([translate(face, 0, 0.03 * S * scale)], scaleRgb(SKIN, 0.85), 1, neckCov);
  const faceCov = painter.fill([face], 'skin', SKIN, { outline: outline(face) });

  // Eyes
  const eyes = colorOf('eyes');
  for (const side of [-1, 1]) {
    const ex = 0.5 + side * 0.078;
    const ey = 0.41;
    const sclera = smoothCurve(pts([[ex - 0.05, ey + 0.004], [ex - 0.024, ey - 0.034], [ex + 0.026, ey - 0.034], [ex + 0.05, ey + 0.002], [ex + 0.024, ey + 0.042], [ex - 0.024, ey + 0.042]]), true, 5);
    painter.fill([sclera], 'detail', [0.99, 0.99, 1]);
    const iris = ellipse(...P(ex, ey + 0.006), 0.037 * S * scale, 0.042 * S * scale, 32);
    painter.fill([iris], 'eyes', eyes, { shade: { gradient: 0.3 }, outline: lw * 0.45 });
    painter.fill([ellipse(...P(ex, ey + 0.01), 0.012 * S * scale, 0.017 * S * scale, 16)], 'detail', scaleRgb(eyes, 0.3));
    painter.fill([ellipse(...P(ex - side * 0.012, ey - 0.012), 0.009 * S * scale, 0.009 * S * scale, 12)], 'detail', WHITE);
    const lash = arc(...P(ex, ey + 0.01), 0.056 * S * scale, 0.05 * S * scale, Math.PI * 1.06, Math.PI * 1.94, 14);
    painter.line(lash, tapered(lash.length, lw * 2.2), false);
    const lowerLid = arc(...P(ex, ey - 0.004), 0.04 * S * scale, 0.048 * S * scale, Math.PI * 0.3, Math.PI * 0.7, 8);
    painter.line(lowerLid, tapered(lowerLid.length, lw * 0.6), false, 0.8);
    const brow = arc(...P(ex, ey - 0.02), 0.045 * S * scale, 0.065 * S * scale, Math.PI * 1.2, Math.PI * 1.8, 8);
    painter.line(brow, tapered(brow.length, lw * 0.9), false);
  }
  if (spec.blush) {
    for (const side of [-1, 1]) {
      painter.tint([ellipse(...P(0.5 + side * 0.1, 0.47), 0.032 * S * scale, 0.014 * S * scale, 16)], [1, 0.55, 0.6], 0.45, faceCov);
    }
  }
  painter.line(pts([[0.506, 0.455], [0.5, 0.462]]), lw * 0.7, false, 0.7);
  if (spec.mouth === 'smile') {
    const m = arc(...P(0.5, 0.492), 0.022 * S * scale, 0.014 * S * scale, Math.PI * 0.15, Math.PI * 0.85, 8);
    painter.line(m, tapered(m.length, lw * 0.9), false);
  } else if (spec.mouth === 'open_mouth') {
    const m = smoothCurve(pts([[0.478, 0.495], [0.5, 0.5], [0.522, 0.495], [0.5, 0.523]]), true, 5);
    painter.fill([m], 'detail', [0.75, 0.3, 0.32], { outline: lw * 0.8 });
  } else {
    painter.line(pts([[0.486, 0.5], [0.514, 0.5]]), tapered(2, lw * 0.9), false);
  }

  // Front hair: cap, side locks and bangs
  const lock = style === 'short_hair' ? 0.5 : style === 'bob_cut' ? 0.55 : 0.58;
  const roots = 0.255;
  const frontRight: Array<[number, number]> = [[0.5, 0.115], [0.64, 0.155], [0.695, 0.28], [0.7, 0.42], [0.68, lock]];
  const front: Point[] = smoothCurve(pts([...mirrorModel(frontRight).reverse(), ...frontRight]), false, 6);
  front.push(...pts([[0.66, lock - 0.08], [0.65, 0.35]]));
  const n = spec.shape.bangs;
  const x0 = 0.655;
  const x1 = 0.345;
  for (let i = 0; i < n; i++) {
    const a = x0 + ((x1 - x0) * i) / n;
    const b = x0 + ((x1 - x0) * (i + 1)) / n;
    const tipX = (a + b) / 2 + jitter.uniform(-0.01, 0.01);
    const tipY = roots + spec.shape.bangsDepth * (i === 0 || i === n - 1 ? 0.8 : 1) + jitter.uniform(-0.015, 0.015);
    front.push(...pts([[a, roots + 0.01], [(a + tipX) / 2, (roots + tipY) / 2 + 0.01], [tipX, tipY], [(b + tipX) / 2, (roots + tipY) / 2 + 0.01]]));
  }
  front.push(...pts([[0.35, 0.35], [0.34, lock - 0.08]]));
  painter.tint([translate(front, 0.006 * S, 0.03 * S * scale)], scaleRgb(SKIN, 0.86), 1, faceCov);
  const frontCov = painter.fill([front], 'hair', hair, { shade: hairShade, outline: outline(front) });
  const shine = [
    ...arc(...P(0.5, 0.3), 0.15 * S * scale, 0.13 * S * scale, Math.PI * 1.15, Math.PI * 1.85, 12),
    ...arc(...P(0.5, 0.3), 0.13 * S * scale, 0.105 * S * scale, Math.PI * 1.85, Math.PI * 1.15, 12),
  ];
  painter.tint([shine], mix(hair, WHITE, 0.5), 0.55, frontCov);
  for (let i = 1; i < n; i++) {
    const x = x0 + ((x1 - x0) * i) / n;
    hairLine(smoothCurve(pts([[0.5 + (x - 0.5) * 0.5, 0.16], [0.5 + (x - 0.5) * 0.85, 0.21], [x, roots + 0.005]]), false, 5));
  }

  // Hat and bow
  if (spec.hat) {
    const hatColor = colorOf('hat');
    const crown = smoothCurve(pts([[0.36, 0.185], [0.37, 0.08], [0.5, 0.05], [0.63, 0.08], [0.64, 0.185]]), true, 6);
    painter.fill([crown], 'hat', hatColor, { shade: { offset: lightOffset, shadow: 0.8 }, outline: outline(crown) });
    const brim = ellipse(...P(0.5, 0.185), 0.25 * S * scale, 0.05 * S * scale, 48);
    painter.fill([brim], 'hat', hatColor, { shade: { offset: lightOffset, shadow: 0.8 }, outline: outline(brim) });
  }
  if (spec.bow) {
    const bowColor = colorOf('bow');
    const [bx, by] = spec.hat ? [0.6, 0.15] : [0.33, 0.19];
    const loop: Array<[number, number]> = [[bx, by], [bx + 0.06, by - 0.04], [bx + 0.075, by + 0.005], [bx + 0.055, by + 0.04]];
    for (const l of [loop, loop.map(([x, y]) => [2 * bx - x, y] as [number, number])]) {
      const poly = smoothCurve(pts(l), true, 5);
      painter.fill([poly], 'bow', bowColor, { shade: { offset: lightOffset, shadow: 0.8 }, outline: outline(poly, lw * 0.9) });
    }
    const knot = ellipse(...P(bx, by), 0.016 * S * scale, 0.02 * S * scale, 16);
    painter.fill([knot], 'bow', bowColor, { shade: { gradient: -0.2 }, outline: lw * 0.9 });
  }

  const drawn = { size: S, color: painter.colorBytes(), lineArt: painter.lineArt(), masks: painter.masks };
  return spec.shape.mirrored ? mirrored(drawn) : drawn;
}

/** The drawing flipped left to right, in place. */
function mirrored(drawn: RenderedCharacter): RenderedCharacter {
  const S = drawn.size;
  const flipRows = (data: Uint8Array | Float32Array, channels: number): void => {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S / 2; x++) {
        const a = (y * S + x) * channels;
        const b = (y * S + S - 1 - x) * channels;
        for (let c = 0; c < channels; c++) [data[a + c], data[b + c]] = [data[b + c]!, data[a + c]!];
      }
    }
  };
  flipRows(drawn.color, 3);
  flipRows(drawn.lineArt, 1);
  for (const mask of Object.values(drawn.masks)) flipRows(mask, 1);
  return drawn;
}
