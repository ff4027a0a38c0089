// Training checkpoint files: one safetensors file with G, D (every weight, BatchNorm statistics
// included), both optimizer states and, in its metadata, the scheduler, position, seed, data
// cursor and run configuration (see src/training/checkpoint.ts). Written atomically: a temporary
// file in the same folder, flushed, then renamed over the previous checkpoint, so a killed run
// always leaves a whole one.
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.js';
import { FileFormatError, OptionError, Tag2PixError, quoteValue } from '../errors.js';
import { ChangingLossScheduler, type ChangingLossSchedulerJSON, type Tag2PixLossWeights } from '../losses/changing_loss_scheduler.js';
import {
  CHECKPOINT_FORMAT,
  captureCheckpoint,
  releaseCheckpoint,
  type TrainingCheckpoint,
  type TrainingCheckpointState,
} from '../training/checkpoint.js';
import type { Tag2PixTrainer } from '../training/trainer.js';
import { writeFileAtomic } from './files.js';
import { readableOnHost } from './host_tensors.js';

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
  try {
    await writeCheckpoint(file, checkpoint);
  } finally {
    releaseCheckpoint(checkpoint);
  }
  return checkpoint.state;
}

/** Writes a captured checkpoint to `file` atomically (temporary file + rename). */
export async function writeCheckpoint(file: string, checkpoint: TrainingCheckpoint): Promise<void> {
  // Read asynchronously first: webgpu in Node cannot read GPU data synchronously.
  const host = await readableOnHost(checkpoint.tensors);
  let bytes: Uint8Array;
  try {
    bytes = writeSafetensors(host.tensors, {
      tag2pix_checkpoint: CHECKPOINT_FORMAT,
      state: JSON.stringify(checkpoint.state),
    });
  } finally {
    host.release();
  }
  await writeFileAtomic(file, bytes);
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
