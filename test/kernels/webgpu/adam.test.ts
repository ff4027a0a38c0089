// The Adam update on webgpu in three dispatches (src/kernels/webgpu/adam.ts) against
// TorchAdam's composition: same parameters and moments over steps with a changing learning
// rate, one compiled shader for every step, no leak.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADAM_UPDATE, hasOwnKernel } from '../../../src/kernels/own_kernels.js';
import { TorchAdam } from '../../../src/training/adam.js';
import { randomTensor } from '../../helpers/gradcheck.js';
import { dispatchesOf, relativeDiff, startWebGPUForTests, withComposites } from '../../helpers/webgpu.js';

beforeAll(startWebGPUForTests);

/** Three Adam steps (the learning rate changes before the third) from the same start. */
async function threeSteps(): Promise<{ params: tf.Tensor[]; moments: tf.Tensor[] }> {
  const variables = [randomTensor([3, 3, 4, 8], 1), randomTensor([8], 2)].map((t) => tf.variable(t));
  const params = variables.map((variable, i) => ({ key: `p${i}`, variable }));
  const adam = new TorchAdam({ learningRate: 1e-2 });
  for (let step = 0; step < 3; step++) {
    if (step === 2) adam.setLearningRate(3e-3);
    const grads = Object.fromEntries(variables.map((v, i) => [`p${i}`, randomTensor(v.shape, 10 * step + i)]));
    adam.applyGradients(params, grads);
    tf.dispose(Object.values(grads));
  }
  const state = adam.getState();
  const out = { params: variables.map((v) => v.clone()), moments: Object.values(state.tensors).map((t) => t.clone()) };
  tf.dispose(Object.values(state.tensors));
  adam.dispose();
  tf.dispose(variables);
  return out;
}

describe('Adam on webgpu', () => {
  it('is registered for webgpu only', () => {
    expect(hasOwnKernel(ADAM_UPDATE)).toBe(true);
    expect(tf.getKernel(ADAM_UPDATE, 'cpu')).toBeUndefined();
  });

  it('gives the composition\'s parameters and moments over three steps', async () => {
    const ours = await threeSteps();
    const composed = await withComposites(threeSteps);
    expect(ours.moments.length).toBe(4);
    for (const [i, p] of ours.params.entries()) expect(await relativeDiff(p, composed.params[i]!), `param ${i}`).toBeLessThan(1e-6);
    for (const [i, m] of ours.moments.entries()) expect(await relativeDiff(m, composed.moments[i]!), `moment ${i}`).toBeLessThan(1e-6);
    tf.dispose([...ours.params, ...ours.moments, ...composed.params, ...composed.moments]);
  });

  it('takes three dispatches per parameter and compiles its shaders once, whatever the step', async () => {
    const variable = tf.variable(randomTensor([64], 3));
    const params = [{ key: 'w', variable }];
    const adam = new TorchAdam();
    const g = randomTensor([64], 4);
    adam.applyGradients(params, { w: g }); // creates the moments
    const pipelines = () => Object.keys((tf.backend() as unknown as { pipelineCache: object }).pipelineCache).length;
    const compiled = pipelines();
    expect(await dispatchesOf(() => adam.applyGradients(params, { w: g }))).toBe(3);
    adam.setLearningRate(1e-5);
    adam.applyGradients(params, { w: g });
    expect(pipelines()).toBe(compiled);
    const composed = await withComposites(() => dispatchesOf(() => adam.applyGradients(params, { w: g })));
    expect(composed).toBeGreaterThanOrEqual(10);
    const before = tf.memory().numTensors;
    adam.applyGradients(params, { w: g });
    expect(tf.memory().numTensors).toBe(before);
    adam.dispose();
    tf.dispose([variable, g]);
  });
});
