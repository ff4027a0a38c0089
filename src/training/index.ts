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
  Tag2PixStepInspection,
  Tag2PixStepObserver,
  Tag2PixStepLosses,
  Tag2PixStepResult,
  Tag2PixTrainerOptions,
} from './trainer.js';
export { sampleGrid } from './sample_grid.js';
export type { Tag2PixBatch, TrainingBatch, TrainingDataSource } from './batch.js';
export { runTraining } from './run.js';
export type { CheckpointReason, EpochEnd, RunTrainingOptions, RunTrainingResult, StepLogRecord } from './run.js';
export { CHECKPOINT_FORMAT, captureCheckpoint, releaseCheckpoint, restoreTrainer } from './checkpoint.js';
export type { TrainingCheckpoint, TrainingCheckpointState } from './checkpoint.js';
export { lossCurvePanels, lossCurveSvg, runLossCurveSvg } from './loss_curve.js';
export type { CurvePanel, CurvePoint } from './loss_curve.js';
