export {
  TagVocabulary,
  UnknownTagError,
  defaultVocabulary,
  editDistance,
  normaliseTagName,
  MAX_TAG_INPUT_LENGTH,
  MAX_TAGS_PER_INPUT,
  PERSON_TAGS,
  resolveColorTags,
} from './tags.js';
export type { MultiHot, Tag, TagEntry, TagKind, TagVocabularyJson } from './tags.js';
export {
  EYE_COLOUR_TAGS,
  HAIR_COLOUR_TAGS,
  REFERENCE_TAG_FILTER,
  filterByTags,
  tagFilterFailure,
  validateTagFilterRule,
} from './filter.js';
export type { TagFilterReport, TagFilterRule } from './filter.js';
export { checkRaster, rasterToTensor, rgbToGrey, tensorToRaster, toFloatRaster, toUint8Raster } from './raster.js';
export type { Raster, Raster8, RasterF } from './raster.js';
export {
  XDOG_DEFAULTS,
  adjustIntensity,
  blendSketchXdog,
  gaussianBlurGrey,
  gaussianKernel,
  gaussianKernelSize,
  xdog,
  xdogThreshold,
} from './xdog.js';
export type { SketchBlendOptions, XDoGParams } from './xdog.js';
export * from './synth/index.js';
export { Rng } from './random.js';
export {
  applyGeometricTransform,
  applyLineArtJitter,
  augmentPair,
  identityTransform,
  resizeRaster,
  rotationCropFraction,
  sampleGeometricTransform,
  sampleLineArtJitter,
  transformSourcePoint,
} from './augment.js';
export type {
  AugmentedPair,
  GeometricAugmentOptions,
  GeometricTransform,
  LineArtJitter,
  LineArtJitterOptions,
  PairAugmentOptions,
  ResampleFilter,
} from './augment.js';
export {
  applyTagFilter,
  collateBatch,
  describeEmptyDataset,
  epochOrder,
  parseCsv,
  parseManifest,
  parseTagLines,
  resolveManifestTags,
  sampleRng,
  tagsFromIds,
  validateCursor,
} from './dataset.js';
export type {
  Batch,
  DataCursor,
  Dataset,
  DatasetReport,
  ManifestRow,
  PreparedSample,
  SampleRecord,
  TagLine,
} from './dataset.js';
export { DataLoader, SampleSizeError } from './loader.js';
export type { DataLoaderOptions, DataWarning, PairReader, SkipCounts, SkipReason } from './loader.js';
