// Training in the browser with the library's loop (runTraining from 'tag2pix/training'): a tiny
// Tag2Pix on synthetic characters, each step shown, the loss curve drawn as SVG, checkpoints kept
// in memory as safetensors bytes (downloadable) and restorable into a fresh trainer.
import * as tf from '@tensorflow/tfjs-core';
import {
  ChangingLossScheduler,
  buildTag2PixDiscriminator,
  buildTag2PixGenerator,
  initializeLikeReference,
  type Tag2PixLossWeights,
} from 'tag2pix';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from 'tag2pix/io';
import { generateCharacter, synthBatch } from 'tag2pix/synth';
import {
  CHECKPOINT_FORMAT,
  Tag2PixTrainer,
  restoreTrainer,
  runLossCurveSvg,
  runTraining,
  type RunTrainingResult,
  type StepLogRecord,
  type TrainingDataSource,
} from 'tag2pix/training';
import { requestedBackend, startBackend, type BackendStart } from './backend.js';

const SIZE = 32;
const BATCH = 2;

/** A run of {@link train}, as numbers (for the page and its test). */
export interface TrainRun {
  reason: RunTrainingResult['reason'];
  steps: StepLogRecord[];
  /** The last checkpoint, as the bytes of a safetensors file. */
  checkpoint?: Uint8Array;
  /** Every weight of G and D after the run, flattened, in the models' order. */
  weights: number[];
  /** Live tensors after the run and its clean-up. */
  numTensors: number;
}

/** What the page exposes for scripts and tests (`window.tag2pixTrain`). */
export interface TrainPage {
  ready: Promise<BackendStart>;
  /**
   * Trains a fresh tiny Tag2Pix (seeded, so two calls start the same) for `epochs`, or continues
   * from `resumeFrom` (bytes of a checkpoint this page made); stops after `stopAfterEpoch`.
   */
  train(options: { epochs: number; stopAfterEpoch?: number; resumeFrom?: Uint8Array }): Promise<TrainRun>;
}

declare global {
  interface Window {
    tag2pixTrain: TrainPage;
  }
}

/** Eight synthetic characters, four batches of two per epoch; the cursor is the next batch. */
function syntheticSource(): TrainingDataSource<{ epoch: number; next: number }> {
  const samples = Array.from({ length: 8 }, (_, i) => generateCharacter(i, { size: SIZE, seed: 3 }));
  return {
    batchesPerEpoch: samples.length / BATCH,
    brightnessStage: false,
    async *epoch(epoch, options = {}) {
      for (let b = options.from?.next ?? 0; b < samples.length / BATCH; b++) {
        // A different order each epoch, the same for the same epoch.
        const order = samples.map((_, i) => (i * (2 * epoch + 3) + b) % samples.length);
        const batch = synthBatch(order.slice(b * BATCH, (b + 1) * BATCH).map((i) => samples[i]!));
        yield { ...batch, cursor: { epoch, next: b + 1 } };
      }
    },
  };
}

function buildTrainer(scheduler?: ChangingLossScheduler<Tag2PixLossWeights>): Tag2PixTrainer {
  const generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], citFeatures: false });
  const discriminator = buildTag2PixDiscriminator({ inputSize: SIZE, widthMultiplier: 0.25, stageBlocks: [1, 1, 1, 1], topBlocks: 0 });
  initializeLikeReference(generator, { seed: 1 });
  initializeLikeReference(discriminator, { seed: 2 });
  return new Tag2PixTrainer({
    generator,
    discriminator,
    generatorOptimizer: { learningRate: 2e-3 },
    discriminatorOptimizer: { learningRate: 2e-3 },
    scheduler: scheduler ?? ChangingLossScheduler.tag2pix({ warmupEpochs: 1, twoStepEpoch: 1 }),
  });
}

const progress = document.getElementById('progress')!;
const curve = document.getElementById('curve')!;
const button = document.getElementById('train') as HTMLButtonElement;
const download = document.getElementById('download') as HTMLAnchorElement;
const status = document.getElementById('backend-status')!;

async function train(options: Parameters<TrainPage['train']>[0]): Promise<Omit<TrainRun, 'numTensors'>> {
  let trainer: Tag2PixTrainer;
  let resumeCursor: unknown;
  if (options.resumeFrom) {
    const state = JSON.parse(readSafetensorsMetadata(options.resumeFrom)['state']!);
    trainer = buildTrainer(ChangingLossScheduler.fromJSON(state.scheduler));
    restoreTrainer(trainer, { state, tensors: readSafetensors(options.resumeFrom) });
    resumeCursor = state.dataCursor;
  } else {
    trainer = buildTrainer();
  }
  const records: StepLogRecord[] = [];
  let checkpoint: Uint8Array | undefined;
  try {
    const result = await runTraining({
      trainer,
      data: syntheticSource(),
      epochs: options.epochs,
      seed: 3,
      config: { page: 'train', size: SIZE },
      resumeCursor,
      stopAfterEpoch: options.stopAfterEpoch,
      onStep: (record) => {
        records.push(record);
        progress.textContent = `epoch ${record.epoch + 1} step ${record.step + 1}: G ${record.generator['total']!.toFixed(3)}`;
        curve.innerHTML = runLossCurveSvg(records);
      },
      // The tensors are borrowed: serialise them now.
      saveCheckpoint: (c) => {
        checkpoint = writeSafetensors(c.tensors, { tag2pix_checkpoint: CHECKPOINT_FORMAT, state: JSON.stringify(c.state) });
      },
    });
    const weights = [...trainer.generator.getWeights(), ...trainer.discriminator.getWeights()].flatMap((w) => Array.from(w.dataSync()));
    return { reason: result.reason, steps: result.steps, checkpoint, weights };
  } finally {
    trainer.dispose();
    trainer.generator.dispose();
    trainer.discriminator.dispose();
  }
}

const page: TrainPage = {
  ready: startBackend(requestedBackend(location.search)),
  train: async (options) => ({ ...(await train(options)), numTensors: tf.memory().numTensors }),
};
window.tag2pixTrain = page;

page.ready.then(
  (start) => {
    status.textContent = `Backend: ${start.backend}`;
    button.disabled = false;
  },
  (err: unknown) => {
    status.textContent = `No backend could start: ${(err as Error).message}`;
  },
);

button.addEventListener('click', async () => {
  button.disabled = true;
  try {
    const run = await page.train({ epochs: 2 });
    if (run.checkpoint) {
      download.href = URL.createObjectURL(new Blob([new Uint8Array(run.checkpoint)], { type: 'application/octet-stream' }));
      download.hidden = false;
    }
    progress.textContent = `done: ${run.steps.length} steps`;
  } catch (err) {
    progress.textContent = (err as Error).message;
  } finally {
    button.disabled = false;
  }
});
