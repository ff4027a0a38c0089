// The training loop around Tag2PixTrainer: epochs, resume from a data cursor, the NaN/Inf guard,
// checkpoints at epoch ends and every N steps. Browser-safe: what happens to the steps and the
// checkpoints is up to the sinks (tag2pix/node's runTrainingInFolder writes a run folder).
import type { Tag2PixLossWeights, ScheduledValues } from '../losses/changing_loss_scheduler.js';
import { disposeBatch, type TrainingDataSource } from './batch.js';
import { captureCheckpoint, releaseCheckpoint, type TrainingCheckpoint } from './checkpoint.js';
import { NonFiniteLossError, type Tag2PixStepResult, type Tag2PixTrainer } from './trainer.js';

/** One step of a run, as numbers (a line of tag2pix/node's `log.jsonl`). */
export interface StepLogRecord {
  epoch: number;
  step: number;
  globalStep: number;
  stage: string;
  weights: Record<string, number | boolean>;
  discriminator: Record<string, number>;
  generator: Record<string, number>;
  /** Seconds the step took. */
  seconds: number;
  /** Images per second of the step. */
  imagesPerSecond: number;
}

/** Why a checkpoint is saved: an epoch ended, `checkpointEvery` steps passed, or the run was aborted. */
export type CheckpointReason = 'epoch' | 'step' | 'abort';

/** What {@link RunTrainingOptions.onEpochEnd} is told. */
export interface EpochEnd {
  /** The epoch that ended (0-based); the trainer's scheduler is now at the next one. */
  epoch: number;
  /** This session's steps of that epoch. */
  steps: StepLogRecord[];
  trainer: Tag2PixTrainer;
}

/** Options of {@link runTraining}. */
export interface RunTrainingOptions {
  trainer: Tag2PixTrainer;
  data: TrainingDataSource;
  /** Train until this many epochs are complete. */
  epochs: number;
  /** Seed of the data order and augmentation (stored in checkpoints). */
  seed: number;
  /** The run's configuration, stored in checkpoints. */
  config: Record<string, unknown>;
  /** Also checkpoint every this many steps (0 = only at the end of each epoch; default 0). */
  checkpointEvery?: number;
  /**
   * Where the data source resumes when the trainer's scheduler is in the middle of an epoch:
   * the checkpoint's `dataCursor` (`state.dataCursor`).
   */
  resumeCursor?: unknown;
  /** Stop cleanly after this epoch (0-based) is complete and checkpointed. */
  stopAfterEpoch?: number;
  /** Stop cleanly (checkpoint first) when aborted, e.g. on Ctrl-C. */
  signal?: AbortSignal;
  /** Sink: an epoch starts (at `startStep` > 0 when resuming in its middle). */
  onEpochStart?(epoch: { epoch: number; startStep: number; weights: ScheduledValues<Tag2PixLossWeights> }): void | Promise<void>;
  /** Sink: a step is done. */
  onStep?(record: StepLogRecord, result: Tag2PixStepResult): void | Promise<void>;
  /**
   * Sink: an epoch is done and checkpointed. Return `'stop'` to end the run here (e.g. a time
   * budget); change the optimizers' learning rates here for the next epoch.
   */
  onEpochEnd?(end: EpochEnd): void | 'stop' | Promise<void | 'stop'>;
  /**
   * Sink: a checkpoint to keep. Its tensors are borrowed (the models' own variables and copies
   * of the optimizer states, freed when the returned promise settles): serialise them in the call.
   */
  saveCheckpoint?(checkpoint: TrainingCheckpoint, reason: CheckpointReason): void | Promise<void>;
}

/** What {@link runTraining} did. */
export interface RunTrainingResult {
  /** Epochs completed in total (this session and earlier ones). */
  epochsCompleted: number;
  globalStep: number;
  /**
   * Why it returned: all epochs done, `stopAfterEpoch`, `onEpochEnd` asked to stop, or the
   * signal aborted.
   */
  reason: 'finished' | 'stopAfterEpoch' | 'stopped' | 'aborted';
  /** Every step of this session. */
  steps: StepLogRecord[];
}

/**
 * Trains from the trainer's current position (its scheduler's epoch and step: 0 for a new
 * run, the checkpoint's for a resumed one) until `epochs` are complete, handing each step, epoch
 * end and checkpoint to the sinks. Checkpoints at each epoch end and every `checkpointEvery`
 * steps. A NaN or infinite loss stops the run with a {@link NonFiniteLossError} whose message
 * says where; no checkpoint is taken after it.
 */
export async function runTraining(o: RunTrainingOptions): Promise<RunTrainingResult> {
  const { trainer, data } = o;
  const checkpointEvery = o.checkpointEvery ?? 0;
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new Error(`runTraining: epochs must be an integer >= 1, got ${o.epochs}.`);
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0) {
    throw new Error(`runTraining: checkpointEvery must be an integer >= 0, got ${checkpointEvery}.`);
  }
  const scheduler = trainer.scheduler;
  if (scheduler.step > 0 && (o.resumeCursor === undefined || o.resumeCursor === null)) {
    throw new Error(
      `runTraining: the trainer is at step ${scheduler.step} of epoch ${scheduler.epoch + 1}; pass ` +
        `resumeCursor (the checkpoint's state.dataCursor) so that the data continues there.`,
    );
  }
  const steps: StepLogRecord[] = [];
  // The data position: the cursor after the last batch taken, or null at an epoch boundary.
  let dataCursor: unknown = scheduler.step > 0 ? o.resumeCursor : null;
  const checkpoint = async (reason: CheckpointReason) => {
    if (!o.saveCheckpoint) return;
    const captured = captureCheckpoint(trainer, { seed: o.seed, dataCursor, config: o.config });
    try {
      await o.saveCheckpoint(captured, reason);
    } finally {
      releaseCheckpoint(captured);
    }
  };
  const done = (reason: RunTrainingResult['reason']): RunTrainingResult => ({
    epochsCompleted: scheduler.epoch,
    globalStep: scheduler.globalStep,
    reason,
    steps,
  });

  try {
    while (scheduler.epoch < o.epochs) {
      const epoch = scheduler.epoch;
      const startStep = scheduler.step;
      const weights = scheduler.current();
      await o.onEpochStart?.({ epoch, startStep, weights });
      data.brightnessStage = weights.brightnessStage;
      const from = startStep > 0 ? dataCursor : undefined;
      const epochSteps: StepLogRecord[] = [];
      for await (const batch of data.epoch(epoch, from === undefined || from === null ? {} : { from })) {
        const t0 = performance.now();
        let result: Tag2PixStepResult;
        try {
          result = await trainer.trainStep(batch);
        } finally {
          disposeBatch(batch);
        }
        dataCursor = batch.cursor;
        const seconds = (performance.now() - t0) / 1000;
        const record = stepRecord(result, scheduler.globalStep - 1, seconds, batch.lineArt.shape[0]);
        steps.push(record);
        epochSteps.push(record);
        await o.onStep?.(record, result);
        if (o.signal?.aborted) {
          await checkpoint('abort');
          return done('aborted');
        }
        if (checkpointEvery > 0 && scheduler.globalStep % checkpointEvery === 0) await checkpoint('step');
      }
      if (scheduler.step === 0) {
        throw new Error(`The data source gave no batch in epoch ${epoch + 1}; check the dataset.`);
      }
      trainer.endEpoch();
      dataCursor = null;
      await checkpoint('epoch');
      const asked = await o.onEpochEnd?.({ epoch, steps: epochSteps, trainer });
      if (scheduler.epoch < o.epochs) {
        if (asked === 'stop') return done('stopped');
        if (o.stopAfterEpoch !== undefined && epoch >= o.stopAfterEpoch) return done('stopAfterEpoch');
      }
    }
  } catch (e) {
    if (e instanceof NonFiniteLossError) e.message = `epoch ${scheduler.epoch + 1} step ${scheduler.step + 1}: ${e.message}`;
    throw e;
  }
  return done('finished');
}

/** A step's result as a {@link StepLogRecord}. */
function stepRecord(r: Tag2PixStepResult, globalStep: number, seconds: number, batchSize: number): StepLogRecord {
  const { stage, ...weights } = r.weights;
  return {
    epoch: r.epoch,
    step: r.step,
    globalStep,
    stage,
    weights,
    discriminator: r.discriminator,
    generator: r.generator,
    seconds: Number(seconds.toFixed(4)),
    imagesPerSecond: Number((batchSize / Math.max(seconds, 1e-9)).toFixed(3)),
  };
}
