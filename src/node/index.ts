export { initBackend } from './backend.js';
export type { BackendName, BackendReport, InitBackendOptions } from './backend.js';
export {
  DEFAULT_MAX_PIXELS,
  ImageReadError,
  checkImage,
  encodePng,
  imageSize,
  readImage,
  readImageWithInfo,
  readImageTensor,
  resizeImage,
  writePng,
} from './image.js';
export type { ImageReadFailure, ImageSource, ReadImageOptions, ReadImageTensorOptions, ResizeKernel, WritePngOptions } from './image.js';
export { REFERENCE_LINEART_STYLES, createDataLoader, describeSkipped, nodePairReader, openDataset } from './dataset.js';
export type { CreateDataLoaderOptions, OpenDatasetOptions, PairCheckOptions } from './dataset.js';
export { writeSynthDataset } from './synth.js';
export type { SynthDatasetInfo, WriteSynthOptions, WriteSynthResult } from './synth.js';
export { IMAGE_EXTENSIONS, XDoGWorkerPool, extractLineArtFolder } from './lineart.js';
export type { ExtractLineArtOptions, ExtractLineArtResult } from './lineart.js';
export { colorize, colorizeToPng } from './colorize.js';
export type { ColorizeOptions } from './colorize.js';
export {
  HOW_TO_GET_WEIGHTS,
  inferGeneratorConfig,
  listWeightFiles,
  loadColorizer,
  readStateDicts,
  stateDictKind,
} from './weights.js';
export type { Colorizer, FoundStateDict, LoadColorizerOptions, NodeWeightSource, StateDictKind, StateDictShapes } from './weights.js';
export { readCheckpoint, saveCheckpoint, writeCheckpoint, writeFileAtomic } from './checkpoint.js';
export { checkOutputFile, realPathOf, removeStaleTemporaries, writeOutputFile } from './files.js';
export type { OutputFileOptions } from './files.js';
export { RUN_FILES, readStepLog, runTrainingInFolder } from './train.js';
export type { ProgressMode, ReadStepLogOptions, RunTrainingInFolderOptions, RunTrainingInFolderResult } from './train.js';
export { TRAIN_DEFAULTS, trainCommand } from './train_command.js';
export type { TrainCommandOptions, TrainRunConfig } from './train_command.js';
export { renderSvgToPng } from './svg.js';
