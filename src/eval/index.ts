// tag2pix/eval: measuring colourisations (browser-safe): tag accuracy on synthetic characters,
// FID, CIELAB colour differences.
export { srgbToLab, deltaE } from './color.js';
export type { Lab } from './color.js';
export { scoreColorings, tagAccuracy, formatTagAccuracy } from './tag_accuracy.js';
export type {
  ColorizableSample,
  ColorizeFn,
  ColorizeInput,
  FamilyAccuracy,
  JudgeableSample,
  ModelTagAccuracyOptions,
  RegionJudgement,
  TagAccuracyOptions,
  TagAccuracyReport,
} from './tag_accuracy.js';
export {
  FeatureStatisticsAccumulator,
  featureStatistics,
  frechetDistance,
  frechetInceptionDistance,
} from './fid.js';
export type { FeatureStatistics } from './fid.js';
