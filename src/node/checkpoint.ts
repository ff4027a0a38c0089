// Training checkpoint files: one safetensors file with G, D (every weight, BatchNorm statistics
// included), both optimizer states and, in its metadata, the scheduler, position, seed, data
// cursor and run configuration (see src/training/checkpoint.ts). Written atomically: a temporary
// file in the same folder, flushed, then renamed over the previous checkpoint, so a killed run
// always leaves a whole one.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors.js';
import {
  CHECKPOINT_FORMAT,
  captureCheckpoint,
  releaseCheckpoint,
  type TrainingCheckpoint,
  type TrainingCheckpointState,
} from '../training/checkpoint.js';
import type { Tag2PixTrainer } from '../training/trainer.js';
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

/** Writes `data` to `file` through a temporary file in the same folder and a rename. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}-${Date.now()}`;
  const handle = await fs.open(temporary, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fs.rm(temporary, { force: true });
    throw e;
  }
  await handle.close();
  await fs.rename(temporary, file);
}

/** Reads a checkpoint file (tensors and state). */
export async function readCheckpoint(file: string): Promise<TrainingCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch (e) {
    throw new Error(`No checkpoint at ${file} (${(e as Error).message}); start without --resume or point --out at the run folder.`);
  }
  const metadata = readSafetensorsMetadata(bytes);
  if (metadata['tag2pix_checkpoint'] !== CHECKPOINT_FORMAT || metadata['state'] === undefined) {
    throw new Error(
      `${file} is not a tag2pix training checkpoint (format ${metadata['tag2pix_checkpoint'] ?? 'unknown'}, ` +
        `expected ${CHECKPOINT_FORMAT}).`,
    );
  }
  const state = JSON.parse(metadata['state']) as TrainingCheckpointState;
  return { state, tensors: readSafetensors(bytes) };
}
