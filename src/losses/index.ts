export {
  BCE_LOG_CLAMP,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  l1Loss,
} from './primitives.js';
export type { LossInput } from './primitives.js';
export {
  adversarialLoss,
  discriminatorLoss,
  generatorLoss,
  multiLabelClassificationLoss,
  reconstructionLoss,
} from './tag2pix_losses.js';
export type {
  ClassificationLossOptions,
  ClassificationLossTerms,
  ClassifierLossOptions,
  DiscriminatorLossOptions,
  DiscriminatorLossTerms,
  DiscriminatorHeads,
  GeneratorLossOptions,
  GeneratorLossTerms,
  ReconstructionLossOptions,
  ReconstructionLossTerms,
  TagTargets,
} from './tag2pix_losses.js';
export { ChangingLossScheduler } from './changing_loss_scheduler.js';
export type {
  ChangingLossSchedulerConfig,
  ChangingLossSchedulerJSON,
  LossStage,
  ScheduleValues,
  ScheduledValues,
  Tag2PixLossWeights,
  Tag2PixScheduleOptions,
} from './changing_loss_scheduler.js';
