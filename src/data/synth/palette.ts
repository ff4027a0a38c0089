/**
 * The colours of the synthetic characters, named after the colour words of the Tag2Pix CVT
 * vocabulary, and the tag families (hair, eyes, shirt, …) whose region a CVT colours.
 */

/** An sRGB colour with channels in [0, 1]. */
export type RGB = readonly [number, number, number];

const rgb = (r: number, g: number, b: number): RGB => [r / 255, g / 255, b / 255];

/**
 * sRGB of every colour word used by the CVTs the generator draws. Chosen to be typical of the
 * word and far apart in CIELAB, so a colouring can be judged by its nearest named colour.
 */
export const COLOR_WORDS: Readonly<Record<string, RGB>> = {
  black: rgb(32, 30, 38),
  white: rgb(246, 246, 246),
  grey: rgb(125, 125, 130),
  silver: rgb(168, 178, 208),
  brown: rgb(112, 64, 36),
  light_brown: rgb(190, 135, 80),
  blonde: rgb(248, 222, 120),
  beige: rgb(230, 212, 175),
  blue: rgb(45, 85, 215),
  aqua: rgb(60, 205, 215),
  red: rgb(210, 35, 45),
  orange: rgb(245, 135, 35),
  yellow: rgb(250, 230, 50),
  green: rgb(55, 165, 65),
  purple: rgb(125, 50, 170),
  lavender: rgb(190, 165, 235),
  pink: rgb(250, 145, 195),
};

/** A body region whose colour a family of CVTs sets. */
export type TagFamily = 'hair' | 'eyes' | 'shirt' | 'skirt' | 'dress' | 'hat' | 'bow' | 'background';

/** Every family, in report order. */
export const TAG_FAMILIES: readonly TagFamily[] = ['hair', 'eyes', 'shirt', 'skirt', 'dress', 'hat', 'bow', 'background'];

/**
 * The CVTs of each family that the generator draws (all exist in the Tag2Pix vocabulary; the
 * vocabulary's other colour tags of a family, such as `gradient_background`, are not flat colours).
 */
export const FAMILY_TAGS: Readonly<Record<TagFamily, readonly string[]>> = {
  hair: [
    'blonde_hair', 'brown_hair', 'black_hair', 'blue_hair', 'purple_hair', 'pink_hair', 'silver_hair', 'green_hair',
    'red_hair', 'white_hair', 'orange_hair', 'grey_hair', 'aqua_hair', 'lavender_hair', 'light_brown_hair',
  ],
  eyes: [
    'blue_eyes', 'red_eyes', 'brown_eyes', 'green_eyes', 'purple_eyes', 'yellow_eyes', 'pink_eyes', 'black_eyes',
    'aqua_eyes', 'orange_eyes', 'grey_eyes', 'silver_eyes',
  ],
  shirt: ['white_shirt', 'black_shirt', 'red_shirt', 'blue_shirt', 'pink_shirt'],
  skirt: [
    'black_skirt', 'blue_skirt', 'red_skirt', 'green_skirt', 'white_skirt', 'pink_skirt', 'brown_skirt', 'grey_skirt',
    'orange_skirt',
  ],
  dress: ['white_dress', 'black_dress', 'blue_dress', 'red_dress', 'pink_dress', 'purple_dress', 'green_dress'],
  hat: ['black_hat', 'white_hat'],
  bow: ['red_bow', 'blue_bow', 'white_bow', 'yellow_bow', 'pink_bow', 'black_bow', 'green_bow'],
  background: [
    'white_background', 'grey_background', 'blue_background', 'pink_background', 'yellow_background',
    'black_background', 'green_background', 'red_background', 'brown_background', 'purple_background',
    'orange_background', 'beige_background',
  ],
};

const SUFFIX: Readonly<Record<TagFamily, string>> = {
  hair: '_hair',
  eyes: '_eyes',
  shirt: '_shirt',
  skirt: '_skirt',
  dress: '_dress',
  hat: '_hat',
  bow: '_bow',
  background: '_background',
};

/** The family a colour tag belongs to, or undefined when it is none of {@link FAMILY_TAGS}. */
export function tagFamily(tag: string): TagFamily | undefined {
  for (const family of TAG_FAMILIES) if (FAMILY_TAGS[family].includes(tag)) return family;
  return undefined;
}

/** The sRGB colour a family CVT asks for (`blue_hair` → blue). Throws for tags of no family. */
export function tagColor(tag: string): RGB {
  const family = tagFamily(tag);
  if (!family) {
    throw new Error(
      `tagColour: '${tag}' is not a colour tag of a known family; use one of ${TAG_FAMILIES.map((f) => `*${SUFFIX[f]}`).join(', ')} ` +
        `(e.g. ${FAMILY_TAGS.hair[3]}).`,
    );
  }
  const word = tag.slice(0, tag.length - SUFFIX[family].length);
  const color = COLOR_WORDS[word];
  if (!color) throw new Error(`tagColour: no colour defined for '${word}' (tag '${tag}')`);
  return color;
}

/** Skin colour and its shadow (not tag-controlled). */
export const SKIN: RGB = rgb(252, 228, 210);
/** Colour of the drawn lines in the colour image. */
export const LINE_COLOR: RGB = rgb(48, 34, 36);
