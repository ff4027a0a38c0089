// tag2pix/synth: synthetic anime-style characters with line art, region masks and tags
// (browser-safe), for tests, demos and evaluation without downloaded data.
export { FAMILY_TAGS, TAG_FAMILIES, tagColor, tagFamily } from './palette.js';
export type { RGB, TagFamily } from './palette.js';
export { SYNTH_REGIONS } from './painter.js';
export type { SynthRegion } from './painter.js';
export { HAIR_STYLES, sampleCharacterSpec } from './character.js';
export type { CharacterSpec, HairStyle, MouthShape, Outfit, RenderedCharacter, SampleSpecOptions } from './character.js';
export { generateCharacter, renderSample, synthBatch, synthCharacters } from './dataset.js';
export type { SynthOptions, SynthSample } from './dataset.js';
export { regionPixelWeights } from './pixel_weights.js';
export type { RegionWeights } from './pixel_weights.js';
