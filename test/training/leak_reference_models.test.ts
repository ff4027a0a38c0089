// The leak test of the issue on the real reference networks (generator with the CIT path, the
// discriminator and the frozen CIT extractor), narrowed so 50 iterations stay short. It runs on
// wasm, where a training step of these models takes milliseconds rather than seconds.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import {
  buildCITExtractor,
  buildTag2PixDiscriminator,
  buildTag2PixGenerator,
} from '../../src/models/index.js';
import { initBackend } from '../../src/node/backend.js';
import { Tag2PixTrainer } from '../../src/training/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

const SIZE = 32;
let previous: string;

beforeAll(async () => {
  previous = tf.getBackend();
  await initBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend(previous);
});

describe('Tag2PixTrainer on the reference models', () => {
  it('keeps tf.memory().numTensors flat from iteration 3 to iteration 50 (CIT → D step → G step)', async () => {
    const narrow = { inputSize: SIZE, widthMultiplier: 0.25 };
    const trainer = new Tag2PixTrainer({
      generator: buildTag2PixGenerator({ ...narrow, decoderLayers: [1, 1, 1, 1] }),
      discriminator: buildTag2PixDiscriminator(narrow),
      citExtractor: buildCITExtractor({ inputSize: SIZE }),
      // Both stages: classification terms switch on at iteration 26 (epoch 2).
      scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 2 }),
    });
    const batch = {
      lineArt: randomTensor([2, SIZE, SIZE, 1], 1, 0, 1) as tf.Tensor4D,
      color: randomTensor([2, SIZE, SIZE, 3], 2) as tf.Tensor4D,
      cit: tf.cast(tf.oneHot([3, 7], 370), 'float32') as tf.Tensor2D,
      cvt: tf.cast(tf.oneHot([1, 5], 115), 'float32') as tf.Tensor2D,
    };
    let after3 = -1;
    let after25 = -1;
    for (let i = 1; i <= 50; i++) {
      if (i === 26) trainer.endEpoch();
      const result = await trainer.trainStep(batch);
      expect(Number.isFinite(result.generator.total)).toBe(true);
      if (i === 3) after3 = tf.memory().numTensors;
      if (i === 25) after25 = tf.memory().numTensors;
    }
    expect(after3).toBeGreaterThan(0);
    // Optimizer moments of the classification heads appear once, at the stage switch.
    expect(after25).toBe(after3);
    const after50 = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await trainer.trainStep(batch);
    expect(tf.memory().numTensors).toBe(after50);
  });
});
