// The browser-safe training loop with its sinks, no file system: what each sink is told and when,
// an in-memory checkpoint that resumes bit for bit, stopping from onEpochEnd, abort, NaN.
// (The run folder built on it: test/node/train.test.ts.)
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../src/io/safetensors.js';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import {
  CHECKPOINT_FORMAT,
  NonFiniteLossError,
  Tag2PixTrainer,
  namedWeights,
  restoreTrainer,
  runTraining,
  type TrainingBatch,
  type TrainingCheckpoint,
  type TrainingDataSource,
} from '../../src/training/index.js';
import { tinyBatch, tinyDiscriminator, tinyGenerator } from './tiny_models.js';

/** Three batches per epoch, each a function of (epoch, batch); cursor = the next batch. */
function source(poison?: { epoch: number; batch: number }): TrainingDataSource<{ epoch: number; next: number }> {
  return {
    batchesPerEpoch: 3,
    brightnessStage: false,
    async *epoch(epoch, options = {}) {
      for (let b = options.from?.next ?? 0; b < 3; b++) {
        const batch: TrainingBatch<{ epoch: number; next: number }> = { ...tinyBatch(10 * epoch + b + 1), cursor: { epoch, next: b + 1 } };
        if (poison?.epoch === epoch && poison.batch === b) {
          batch.color.dispose();
          batch.color = tf.fill(batch.color.shape, NaN) as tf.Tensor4D;
        }
        yield batch;
      }
    },
  };
}

const start = (() => {
  const G = tinyGenerator();
  const D = tinyDiscriminator();
  return Object.fromEntries([...namedWeights(G, 'G'), ...namedWeights(D, 'D')].map((p) => [p.key, p.variable.dataSync().slice()]));
})();

function trainer(scheduler = ChangingLossScheduler.tag2pix({ twoStepEpoch: 2, citWeight: 40, cvtWeight: 40 })): Tag2PixTrainer {
  const G = tinyGenerator();
  const D = tinyDiscriminator();
  for (const p of [...namedWeights(G, 'G'), ...namedWeights(D, 'D')]) p.variable.assign(tf.tensor(start[p.key]!, p.variable.shape));
  return new Tag2PixTrainer({ generator: G, discriminator: D, scheduler });
}

const weightsOf = (t: Tag2PixTrainer) =>
  [...namedWeights(t.generator, 'G'), ...namedWeights(t.discriminator, 'D')].map((p) => Array.from(p.variable.dataSync()));

/** A checkpoint kept in memory as safetensors bytes (what a browser would download). */
function toBytes(c: TrainingCheckpoint): Uint8Array {
  return writeSafetensors(c.tensors, { tag2pix_checkpoint: CHECKPOINT_FORMAT, state: JSON.stringify(c.state) });
}

const common = { epochs: 2, seed: 3, config: { where: 'memory' } };

describe('runTraining (browser-safe, sinks only)', () => {
  it('tells each sink what happened, in order, and resumes from an in-memory checkpoint bit for bit', async () => {
    const events: string[] = [];
    const straight = trainer();
    const whole = await runTraining({
      ...common,
      trainer: straight,
      data: source(),
      onEpochStart: ({ epoch, startStep, weights }) => void events.push(`start ${epoch}/${startStep} ${weights.stage}`),
      onStep: (record, result) => {
        expect(record.generator).toEqual(result.generator);
        events.push(`step ${record.globalStep}`);
      },
      saveCheckpoint: (c, reason) => void events.push(`save ${reason} ${c.state.globalStep}`),
      onEpochEnd: ({ epoch, steps }) => void events.push(`end ${epoch} (${steps.length} steps)`),
    });
    expect(whole.reason).toBe('finished');
    expect(events).toEqual([
      'start 0/0 segmentation', 'step 0', 'step 1', 'step 2', 'save epoch 3', 'end 0 (3 steps)',
      'start 1/0 colourisation', 'step 3', 'step 4', 'step 5', 'save epoch 6', 'end 1 (3 steps)',
    ]);

    // Stop after the first epoch, keep its checkpoint as bytes, restore a fresh trainer from them.
    let saved: Uint8Array | undefined;
    // Tensors an epoch leaves behind without any sink (Adam's moments), to compare against.
    const plain = trainer();
    let before = tf.memory().numTensors;
    await runTraining({ ...common, trainer: plain, data: source(), onEpochEnd: () => 'stop' });
    const moments = tf.memory().numTensors - before;
    const firstTrainer = trainer();
    before = tf.memory().numTensors;
    const first = await runTraining({
      ...common,
      trainer: firstTrainer,
      data: source(),
      checkpointEvery: 2,
      saveCheckpoint: (c) => {
        saved = toBytes(c);
      },
      onEpochEnd: () => 'stop',
    });
    expect(first.reason).toBe('stopped');
    expect(first.epochsCompleted).toBe(1);
    // Batches and the borrowed checkpoints were freed: only the optimizer moments remain.
    expect(moments).toBeGreaterThan(0);
    expect(tf.memory().numTensors - before).toBe(moments);
    const checkpoint: TrainingCheckpoint = {
      state: JSON.parse(readSafetensorsMetadata(saved!)['state']!),
      tensors: readSafetensors(saved!),
    };
    expect([checkpoint.state.epoch, checkpoint.state.step, checkpoint.state.config]).toEqual([1, 0, common.config]);
    const resumed = trainer(ChangingLossScheduler.fromJSON(checkpoint.state.scheduler));
    restoreTrainer(resumed, checkpoint);
    const second = await runTraining({ ...common, trainer: resumed, data: source() });
    expect([...first.steps, ...second.steps].map((s) => [s.globalStep, s.discriminator, s.generator])).toEqual(
      whole.steps.map((s) => [s.globalStep, s.discriminator, s.generator]),
    );
    expect(weightsOf(resumed)).toEqual(weightsOf(straight));
  });

  it('resumes mid-epoch from a step checkpoint with its data cursor', async () => {
    let saved: TrainingCheckpoint['state'] | undefined;
    let bytes: Uint8Array | undefined;
    const straight = await runTraining({ ...common, trainer: trainer(), data: source() });
    const controller = new AbortController();
    const first = await runTraining({
      ...common,
      trainer: trainer(),
      data: source(),
      signal: controller.signal,
      onStep: (r) => {
        if (r.globalStep === 4) controller.abort();
      },
      saveCheckpoint: (c, reason) => {
        expect(reason).toBe(saved ? 'abort' : 'epoch');
        saved = c.state;
        bytes = toBytes(c);
      },
    });
    expect(first.reason).toBe('aborted');
    expect([saved!.epoch, saved!.step, saved!.dataCursor]).toEqual([1, 2, { epoch: 1, next: 2 }]);
    const resumed = trainer(ChangingLossScheduler.fromJSON(saved!.scheduler));
    restoreTrainer(resumed, { state: saved!, tensors: readSafetensors(bytes!) });
    await expect(runTraining({ ...common, trainer: resumed, data: source() })).rejects.toThrow(/pass resumeCursor/);
    const second = await runTraining({ ...common, trainer: resumed, data: source(), resumeCursor: saved!.dataCursor });
    expect(second.steps.map((s) => s.globalStep)).toEqual([5]);
    expect([...first.steps, ...second.steps].map((s) => s.generator)).toEqual(straight.steps.map((s) => s.generator));
  });

  it('stops on a NaN loss saying where, without a checkpoint after it', async () => {
    const reasons: string[] = [];
    const err = await runTraining({
      ...common,
      trainer: trainer(),
      data: source({ epoch: 1, batch: 1 }),
      saveCheckpoint: (c, reason) => void reasons.push(`${reason} ${c.state.globalStep}`),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as Error).message).toMatch(/^epoch 2 step 2: The discriminator loss term "advReal" is NaN/);
    expect(reasons).toEqual(['epoch 3']);
  });
});
