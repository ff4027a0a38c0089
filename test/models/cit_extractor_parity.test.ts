import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCITExtractor } from '../../src/index.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';
import { nhwc, readReferenceFixture } from '../helpers/reference_fixture.js';

const FIXTURE_ENTRY = /^(input|output|intermediate)\./;

describe('CIT extractor parity with the reference (SEResNeXt_Half, 64 px)', () => {
  let ref: Record<string, tf.Tensor>;
  let x: tf.Tensor;
  beforeAll(() => {
    ref = readReferenceFixture('cit_extractor');
    x = nhwc(ref['input.x']);
  });
  afterAll(() => tf.dispose([...Object.values(ref ?? {}), x]));

  it('matches the eval-mode output (running statistics) within 1e-4', async () => {
    const cit = buildCITExtractor({ inputSize: 64 });
    loadTorchStateDict(cit, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    const y = cit.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 8, 8, 512]);
    expect(await maxAbsDiff(y, nhwc(ref['output.feature']))).toBeLessThan(1e-4);
  });

  it("matches the reference's batch-statistics output with batchNormMode 'batch-stats', leaving running stats alone", async () => {
    const cit = buildCITExtractor({ inputSize: 64, batchNormMode: 'batch-stats' });
    loadTorchStateDict(cit, ref, { ignore: (k) => FIXTURE_ENTRY.test(k) });
    const before = await Promise.all(cit.getWeights().map(async (w) => (await w.data()).slice()));
    const y = cit.predict(x) as tf.Tensor;
    expect(await maxAbsDiff(y, nhwc(ref['output.feature_train_bn']))).toBeLessThan(1e-4);
    // Eval and batch statistics really differ on this input.
    expect(await maxAbsDiff(nhwc(ref['output.feature']), nhwc(ref['output.feature_train_bn']))).toBeGreaterThan(1e-2);
    for (const [i, w] of cit.getWeights().entries()) expect(Array.from(await w.data())).toEqual(Array.from(before[i]!));
  });

  it('is frozen by default and trainable on request', () => {
    expect(buildCITExtractor({ inputSize: 32 }).trainableWeights.length).toBe(0);
    expect(buildCITExtractor({ inputSize: 32, trainable: true }).trainableWeights.length).toBeGreaterThan(0);
  });
});
