// tag2pix/data: the dataset pipeline (browser-safe): the reference and manifest layouts, tag
// filters, rasters, XDoG line art, the paired augmentation, the DataLoader, the seeded Rng.
// (Reading folders and image files: tag2pix/node.)
export {
  EYE_COLOR_TAGS,
  HAIR_COLOR_TAGS,
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
export { collateBatch, epochOrder, parseCsv, parseManifest, parseTagLines } from './dataset.js';
export type {
  DataCursor,
  DataLoaderBatch,
  Dataset,
  DatasetReport,
  ManifestRow,
  PreparedSample,
  SampleRecord,
  TagLine,
} from './dataset.js';
export { DataLoader, SampleSizeError } from './loader.js';
export type { DataLoaderOptions, DataWarning, PairReader, SkipCounts, SkipReason } from './loader.js';
