// Training checkpoints in memory: everything a run needs to continue bit for bit (G, D with
// their BatchNorm statistics, both optimizer states, the scheduler and position, the seed, the
// data cursor, the run configuration), captured from a trainer and restored into one.
// Browser-safe; tag2pix/node writes and reads them as safetensors files.
import * as tf from '@tensorflow/tfjs-core';
import { WeightsError } from '../errors.js';
import type { ChangingLossSchedulerJSON, Tag2PixLossWeights } from '../losses/changing_loss_scheduler.js';
import type { TorchAdam, TorchAdamState } from './adam.js';
import { namedWeights, type Tag2PixTrainer } from './trainer.js';

/** Format marker in the metadata (`tag2pix_checkpoint`). */
export const CHECKPOINT_FORMAT = 'tag2pix-training-checkpoint/1';

/** Everything but the tensors: where training is and how it was set up. */
export interface TrainingCheckpointState {
  /** Epoch (0-based) in which the next step runs. */
  epoch: number;
  /** Next step within that epoch. */
  step: number;
  /** Steps taken since the start of training. */
  globalStep: number;
  /** The loss scheduler, position included. */
  scheduler: ChangingLossSchedulerJSON<Tag2PixLossWeights>;
  /** Optimizer options and per-parameter step counts (moments are tensors in the file). */
  optimizers: {
    generator: Omit<TorchAdamState, 'tensors'>;
    discriminator: Omit<TorchAdamState, 'tensors'>;
  };
  /** Seed of the data order and augmentation. */
  seed: number;
  /** Where the data source is (its own JSON). */
  dataCursor: unknown;
  /** The run's configuration (CLI options), for resuming and for the record. */
  config: Record<string, unknown>;
  /** ISO time of writing. */
  savedAt: string;
}

/** What a checkpoint file holds, read back. */
export interface TrainingCheckpoint {
  state: TrainingCheckpointState;
  /** Every tensor by name (the caller disposes them, or passes them to restoreTrainer). */
  tensors: Record<string, tf.Tensor>;
}

const OPT_G = 'optimizer.generator/';
const OPT_D = 'optimizer.discriminator/';

/** The tensors and state of a trainer, with the extra run information, as a checkpoint. */
export function captureCheckpoint(
  trainer: Tag2PixTrainer,
  extra: { seed: number; dataCursor: unknown; config: Record<string, unknown> },
): TrainingCheckpoint {
  const tensors: Record<string, tf.Tensor> = {};
  for (const p of [...namedWeights(trainer.generator, 'G'), ...namedWeights(trainer.discriminator, 'D')]) {
    tensors[p.key] = p.variable;
  }
  const g = trainer.generatorOptimizer.getState();
  const d = trainer.discriminatorOptimizer.getState();
  for (const [k, t] of Object.entries(g.tensors)) tensors[OPT_G + k] = t;
  for (const [k, t] of Object.entries(d.tensors)) tensors[OPT_D + k] = t;
  const scheduler = trainer.scheduler.toJSON();
  return {
    state: {
      epoch: scheduler.epoch,
      step: scheduler.step,
      globalStep: scheduler.globalStep,
      scheduler,
      optimizers: {
        generator: { options: g.options, steps: g.steps },
        discriminator: { options: d.options, steps: d.steps },
      },
      seed: extra.seed,
      dataCursor: extra.dataCursor ?? null,
      config: extra.config,
      savedAt: new Date().toISOString(),
    },
    tensors,
  };
}

/**
 * Frees what {@link captureCheckpoint} made: the optimizer states' copies (the weights are the
 * models' own variables and stay).
 */
export function releaseCheckpoint(checkpoint: TrainingCheckpoint): void {
  tf.dispose(Object.entries(checkpoint.tensors).filter(([k]) => k.startsWith('optimizer.')).map(([, t]) => t));
}

/**
 * Restores G, D and both optimizers of `trainer` from a checkpoint (the trainer must have been
 * built with `ChangingLossScheduler.fromJSON(checkpoint.state.scheduler)` and the same model
 * configuration). Checks every name and shape before writing anything. Disposes the
 * checkpoint's tensors.
 */
export function restoreTrainer(trainer: Tag2PixTrainer, checkpoint: TrainingCheckpoint): void {
  const { state, tensors } = checkpoint;
  try {
    const s = trainer.scheduler;
    if (s.epoch !== state.epoch || s.step !== state.step || s.globalStep !== state.globalStep) {
      throw new WeightsError(
        `restoreTrainer: the trainer's scheduler is at epoch ${s.epoch} step ${s.step}, the checkpoint at ` +
          `epoch ${state.epoch} step ${state.step}; build the trainer with ChangingLossScheduler.fromJSON(state.scheduler).`,
      );
    }
    const weights = [...namedWeights(trainer.generator, 'G'), ...namedWeights(trainer.discriminator, 'D')];
    const problems: string[] = [];
    for (const p of weights) {
      const t = tensors[p.key];
      if (t === undefined) problems.push(`${p.key} is missing`);
      else if (t.shape.join(',') !== p.variable.shape.join(',')) {
        problems.push(`${p.key} is [${t.shape.join(', ')}] in the checkpoint, [${p.variable.shape.join(', ')}] in the model`);
      }
    }
    const known = new Set(weights.map((p) => p.key));
    for (const k of Object.keys(tensors)) {
      if (!k.startsWith('optimizer.') && !known.has(k)) problems.push(`${k} is not a weight of the models`);
    }
    if (problems.length > 0) {
      throw new WeightsError(
        `The checkpoint does not fit the models (was it written with other --size/--layers options?):\n  ` +
          problems.slice(0, 20).join('\n  ') +
          (problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''),
      );
    }
    const optimizerState = (prefix: string, saved: Omit<TorchAdamState, 'tensors'>): TorchAdamState => ({
      ...saved,
      tensors: Object.fromEntries(
        Object.entries(tensors)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, t]) => [k.slice(prefix.length), t]),
      ),
    });
    const restoreOptimizer = (opt: TorchAdam, prefix: string, saved: Omit<TorchAdamState, 'tensors'>, net: 'generator' | 'discriminator') =>
      opt.setState(optimizerState(prefix, saved), trainer.parameters[net]);
    restoreOptimizer(trainer.generatorOptimizer, OPT_G, state.optimizers.generator, 'generator');
    restoreOptimizer(trainer.discriminatorOptimizer, OPT_D, state.optimizers.discriminator, 'discriminator');
    for (const p of weights) p.variable.assign(tensors[p.key]);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
