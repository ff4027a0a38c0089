// Training checkpoints: one safetensors file with G, D (every weight, BatchNorm statistics
// included), both optimizer states and, in its metadata, the scheduler, position, seed, data
// cursor and run configuration. Written atomically: a temporary file in the same folder,
// flushed, then renamed over the previous checkpoint, so a killed run always leaves a whole one.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.js';
import { FileFormatError, OptionError, Tag2PixError, WeightsError, quoteValue } from '../errors.js';
import { ChangingLossScheduler, type ChangingLossSchedulerJSON, type Tag2PixLossWeights } from '../losses/changing_loss_scheduler.js';
import type { TorchAdam, TorchAdamState } from '../training/adam.js';
import { namedWeights, type Tag2PixTrainer } from '../training/trainer.js';
import { writeFileAtomic } from './files.js';

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
 * Writes the trainer's checkpoint to `file` atomically (temporary file + rename). Returns the
 * state written.
 */
export async function saveCheckpoint(
  file: string,
  trainer: Tag2PixTrainer,
  extra: { seed: number; dataCursor: unknown; config: Record<string, unknown> },
): Promise<TrainingCheckpointState> {
  const checkpoint = captureCheckpoint(trainer, extra);
  let bytes: Uint8Array;
  try {
    bytes = writeSafetensors(checkpoint.tensors, {
      tag2pix_checkpoint: CHECKPOINT_FORMAT,
      state: JSON.stringify(checkpoint.state),
    });
  } finally {
    // The weights are the models' own variables; only the optimizer copies are ours.
    tf.dispose(Object.entries(checkpoint.tensors).filter(([k]) => k.startsWith('optimizer.')).map(([, t]) => t));
  }
  await writeFileAtomic(file, bytes);
  return checkpoint.state;
}

// Atomic writes live with the other file-safety helpers; re-exported here where they always were.
export { writeFileAtomic } from './files.js';

/** Reads a checkpoint file (tensors and state). Every problem is a Tag2PixError naming the file. */
export async function readCheckpoint(file: string): Promise<TrainingCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptionError(
      (name) =>
        `No checkpoint at ${quoteValue(file, 200)} (${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}); ` +
        `start without ${name('resume')} or point ${name('out')} at the run folder.`,
      { file, option: 'resume' },
    );
  }
  const corrupt = (what: string, cause?: unknown) =>
    new FileFormatError(
      `The checkpoint ${quoteValue(file, 200)} ${what}; the file is damaged. Restore a copy, or start a new run in another folder.`,
      { file, cause },
    );
  let metadata: Record<string, string>;
  try {
    metadata = readSafetensorsMetadata(bytes);
  } catch (e) {
    if (!(e instanceof Tag2PixError)) throw e;
    throw corrupt(`is not a readable safetensors file (${e.message})`, e);
  }
  if (metadata['tag2pix_checkpoint'] !== CHECKPOINT_FORMAT || metadata['state'] === undefined) {
    throw new FileFormatError(
      `${quoteValue(file, 200)} is not a tag2pix training checkpoint (format ${quoteValue(metadata['tag2pix_checkpoint'] ?? 'unknown', 60)}, ` +
        `expected ${CHECKPOINT_FORMAT}).`,
      { file },
    );
  }
  let state: unknown;
  try {
    state = JSON.parse(metadata['state']);
  } catch (e) {
    throw corrupt(`holds a training state that is not valid JSON (${(e as Error).message})`, e);
  }
  const problem = stateProblem(state);
  if (problem) throw corrupt(`holds an incomplete training state: ${problem}`);
  let tensors: Record<string, tf.Tensor>;
  try {
    tensors = readSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof Tag2PixError)) throw e;
    throw corrupt(`cannot be read (${e.message})`, e);
  }
  return { state: state as TrainingCheckpointState, tensors };
}

/** What is wrong with a checkpoint's state, or undefined when it has every field resuming needs. */
function stateProblem(state: unknown): string | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(state)) return 'it is not an object';
  for (const k of ['epoch', 'step', 'globalStep', 'seed'] as const) {
    if (!Number.isSafeInteger(state[k]) || (state[k] as number) < 0) return `'${k}' is ${quoteValue(JSON.stringify(state[k]) ?? 'missing', 40)}, not an integer >= 0`;
  }
  if (!isObject(state['config'])) return "'config' (the run's options) is missing";
  if (!isObject(state['optimizers']) || !isObject(state['optimizers']['generator']) || !isObject(state['optimizers']['discriminator'])) {
    return "'optimizers' is missing or incomplete";
  }
  const scheduler = state['scheduler'];
  if (!isObject(scheduler)) return "'scheduler' is missing";
  for (const k of ['epoch', 'step', 'globalStep'] as const) {
    if (scheduler[k] !== state[k]) return `the scheduler's ${k} (${quoteValue(String(scheduler[k]), 20)}) differs from the state's (${String(state[k])})`;
  }
  try {
    ChangingLossScheduler.fromJSON(scheduler as unknown as ChangingLossSchedulerJSON<Tag2PixLossWeights>);
  } catch (e) {
    return `its scheduler cannot be restored (${(e as Error).message})`;
  }
  return undefined;
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
