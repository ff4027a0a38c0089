export { TorchAdam } from './adam.js';
export type { NamedParameter, TorchAdamOptions, TorchAdamState } from './adam.js';
export {
  NonFiniteLossError,
  Tag2PixTrainer,
  disposeInspection,
  namedTrainableWeights,
  namedWeights,
} from './trainer.js';
export type {
  Tag2PixBatch,
  Tag2PixStepInspection,
  Tag2PixStepLosses,
  Tag2PixStepResult,
  Tag2PixTrainerOptions,
} from './trainer.js';
export { sampleGrid } from './sample_grid.js';
